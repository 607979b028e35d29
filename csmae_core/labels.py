"""BigEarthNet land-cover nomenclatures: 43 CLC level-3 classes (v1) and the 19-class nomenclature.

Index order of the 19 classes is lexicographic (as in the published CSMAE code); the 43 classes are in
CLC code order. `to_19` maps v1 names, CLC codes or 19-class names onto the 19-class nomenclature.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from csmae_core.errors import UnknownLabelError

LABELS_19: tuple[str, ...] = (
    "Agro-forestry areas",
    "Arable land",
    "Beaches, dunes, sands",
    "Broad-leaved forest",
    "Coastal wetlands",
    "Complex cultivation patterns",
    "Coniferous forest",
    "Industrial or commercial units",
    "Inland waters",
    "Inland wetlands",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Marine waters",
    "Mixed forest",
    "Moors, heathland and sclerophyllous vegetation",
    "Natural grassland and sparsely vegetated areas",
    "Pastures",
    "Permanent crops",
    "Transitional woodland, shrub",
    "Urban fabric",
)

# (CLC code, v1 43-class name, 19-class name or None when the class was dropped)
_CLC_TABLE: tuple[tuple[int, str, str | None], ...] = (
    (111, "Continuous urban fabric", "Urban fabric"),
    (112, "Discontinuous urban fabric", "Urban fabric"),
    (121, "Industrial or commercial units", "Industrial or commercial units"),
    (122, "Road and rail networks and associated land", None),
    (123, "Port areas", None),
    (124, "Airports", None),
    (131, "Mineral extraction sites", None),
    (132, "Dump sites", None),
    (133, "Construction sites", None),
    (141, "Green urban areas", None),
    (142, "Sport and leisure facilities", None),
    (211, "Non-irrigated arable land", "Arable land"),
    (212, "Permanently irrigated land", "Arable land"),
    (213, "Rice fields", "Arable land"),
    (221, "Vineyards", "Permanent crops"),
    (222, "Fruit trees and berry plantations", "Permanent crops"),
    (223, "Olive groves", "Permanent crops"),
    (231, "Pastures", "Pastures"),
    (241, "Annual crops associated with permanent crops", "Permanent crops"),
    (242, "Complex cultivation patterns", "Complex cultivation patterns"),
    (243, "Land principally occupied by agriculture, with significant areas of natural vegetation",
     "Land principally occupied by agriculture, with significant areas of natural vegetation"),
    (244, "Agro-forestry areas", "Agro-forestry areas"),
    (311, "Broad-leaved forest", "Broad-leaved forest"),
    (312, "Coniferous forest", "Coniferous forest"),
    (313, "Mixed forest", "Mixed forest"),
    (321, "Natural grassland", "Natural grassland and sparsely vegetated areas"),
    (322, "Moors and heathland", "Moors, heathland and sclerophyllous vegetation"),
    (323, "Sclerophyllous vegetation", "Moors, heathland and sclerophyllous vegetation"),
    (324, "Transitional woodland/shrub", "Transitional woodland, shrub"),
    (331, "Beaches, dunes, sands", "Beaches, dunes, sands"),
    (332, "Bare rock", None),
    (333, "Sparsely vegetated areas", "Natural grassland and sparsely vegetated areas"),
    (334, "Burnt areas", None),
    (411, "Inland marshes", "Inland wetlands"),
    (412, "Peatbogs", "Inland wetlands"),
    (421, "Salt marshes", "Coastal wetlands"),
    (422, "Salines", "Coastal wetlands"),
    (423, "Intertidal flats", None),
    (511, "Water courses", "Inland waters"),
    (512, "Water bodies", "Inland waters"),
    (521, "Coastal lagoons", "Marine waters"),
    (522, "Estuaries", "Marine waters"),
    (523, "Sea and ocean", "Marine waters"),
)
LABELS_43: tuple[str, ...] = tuple(name for _, name, _ in _CLC_TABLE)
CLC_CODES: tuple[int, ...] = tuple(code for code, _, _ in _CLC_TABLE)
MAP_43_TO_19: dict[str, str | None] = {name: new for _, name, new in _CLC_TABLE}
MAP_CLC_TO_19: dict[int, str | None] = {code: new for code, _, new in _CLC_TABLE}
_INDEX_19 = {name: i for i, name in enumerate(LABELS_19)}


def to_19(labels: Iterable[str | int]) -> list[str]:
    """Map v1 names, CLC codes or 19-class names to sorted, unique 19-class names.

    Dropped classes (e.g. "Airports") disappear, as in BigEarthNet's own conversion.
    """
    result: set[str] = set()
    for label in labels:
        if isinstance(label, (int, np.integer)):
            if int(label) not in MAP_CLC_TO_19:
                raise UnknownLabelError(f"unknown CLC code {label}; valid codes: {CLC_CODES}")
            mapped = MAP_CLC_TO_19[int(label)]
        elif label in _INDEX_19:
            mapped = label
        elif label in MAP_43_TO_19:
            mapped = MAP_43_TO_19[label]
        else:
            raise UnknownLabelError(
                f"unknown label {label!r}: not a BigEarthNet 19-class or 43-class name")
        if mapped is not None:
            result.add(mapped)
    return sorted(result, key=_INDEX_19.__getitem__)


def to_multi_hot(labels_19: Iterable[str]) -> np.ndarray:
    """(19,) float32 vector with 1 at the index of every 19-class label."""
    vector = np.zeros(len(LABELS_19), dtype=np.float32)
    for name in labels_19:
        if name not in _INDEX_19:
            raise UnknownLabelError(f"{name!r} is not one of the 19 BigEarthNet classes")
        vector[_INDEX_19[name]] = 1.0
    return vector


def from_multi_hot(vector: np.ndarray) -> list[str]:
    """Inverse of `to_multi_hot` (any value > 0.5 counts as present)."""
    vector = np.asarray(vector).reshape(-1)
    if vector.shape[0] != len(LABELS_19):
        raise ValueError(f"expected a vector of {len(LABELS_19)} entries, got {vector.shape[0]}")
    return [LABELS_19[i] for i in np.flatnonzero(vector > 0.5)]


def multi_hot_matrix(label_lists: Iterable[Iterable[str]]) -> np.ndarray:
    """(N, 19) float32 matrix of multi-hot rows."""
    rows = [to_multi_hot(labels) for labels in label_lists]
    return np.stack(rows) if rows else np.zeros((0, len(LABELS_19)), dtype=np.float32)

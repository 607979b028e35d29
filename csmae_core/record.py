"""The patch record every reader returns, and the pair of records archive readers yield."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from csmae_core.bands import BANDS, MODEL_BANDS, check_sensor
from csmae_core.geo import Footprint


@dataclass
class PatchRecord:
    """One patch of one sensor.

    bands: band name -> 2-D array at native resolution (S2 uint16 reflectance x 10000, S1 float32 dB).
    labels: 19-class names (None when unknown); labels_43: v1 43-class names when the source has them.
    notes: what the reader did to the data (conversions, windows, resampling), for the user to see.
    meta: anything else the source knows (country, season, split, snow/cloud flags, ...).
    """

    sensor: str
    bands: dict[str, np.ndarray]
    name: str
    labels: list[str] | None = None
    labels_43: list[str] | None = None
    footprint: Footprint | None = None
    acquisition: str | None = None
    notes: list[str] = field(default_factory=list)
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_sensor(self.sensor)

    def has_model_bands(self) -> bool:
        return all(name in self.bands for name in MODEL_BANDS[self.sensor])

    def summary(self) -> dict[str, Any]:
        """JSON-able description (what `python -m csmae_core inspect` prints)."""
        return {
            "sensor": self.sensor,
            "name": self.name,
            "source": self.source,
            "bands": {
                name: {
                    "shape": list(array.shape),
                    "dtype": str(array.dtype),
                    "resolution_m": BANDS[name].resolution_m if name in BANDS else None,
                }
                for name, array in self.bands.items()
            },
            "labels": self.labels,
            "labels_43": self.labels_43,
            "footprint": self.footprint.summary() if self.footprint else None,
            "acquisition": self.acquisition,
            "notes": list(self.notes),
            "meta": {k: _jsonable(v) for k, v in self.meta.items()},
        }


@dataclass
class PatchPair:
    """A co-registered S1 + S2 pair; `pair_id` is the S2 patch name."""

    s1: PatchRecord
    s2: PatchRecord

    @property
    def pair_id(self) -> str:
        return self.s2.name

    @property
    def labels(self) -> list[str] | None:
        return self.s2.labels if self.s2.labels is not None else self.s1.labels

    def record(self, sensor: str) -> PatchRecord:
        return self.s1 if check_sensor(sensor) == "s1" else self.s2


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    return value

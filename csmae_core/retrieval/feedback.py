"""Relevance feedback: a query made of examples, "more like this" (positive) and "less like this" (negative).

The query vector is the normalised mean of the positives, moved away from the normalised mean of the
negatives by a weight the user sets (Rocchio's rule on unit vectors), then normalised again:
    q = unit( unit(mean(positives)) - weight * unit(mean(negatives)) )
Examples of both sensors may be mixed only when the bundle's model puts S1 and S2 into one space.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from csmae_core.bands import SENSORS
from csmae_core.errors import InputError

DEFAULT_NEGATIVE_WEIGHT = 0.5
MAX_EXAMPLES = 50


@dataclass(frozen=True)
class Example:
    """One example of a query: its embedding, sensor, whether it is wanted, and where it came from."""

    vector: np.ndarray
    sensor: str
    positive: bool = True
    name: str = ""
    row: int | None = None  # bundle row when the example is an archive patch


def feedback_vector(examples: Sequence[Example], negative_weight: float = DEFAULT_NEGATIVE_WEIGHT,
                    cross_sensor: bool = True) -> np.ndarray:
    """The unit query vector of `examples` (at least one positive). `cross_sensor`: whether the model has
    one space for S1 and S2 (else every example must be of one sensor)."""
    check_examples(examples, negative_weight, cross_sensor)
    positives = _unit(np.mean([_unit(e.vector) for e in examples if e.positive], axis=0))
    negatives = [_unit(e.vector) for e in examples if not e.positive]
    vector = positives - negative_weight * _unit(np.mean(negatives, axis=0)) if negatives else positives
    if not np.linalg.norm(vector) > 1e-6:
        raise InputError("the positive and negative examples cancel out; remove a negative example or lower "
                         "the weight of the negatives")
    return _unit(vector).astype(np.float32)


def check_examples(examples: Sequence[Example], negative_weight: float, cross_sensor: bool) -> None:
    if not any(e.positive for e in examples):
        raise InputError("a search needs at least one positive example ('more like this')")
    if len(examples) > MAX_EXAMPLES:
        raise InputError(f"{len(examples)} examples; a query holds at most {MAX_EXAMPLES}: remove some")
    if not 0 <= negative_weight <= 1:
        raise InputError(f"the weight of negative examples must be between 0 and 1, not {negative_weight}")
    unknown = sorted({str(e.sensor) for e in examples} - set(SENSORS))
    if unknown:
        raise InputError(f"examples of unknown sensor {', '.join(unknown)}; examples are S1 or S2 patches ({SENSORS})")
    sensors = {e.sensor for e in examples}
    if len(sensors) > 1 and not cross_sensor:
        raise InputError("this model keeps S1 and S2 in separate spaces, so S1 and S2 examples cannot be mixed; "
                         "keep examples of one sensor, or pick a bundle whose model has one space")
    dims = {np.asarray(e.vector).reshape(-1).shape[0] for e in examples}
    if len(dims) > 1:
        raise InputError(f"examples have embeddings of different lengths {sorted(dims)}: they come from different "
                         "models; start a new query with this bundle")
    bad = [e.name or "an example" for e in examples if not np.isfinite(np.asarray(e.vector, dtype=np.float64)).all()]
    if bad:
        raise InputError(f"{bad[0]} has an embedding with NaN or infinite values; remove it")


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64).reshape(-1)
    norm = np.linalg.norm(vector)
    if not norm > 0:
        raise InputError("an example has an all-zero embedding; remove it")
    return vector / norm

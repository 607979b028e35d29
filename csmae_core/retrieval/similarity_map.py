"""Where else the archive looks like the query: every patch of one sensor scored against one query vector,
for the archive explorer to colour its map by (the per-cell aggregation is aggregate.grid_cells').

Exact, not through the index: the index answers "the best k", the map needs every patch's score. One
matrix-vector product over the bundle's (N, D) embedding matrix (memory-mapped; ~60 ms per sensor for
549,488 x 768 float32 here), so the colours never depend on an approximate index's recall.

Two scales:
- "cosine": the raw cosine similarity of each patch to the query;
- "standardised": (cosine - mean) / std over ALL of that sensor's patches for this query (what
  calibration.py's ScoreScale does with a sample, computed exactly here because every score is at hand):
  how exceptional a patch is for this query, in standard deviations. It is comparable across queries and
  across S1/S2, whose raw cosines sit at different levels (the modality gap).
Both are coloured from the archive's average patch for this query (the scale's low end) to its best match.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from csmae_core.bands import check_sensor
from csmae_core.errors import InputError
from csmae_core.retrieval.calibration import ScoreScale
from csmae_core.retrieval.queries import pair_embedding

SCALES = ("standardised", "cosine")
CHUNK_ROWS = 65_536  # non-float32 matrices are converted chunk by chunk (never a full float32 copy)


@dataclass(frozen=True)
class SimilarityScores:
    """One query's cosine to every patch of one sensor (row i = bundle row i) and their distribution."""

    sensor: str
    cosine: np.ndarray           # (N,) float32
    scale: ScoreScale            # mean and std of `cosine`
    own_row: int | None = None   # the query's own pair (an archive query): left out of the colour range
    elapsed_ms: float = 0.0      # how long scoring them took

    def values(self, scale: str) -> np.ndarray:
        """(N,) the scores on `scale` (SCALES): raw cosine, or standard deviations above the mean."""
        if scale == "cosine":
            return self.cosine
        if scale == "standardised":
            return self.scale.apply(self.cosine).astype(np.float32)
        raise InputError(f"unknown similarity scale {scale!r}; choose one of {', '.join(SCALES)}")

    def colour_range(self, scale: str) -> tuple[float, float]:
        """(low, high) of the colour scale on `scale`: the archive's average patch and its best match other
        than the query's own pair (which scores 1 against itself and would leave every other patch dark)."""
        others = self.cosine if self.own_row is None else np.delete(self.cosine, self.own_row)
        if len(others) == 0:
            return 0.0, 1.0
        best = float(others.max())
        low, high = (self.scale.mean, best) if scale == "cosine" else (0.0, float(self.scale.apply([best])[0]))
        return low, max(high, low + 1e-6)


def score_archive(embeddings: np.ndarray, query: np.ndarray, sensor: str, own_row: int | None = None
                  ) -> SimilarityScores:
    """embeddings (N, D) unit rows (a bundle's, memory-mapped is fine), query (D,) or (1, D) unit vector:
    the cosine of every row to the query, and its mean and std. `own_row`: the query's own pair, if any."""
    started = time.perf_counter()
    sensor = check_sensor(sensor)
    vector = np.asarray(query, dtype=np.float32).reshape(-1)
    if embeddings.ndim != 2 or embeddings.shape[1] != len(vector):
        raise InputError(f"the query has {len(vector)} dimensions but the {sensor.upper()} embeddings "
                         f"{tuple(embeddings.shape)}; the query was made by another model - search again "
                         "with the model in use")
    if not np.isfinite(vector).all():
        raise InputError("the query vector holds NaN or infinite values; search again with another query")
    cosine = matrix_vector(embeddings, vector)
    own_row = None if own_row is None or not 0 <= int(own_row) < len(cosine) else int(own_row)
    if len(cosine) == 0:
        return SimilarityScores(sensor, cosine, ScoreScale(0.0, 0.0))
    mean = float(cosine.mean(dtype=np.float64))
    std = float(np.sqrt(max(float(np.mean(np.square(cosine, dtype=np.float64))) - mean * mean, 0.0)))
    return SimilarityScores(sensor, cosine, ScoreScale(mean, std), own_row, 1000 * (time.perf_counter() - started))


def matrix_vector(embeddings: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """(N,) float32 embeddings @ vector; float32 matrices in one BLAS call, others in float32 chunks."""
    if embeddings.dtype == np.float32:
        return np.asarray(embeddings @ vector, dtype=np.float32)
    out = np.empty(len(embeddings), dtype=np.float32)
    for start in range(0, len(embeddings), CHUNK_ROWS):
        out[start:start + CHUNK_ROWS] = np.asarray(embeddings[start:start + CHUNK_ROWS], dtype=np.float32) @ vector
    return out


def colourable_sensors(bundle_sensors: tuple[str, ...], cross_sensor: bool, query_sensor: str) -> tuple[str, ...]:
    """The sensors a query's similarity can be shown for: every sensor of a bundle whose S1 and S2 share one
    space; else only the query's own sensor (a cosine across separate spaces means nothing)."""
    if cross_sensor:
        return tuple(bundle_sensors)
    return tuple(s for s in bundle_sensors if s == query_sensor)


def query_is_archive_pair(embeddings: dict[str, np.ndarray], row: int, query: np.ndarray,
                          tolerance: float = 1e-3) -> bool:
    """Whether a query vector is archive pair `row`'s own (its S1 or S2 embedding, or both as one pair
    query) in this bundle ({sensor: (N, D)}), i.e. was made by this bundle's model: a query vector from
    another model of the same width would give colours that mean nothing."""
    vector = np.asarray(query, dtype=np.float32).reshape(-1)
    stored = {s: np.asarray(e[row], dtype=np.float32) for s, e in embeddings.items() if 0 <= row < len(e)}
    if not stored:
        return False
    candidates = list(stored.values())
    if len(stored) == 2:
        candidates.append(pair_embedding(stored["s1"], stored["s2"]))
    return any(c.shape == vector.shape and float(np.max(np.abs(c - vector))) <= tolerance for c in candidates)

"""Scores of S1 and S2 targets on one scale, so that "search both sensors" merges them on comparable terms.

Why: a query's cosine to the other sensor's patches is lower across the board whenever S1 and S2 embeddings
do not share one space exactly (the modality gap: the pair cosine of the demo models ranges from 0.38 to
0.98). Merged by raw cosine, the same-sensor results then win regardless of how well they match.

How: per query and per target sensor, the query's scores are standardised against that sensor's own score
distribution for this query: calibrated = (score - mean) / std, where mean and std are those of the query's
cosine to every patch of that sensor (or, above EXACT_LIMIT patches, to a fixed seeded sample of
SAMPLE_ROWS of them). A calibrated score says how exceptional a result is among its sensor's patches, in
standard deviations; the best of each sensor compete on that. Within one sensor the order is unchanged.
Measured on the committed demo bundles by scripts/measure_merge.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from csmae_core.retrieval.faiss_index import matrix_scores

EXACT_LIMIT = 16_384  # up to this many patches the distribution is the query's scores to all of them
SAMPLE_ROWS = 8192    # above it, a fixed seeded sample (a mean and std of 8192 scores are within a few % of
                      # the full ones)
MIN_STD = 1e-6         # a query that scores every patch the same: every calibrated score is 0


@dataclass(frozen=True)
class ScoreScale:
    """The query's score distribution over one sensor's patches."""

    mean: float
    std: float

    def apply(self, scores: np.ndarray) -> np.ndarray:
        if self.std < MIN_STD:
            return np.zeros_like(np.asarray(scores, dtype=np.float64))
        return (np.asarray(scores, dtype=np.float64) - self.mean) / self.std


class ScoreCalibrator:
    """Per-query, per-sensor standardisation over a bundle's embeddings ({sensor: (N, D) unit vectors}).

    The reference patches' mean vector m and second-moment matrix M = X'X / n are computed once per sensor,
    so a query's mean and variance over them are q.m and q'Mq - (q.m)^2: one (D, D) product per search,
    whatever the number of reference patches (8192 x D scores would read 25 MB per sensor and search)."""

    def __init__(self, embeddings: dict[str, np.ndarray], sample_rows: int = SAMPLE_ROWS, seed: int = 0,
                 exact_limit: int = EXACT_LIMIT):
        self.embeddings = embeddings
        self.sample_rows, self.seed, self.exact_limit = sample_rows, seed, exact_limit
        self._moments: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}

    def reference(self, sensor: str) -> np.ndarray:
        """The patches whose scores make the distribution: all, or a fixed seeded sample."""
        vectors = self.embeddings[sensor]
        if len(vectors) <= self.exact_limit:
            return np.asarray(vectors, dtype=np.float32)
        rows = np.sort(np.random.default_rng(self.seed).choice(len(vectors), self.sample_rows, replace=False))
        return np.ascontiguousarray(vectors[rows], dtype=np.float32)

    def moments(self, sensor: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(mean vector, second-moment matrix, count) of the reference patches (cached per sensor)."""
        if sensor not in self._moments:
            reference = self.reference(sensor).astype(np.float64)
            count = len(reference)
            if count == 0:
                self._moments[sensor] = (np.zeros(reference.shape[1]), np.zeros((reference.shape[1],) * 2), 0)
            else:  # summed in float64, kept in float32: half the bytes each search reads, error ~1e-6 of a std
                self._moments[sensor] = (reference.mean(axis=0).astype(np.float32),
                                         (reference.T @ reference / count).astype(np.float32), count)
        return self._moments[sensor]

    def scale(self, vector: np.ndarray, sensor: str) -> ScoreScale:
        """vector (D,) or (1, D): the query's score mean and std over `sensor`'s reference patches."""
        mean_vector, second, count = self.moments(sensor)
        if count == 0:
            return ScoreScale(0.0, 0.0)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        mean = float(query @ mean_vector)
        variance = float(matrix_scores(second, query).astype(np.float64) @ query) - mean * mean
        return ScoreScale(mean, max(variance, 0.0) ** 0.5)

    def calibrate(self, scores: np.ndarray, vector: np.ndarray, sensor: str) -> np.ndarray:
        """Raw scores of `sensor` patches for this query -> calibrated scores (float64)."""
        return self.scale(vector, sensor).apply(scores)

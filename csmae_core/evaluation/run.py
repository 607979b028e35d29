"""Retrieval evaluation in the four directions, plus the baselines that give the numbers meaning.

Directions: s1_s1, s2_s2, s1_s2, s2_s1 (query sensor _ archive sensor). Label metrics (metrics.py) exclude
the query's own pair from its results (its own patch in uni-modal directions, its counterpart in
cross-sensor ones: that is measured by the counterpart rank instead). Counterpart ranks are computed for
cross-sensor queries whose pair is in the archive set.

Baselines: random embeddings; band statistics (per-band mean, std, 10/50/90th percentiles of the
normalised input; uni-modal only; each feature z-scored over all rows given, which in
compare.evaluate_models are every bundle row, not only the archive split); pixel correlation of
co-registered S1 VH and S2 B08 on a 12x12 pooled grid (cross-sensor only; strong because pairs are
co-registered).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from csmae_core.bands import MODEL_BANDS
from csmae_core.evaluation.metrics import (
    average_precision,
    counterpart_ranks,
    per_class_precision,
    rank_summary,
    retrieval_metrics,
)

DIRECTIONS = (("s1", "s1"), ("s2", "s2"), ("s1", "s2"), ("s2", "s1"))
POOLED_GRID = 12


def direction_name(query_sensor: str, archive_sensor: str) -> str:
    return f"{query_sensor}_{archive_sensor}"


def direction_label(direction: str) -> str:
    """How a direction is shown: "s1_s2" -> "S1→S2"."""
    return direction.replace("_", "→").upper()


def _ranked(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k archive columns per row (ties broken by column order) and which of them are real results."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    valid = np.isfinite(np.take_along_axis(scores, order, axis=1))
    return order, valid


def evaluate_direction(query_emb: np.ndarray, archive_emb: np.ndarray, labels: np.ndarray,
                       query_rows: np.ndarray, archive_rows: np.ndarray, ks: Sequence[int],
                       cross_sensor: bool) -> dict:
    """Metrics of one direction; `labels` (N, 19) multi-hot indexed by pair row."""
    scores = query_emb @ archive_emb.T
    same_pair = query_rows[:, None] == archive_rows[None, :]
    result: dict = {}
    if cross_sensor:
        has_pair = same_pair.any(1)
        counterpart = same_pair.argmax(1)
        ranks = counterpart_ranks(scores[has_pair], counterpart[has_pair])
        result.update(rank_summary(ranks))
        result["counterpart_ranks"] = ranks.tolist()
    scores = np.where(same_pair, -np.inf, scores)
    order, valid = _ranked(scores, max(ks))
    query_labels, result_labels = labels[query_rows], labels[archive_rows][order]
    for k in ks:
        metrics = retrieval_metrics(query_labels, result_labels[:, :k], valid[:, :k])
        for name, value in metrics.items():
            result.setdefault(name, {})[str(k)] = value
    top = max(ks)
    result["per_class_precision"] = per_class_precision(query_labels, result_labels[:, :top], valid[:, :top]).tolist()
    result["label_confusion"] = label_confusion(query_labels, result_labels[:, :top], valid[:, :top]).tolist()
    result["query_rows"] = query_rows.tolist()
    result["per_query_ap"] = average_precision(query_labels, result_labels[:, :top], valid[:, :top]).round(4).tolist()
    result["queries"] = int(len(query_rows))
    result["archive"] = int(len(archive_rows))
    return result


def label_confusion(query: np.ndarray, results: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(C, C) counts: [m, e] = how often a result lacked the query's label m while carrying label e
    (which labels are retrieved instead of the right ones)."""
    query, results = np.asarray(query, bool), np.asarray(results, bool) & valid[..., None]
    missing = query[:, None, :] & ~results & valid[..., None]
    extra = results & ~query[:, None, :]
    return np.einsum("qkm,qke->me", missing.astype(np.int64), extra.astype(np.int64))


def evaluate_embeddings(embeddings: dict[str, np.ndarray], labels: np.ndarray, query_rows, archive_rows,
                        ks: Sequence[int] = (10, 5), directions=DIRECTIONS) -> dict[str, dict]:
    """All requested directions for one embedding set ({"s1": (N, D), "s2": (N, D)}; None = unsupported)."""
    query_rows, archive_rows = np.asarray(query_rows), np.asarray(archive_rows)
    out = {}
    for query_sensor, archive_sensor in directions:
        q, a = embeddings.get(query_sensor), embeddings.get(archive_sensor)
        if q is None or a is None or (query_sensor != archive_sensor and q.shape[1] != a.shape[1]):
            continue
        out[direction_name(query_sensor, archive_sensor)] = evaluate_direction(
            q[query_rows], a[archive_rows], labels, query_rows, archive_rows, ks, query_sensor != archive_sensor)
    return out


# ---------------------------------------------------------------- baselines
def random_embeddings(n: int, dim: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {s: _unit(rng.standard_normal((n, dim)).astype(np.float32)) for s in ("s1", "s2")}


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def band_statistics(inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Per-band mean, std and 10/50/90th percentiles of normalised inputs; each feature z-scored over all N
    rows of `inputs` (the caller's rows: every bundle row in an evaluation, not only the archive split)."""
    out = {}
    for sensor, x in inputs.items():
        flat = x.flatten(2).float()
        quantiles = torch.quantile(flat, torch.tensor([0.1, 0.5, 0.9]), dim=2).permute(1, 2, 0).flatten(1)
        features = torch.cat([flat.mean(2), flat.std(2), quantiles], dim=1).numpy()
        features = (features - features.mean(0)) / np.maximum(features.std(0), 1e-6)
        out[sensor] = _unit(features)
    return out


def pixel_correlation(inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """S1 VH and S2 B08 pooled to a 12x12 grid, each centred per patch and L2-normalised: their dot product
    is the Pearson correlation of the two co-registered maps (no further division)."""
    out = {}
    for sensor, band in (("s1", "VH"), ("s2", "B08")):
        channel = inputs[sensor][:, MODEL_BANDS[sensor].index(band)][:, None].float()
        pooled = F.adaptive_avg_pool2d(channel, POOLED_GRID).flatten(1)
        pooled = pooled - pooled.mean(1, keepdim=True)
        out[sensor] = _unit(pooled.numpy())
    return out


BASELINES: dict[str, Callable] = {"band_statistics": band_statistics, "pixel_correlation": pixel_correlation}
BASELINE_DIRECTIONS = {"band_statistics": DIRECTIONS[:2], "pixel_correlation": DIRECTIONS[2:],
                       "random": DIRECTIONS}
BASELINE_DESCRIPTIONS = {
    "random": "random unit vectors: the floor every model must beat",
    "band_statistics": "per-band mean, std and 10/50/90th percentiles of the input (uni-modal only)",
    "pixel_correlation": "correlation of co-registered S1 VH and S2 B08 on a 12×12 grid (cross-sensor only; "
                         "strong because pairs are co-registered)",
}

"""Label-based multi-label retrieval metrics in pure NumPy (CSMAE.md section 8).

For a query q with label set Y_q and its top-k results r_1..r_k:
  prec(q, r) = |Y_q & Y_r| / |Y_r|      rec(q, r) = |Y_q & Y_r| / |Y_q|      (0 when a set is empty)
  P@k = mean over queries of mean_i prec(q, r_i); R@k likewise
  F1@k = 2 P@k R@k / (P@k + R@k) from the averaged P and R (as the published evaluation computes it);
  f1_per_query = mean over queries of each query's 2PR/(P+R)
  AP@k = sum_i P(i) rel(i) / sum_i rel(i), rel(i) = r_i shares at least one label with q,
         P(i) = share of relevant results among the first i (0 when nothing relevant is retrieved)
When the archive holds fewer than k results, a query's means run over the results it has.
Counterpart rank: 1 + number of archive items scoring at least as high as the query's own other-sensor
patch (ties count against it: a pessimistic rank).
"""
from __future__ import annotations

import numpy as np

DEFINITIONS = __doc__


def pair_precision_recall(query: np.ndarray, results: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """query (Q, C) multi-hot, results (Q, k, C) multi-hot -> prec, rec (Q, k)."""
    query = np.asarray(query, dtype=np.float64)
    results = np.asarray(results, dtype=np.float64)
    shared = np.einsum("qc,qkc->qk", query, results)
    result_sizes = results.sum(-1)
    query_sizes = query.sum(-1)[:, None]
    precision = np.divide(shared, result_sizes, out=np.zeros_like(shared), where=result_sizes > 0)
    recall = np.divide(shared, np.broadcast_to(query_sizes, shared.shape), out=np.zeros_like(shared),
                       where=np.broadcast_to(query_sizes, shared.shape) > 0)
    return precision, recall


def _masked_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    counts = valid.sum(-1)
    return np.divide((values * valid).sum(-1), counts, out=np.zeros(values.shape[0]), where=counts > 0)


def average_precision(query: np.ndarray, results: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """(Q,) AP@k with relevance = at least one shared label."""
    valid = np.ones(results.shape[:2], dtype=bool) if valid is None else valid
    relevant = (np.einsum("qc,qkc->qk", np.asarray(query, float), np.asarray(results, float)) > 0) & valid
    hits = np.cumsum(relevant, axis=1)
    precision_at_i = hits / np.arange(1, relevant.shape[1] + 1)
    total = relevant.sum(1)
    return np.divide((precision_at_i * relevant).sum(1), total, out=np.zeros(len(total)), where=total > 0)


def retrieval_metrics(query: np.ndarray, results: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
    """P@k, R@k, F1@k (published), mean per-query F1 and mAP@k for one k (k = results.shape[1])."""
    if len(query) == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "f1_per_query": 0.0, "map": 0.0}
    valid = np.ones(results.shape[:2], dtype=bool) if valid is None else np.asarray(valid, bool)
    precision, recall = pair_precision_recall(query, results)
    p_query, r_query = _masked_mean(precision, valid), _masked_mean(recall, valid)
    p, r = float(p_query.mean()), float(r_query.mean())
    f1_query = np.divide(2 * p_query * r_query, p_query + r_query, out=np.zeros_like(p_query),
                         where=(p_query + r_query) > 0)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r > 0 else 0.0,
            "f1_per_query": float(f1_query.mean()), "map": float(average_precision(query, results, valid).mean())}


def counterpart_ranks(scores: np.ndarray, counterpart: np.ndarray) -> np.ndarray:
    """scores (Q, N) similarity of each query to each archive item; counterpart (Q,) archive index of the
    query's own other-sensor patch -> (Q,) 1-based pessimistic ranks: every item scoring at least as high
    as the counterpart is ranked before it (a tie counts against the query: a model that gives everything
    the same score gets rank N, not 1). The one rule of the project: the app's SearchEngine.counterpart_rank
    calls this function too."""
    scores = np.asarray(scores)
    own = scores[np.arange(len(scores)), counterpart][:, None]
    return (scores >= own).sum(1)


def rank_summary(ranks: np.ndarray) -> dict[str, float]:
    ranks = np.asarray(ranks, dtype=np.float64)
    if len(ranks) == 0:  # no query has its counterpart in the archive (e.g. validation vs test)
        return {"counterpart_mrr": None, "counterpart_at_1": None, "counterpart_median_rank": None}
    return {"counterpart_mrr": float((1 / ranks).mean()), "counterpart_at_1": float((ranks == 1).mean()),
            "counterpart_median_rank": float(np.median(ranks))}


def per_class_precision(query: np.ndarray, results: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """(C,) for each class c: among queries labelled c, the share of their results labelled c (NaN when no
    query has c)."""
    valid = np.ones(results.shape[:2], dtype=bool) if valid is None else valid
    query, results = np.asarray(query, bool), np.asarray(results, bool)
    out = np.full(query.shape[1], np.nan)
    for c in range(query.shape[1]):
        rows = query[:, c]
        if rows.any():
            out[c] = (results[rows, :, c] & valid[rows]).sum() / max(1, valid[rows].sum())
    return out

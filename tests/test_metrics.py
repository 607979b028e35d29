import numpy as np
import pytest

from csmae_core.evaluation.metrics import (
    average_precision,
    counterpart_ranks,
    pair_precision_recall,
    per_class_precision,
    rank_summary,
    retrieval_metrics,
)


def hot(*sets, classes=4):
    out = np.zeros((len(sets), classes))
    for i, labels in enumerate(sets):
        out[i, list(labels)] = 1
    return out


def test_precision_recall_by_hand():
    query = hot({0, 1})
    results = hot({0}, {0, 2}, {3})[None]
    precision, recall = pair_precision_recall(query, results)
    np.testing.assert_allclose(precision, [[1.0, 0.5, 0.0]])
    np.testing.assert_allclose(recall, [[0.5, 0.5, 0.0]])
    metrics = retrieval_metrics(query, results)
    assert metrics["precision"] == pytest.approx(0.5)
    assert metrics["recall"] == pytest.approx(1 / 3)
    assert metrics["f1"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    # AP@3: relevant at ranks 1 and 2 -> (1/1 + 2/2) / 2
    assert metrics["map"] == pytest.approx(1.0)


def test_average_precision_with_a_gap():
    query = hot({0})
    results = hot({1}, {0}, {2}, {0})[None]
    # relevant at 2 and 4: (1/2 + 2/4) / 2
    assert average_precision(query, results)[0] == pytest.approx(0.5)


def test_no_relevant_result_gives_zero():
    metrics = retrieval_metrics(hot({0}), hot({1}, {2})[None])
    assert metrics == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "f1_per_query": 0.0, "map": 0.0}


def test_published_f1_differs_from_per_query_f1():
    query = hot({0}, {0, 1, 2, 3})
    results = np.stack([hot({0}), hot({0})])
    metrics = retrieval_metrics(query, results)
    p, r = (1 + 1) / 2, (1 + 0.25) / 2
    assert metrics["f1"] == pytest.approx(2 * p * r / (p + r))
    assert metrics["f1_per_query"] == pytest.approx((1.0 + 2 * 0.25 / 1.25) / 2)


def test_k_larger_than_archive_uses_only_returned_results():
    query = hot({0})
    results = np.concatenate([hot({0}, {1}), np.zeros((3, 4))])[None]
    valid = np.array([[True, True, False, False, False]])
    metrics = retrieval_metrics(query, results, valid)
    assert metrics["precision"] == pytest.approx(0.5)
    assert metrics["map"] == pytest.approx(1.0)


def test_empty_query_labels_and_empty_query_set():
    metrics = retrieval_metrics(hot(set()), hot({0})[None])
    assert metrics["recall"] == 0.0 and metrics["precision"] == 0.0
    assert retrieval_metrics(np.zeros((0, 4)), np.zeros((0, 3, 4)))["map"] == 0.0


def test_counterpart_ranks_count_ties_against():
    scores = np.array([[0.9, 0.5, 0.9], [0.1, 0.8, 0.3]])
    ranks = counterpart_ranks(scores, np.array([0, 1]))
    assert ranks.tolist() == [2, 1]
    summary = rank_summary(ranks)
    assert summary["counterpart_mrr"] == pytest.approx(0.75) and summary["counterpart_at_1"] == 0.5
    assert rank_summary(np.array([]))["counterpart_mrr"] is None


def test_per_class_precision():
    query = hot({0}, {0, 1})
    results = np.stack([hot({0}, {1}), hot({1}, {1})])
    values = per_class_precision(query, results)
    assert values[0] == pytest.approx(1 / 4) and values[1] == pytest.approx(1.0) and np.isnan(values[2])

"""Relevance feedback: the query vector of positive and negative examples, its refusals, and searches with it
on the real demo bundle."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from csmae_core.errors import InputError
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.feedback import Example, feedback_vector
from csmae_core.retrieval.queries import archive_query
from csmae_core.retrieval.search import Filters, Query, SearchEngine

DEMO = Path(__file__).resolve().parents[1] / "assets" / "bundles" / "demo"


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def test_one_positive_is_the_query_itself():
    vector = np.array([3.0, 4.0, 0.0])
    np.testing.assert_allclose(feedback_vector([Example(vector, "s2")]), [0.6, 0.8, 0.0], atol=1e-6)


def test_positives_average_and_negatives_push_away():
    a, b, bad = unit([1, 0.2, 0]), unit([1, -0.2, 0.1]), unit([0.6, 0.8, 0])
    plain = feedback_vector([Example(a, "s2"), Example(b, "s2")])
    np.testing.assert_allclose(plain, unit(unit(a) + unit(b)), atol=1e-6)
    pushed = feedback_vector([Example(a, "s2"), Example(b, "s2"), Example(bad, "s2", positive=False)], 0.5)
    assert pushed @ bad < plain @ bad
    np.testing.assert_allclose(pushed, unit(plain - 0.5 * bad), atol=1e-6)
    assert abs(np.linalg.norm(pushed) - 1) < 1e-6
    # weight 0: negatives are recorded but do not move the query
    np.testing.assert_allclose(feedback_vector([Example(a, "s2"), Example(bad, "s2", False)], 0.0), a, atol=1e-6)


@pytest.mark.parametrize("examples, kwargs, message", [
    ([Example(np.ones(3), "s2", positive=False)], {}, "at least one positive"),
    ([Example(np.ones(3), "s1"), Example(np.ones(3), "s2")], {"cross_sensor": False}, "separate spaces"),
    ([Example(np.ones(3), "s2"), Example(np.ones(4), "s2")], {}, "different lengths"),
    ([Example(np.zeros(3), "s2")], {}, "all-zero embedding"),
    ([Example(np.array([1.0, np.nan, 0.0]), "s2", name="B")], {}, "B has an embedding with NaN"),
    ([Example(np.ones(3), "s2")], {"negative_weight": 1.5}, "between 0 and 1"),
    ([Example(np.ones(3), "s2"), Example(np.ones(3), "s2", False)], {"negative_weight": 1.0}, "cancel out"),
    ([Example(np.ones(3), "s3")], {}, "s3"),
    ([Example(np.ones(3), "s2")] * 51, {}, "at most 50"),
])
def test_meaningless_examples_are_refused(examples, kwargs, message):
    with pytest.raises(InputError) as error:
        feedback_vector(examples, **kwargs)
    assert message in str(error.value)


def test_mixed_sensors_are_allowed_in_one_space():
    vector = feedback_vector([Example(unit([1, 0]), "s1"), Example(unit([0, 1]), "s2")], cross_sensor=True)
    np.testing.assert_allclose(vector, unit([1, 1]), atol=1e-6)


def test_feedback_queries_on_the_demo_bundle():
    bundle = Bundle(DEMO)
    engine = SearchEngine(bundle)
    query = archive_query(bundle, 5, "s2")
    plain = engine.search(query, ["s2"], 10, Filters(), counterpart=False)
    single = Query(feedback_vector([Example(query.embedding, "s2")]), "s2", query.labels, query.lonlat, 5)
    same = engine.search(single, ["s2"], 10, Filters(), counterpart=False)
    assert [r.row for r in same.results] == [r.row for r in plain.results]
    # "less like this" on the best result pushes it down the list
    top = plain.results[0]
    negative = Example(bundle.embeddings["s2"][top.row], "s2", positive=False, row=top.row)
    moved = Query(feedback_vector([Example(query.embedding, "s2"), negative], 0.5), "s2", query.labels,
                  query.lonlat, 5)
    rows = [r.row for r in engine.search(moved, ["s2"], 10, Filters(), counterpart=False).results]
    assert top.row not in rows[:1]
    # an S1 example and the S2 query together (the demo model has one space) still find S2 patches
    mixed = feedback_vector([Example(query.embedding, "s2"), Example(bundle.embeddings["s1"][5], "s1")],
                            cross_sensor=bundle.cross_sensor)
    assert engine.search(Query(mixed, "s2", query.labels, None, 5), ["s2"], 5, Filters(), counterpart=False).results

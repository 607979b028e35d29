"""Pair queries: both sensors of one place searched together (the normalised mean of their embeddings),
through the existing Query / SearchEngine, on the real demo bundle."""
from __future__ import annotations

import numpy as np

from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.queries import archive_pair_query, archive_query, pair_embedding
from csmae_core.retrieval.search import Filters, SearchEngine


def test_pair_embedding_is_the_normalised_mean():
    a, b = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    np.testing.assert_allclose(pair_embedding(a, b), np.array([1, 1, 0, 0]) / np.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(pair_embedding(a, a), a)


def test_archive_pair_query_searches_both_sensors_and_finds_its_own_pair():
    bundle = Bundle("assets/bundles/demo")
    engine = SearchEngine(bundle)
    query = archive_pair_query(bundle, 3)
    s1, s2 = archive_query(bundle, 3, "s1"), archive_query(bundle, 3, "s2")
    assert query.name.endswith("(S1+S2)") and query.labels == s2.labels and query.pair_row == 3
    assert abs(float(np.linalg.norm(query.embedding)) - 1) < 1e-5
    assert float(query.embedding @ s1.embedding) > 0 and float(query.embedding @ s2.embedding) > 0
    response = engine.search(query, ("s1", "s2"), k=5, counterpart=False)
    assert len(response.results) == 5 and response.counterpart_rank is None
    assert s2.name not in [r.pair_id for r in response.results]  # own pair excluded by default
    response = engine.search(query, ("s1", "s2"), k=2, filters=Filters(exclude_query_pair=False), counterpart=False)
    assert [r.pair_id for r in response.results] == [s2.name, s2.name]

"""Index bundles, search with filters and label comparison, evaluation script, on the real demo archive."""
import json
import shutil

import numpy as np
import pytest

from csmae_core.errors import BundleError
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.faiss_index import build_index as build_faiss_index
from csmae_core.retrieval.faiss_index import choose_spec, exact_rerank, recall_at_k, row_scores
from csmae_core.retrieval.search import Filters, Query, SearchEngine, compare_labels
from scripts import build_index, evaluate
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from scripts import train

    out = tmp_path_factory.mktemp("model")
    assert train.main(["--config", str(ROOT / "configs/demo.yaml"), "--out", str(out / "run"), "--max-steps", "3",
                       "--split", "all", "--export", str(out / "m.pt"), "--set", "model.shared_depth=1",
                       "--set", "model.specific_depth=1", "--accelerator", "cpu", "--devices", "1"]) == 0
    return out / "m.pt"


@pytest.fixture(scope="module")
def bundle_path(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles") / "demo"
    assert build_index.main(["--model", str(tiny_model), "--out", str(out), "--accelerator", "cpu", "--devices", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def engine(bundle_path):
    return SearchEngine(Bundle(bundle_path))


def query_of(engine, row, sensor="s1", **kwargs):
    table = engine.bundle.table
    return Query(engine.bundle.embeddings[sensor][row], sensor, labels=table.at[row, "labels"],
                 lonlat=(table.at[row, "lon"], table.at[row, "lat"]), pair_row=row, **kwargs)


def test_bundle_round_trip(bundle_path, tiny_model):
    import csmae_core

    encoder = csmae_core.load_model(tiny_model, "cpu")
    bundle = Bundle(bundle_path, expected_model_hash=encoder.content_hash)
    assert len(bundle.table) == 60 and bundle.embeddings["s1"].shape == (60, 192)
    assert bundle.manifest["counts"] == {"pairs": 60, "sensors": ["s1", "s2"]}
    assert bundle.manifest["index"]["spec"]["kind"] == "flat"
    assert np.allclose(np.linalg.norm(bundle.embeddings["s2"], axis=1), 1, atol=1e-5)
    # the bundle's embeddings are the model's embeddings of the archive
    from csmae_core.io.packed import PackedArchive

    pair = PackedArchive(ROOT / "assets/demo")[7]
    direct = encoder.embed_records([pair.s2], "s2")[0]
    assert np.allclose(direct, bundle.embeddings["s2"][7], atol=1e-5)


def test_bundle_of_another_model_is_refused(bundle_path):
    with pytest.raises(BundleError, match="was built with model .* but the model in use is 000000000000"):
        Bundle(bundle_path, expected_model_hash="0" * 64)


def test_corrupt_bundle_file_is_detected(bundle_path, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle_path, copy)
    data = bytearray((copy / "embeddings_s1.npy").read_bytes())
    data[-5] ^= 0xFF
    (copy / "embeddings_s1.npy").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="does not match its manifest checksum"):
        Bundle(copy)
    (copy / "manifest.json").write_text("{")
    with pytest.raises(BundleError, match="not valid JSON"):
        Bundle(copy)


def test_interrupted_build_leaves_the_previous_bundle(bundle_path, tiny_model, tmp_path, monkeypatch):
    target = tmp_path / "bundle"
    shutil.copytree(bundle_path, target)
    before = (target / "manifest.json").read_text()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("csmae_core.retrieval.indexing.write_indexes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_index.main(["--model", str(tiny_model), "--out", str(target), "--accelerator", "cpu", "--devices", "1"])
    assert (target / "manifest.json").read_text() == before
    assert Bundle(target).manifest["model"]["content_hash"]
    assert not list(tmp_path.glob(".bundle.partial-*"))
    fresh = tmp_path / "never"
    with pytest.raises(KeyboardInterrupt):
        build_index.main(["--model", str(tiny_model), "--out", str(fresh), "--accelerator", "cpu", "--devices", "1"])
    assert not fresh.exists()


def test_search_returns_ranked_results_with_label_comparison(engine):
    response = engine.search(query_of(engine, 5), k=7)
    assert [r.rank for r in response.results] == list(range(1, 8))
    scores = [r.score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    assert {r.sensor for r in response.results} <= {"s1", "s2"}
    assert all(r.row != 5 for r in response.results)  # own pair excluded by default
    first = response.results[0]
    assert set(first.shared) | set(first.extra) == set(first.labels)
    assert response.metrics["k"] == 7 and 0 <= response.metrics["AP@k"] <= 1
    assert 1 <= response.counterpart_rank <= 60
    assert all(r.distance_km is not None for r in response.results)


def test_counterpart_rank_matches_a_full_ranking(engine):
    q = query_of(engine, 11, "s2")
    scores = engine.bundle.embeddings["s1"] @ q.embedding
    expected = int((scores > scores[11]).sum()) + 1
    assert engine.search(q, k=3).counterpart_rank == expected


def test_filters(engine):
    q = query_of(engine, 0)
    for filters, check in [
        (Filters(splits=frozenset({"test"})), lambda r: engine.bundle.table.at[r.row, "split"] == "test"),
        (Filters(countries=frozenset({"Portugal"})), lambda r: engine.bundle.table.at[r.row, "country"] == "Portugal"),
        (Filters(seasons=frozenset({"Winter"})), lambda r: engine.bundle.table.at[r.row, "season"] == "Winter"),
        (Filters(exclude_snow=True), lambda r: not engine.bundle.table.at[r.row, "contains_seasonal_snow"]),
        (Filters(exclude_cloud=True), lambda r: not engine.bundle.table.at[r.row, "contains_cloud_or_shadow"]),
        (Filters(min_distance_km=100), lambda r: r.distance_km >= 100),
    ]:
        results = engine.search(q, k=60, filters=filters).results
        assert results and all(check(r) for r in results), filters
    own = engine.search(q, k=120, filters=Filters(exclude_query_pair=False)).results
    assert any(r.row == 0 for r in own) and len(own) == 120
    assert engine.search(q, targets=["s2"], k=5).results[0].sensor == "s2"
    nothing = engine.search(q, k=5, filters=Filters(countries=frozenset({"Atlantis"})))
    assert nothing.results == [] and nothing.metrics is None


def test_each_search_runs_faiss_single_threaded_in_its_own_thread(engine):
    """OpenMP keeps the thread count per calling thread and a server searches from a new thread per request:
    the engine applies its setting on every search, not only where it was built."""
    import threading

    import faiss

    seen = []

    def request():
        faiss.omp_set_num_threads(2)  # what a fresh thread would otherwise use on this machine
        engine.search(query_of(engine, 0), ("s1",), 5)
        seen.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=request)
    worker.start()
    worker.join()
    assert seen == [1]


def test_compare_labels_by_hand():
    comparison = compare_labels(["Arable land", "Pastures"], ["Pastures", "Urban fabric", "Mixed forest"])
    assert comparison["shared"] == ["Pastures"] and comparison["missing"] == ["Arable land"]
    assert comparison["extra"] == ["Mixed forest", "Urban fabric"]
    assert comparison["precision"] == pytest.approx(1 / 3) and comparison["recall"] == pytest.approx(0.5)
    assert comparison["f1"] == pytest.approx(0.4)


def test_query_without_labels_or_location(engine):
    q = Query(engine.bundle.embeddings["s1"][3], "s1")
    response = engine.search(q, k=4)
    assert response.metrics is None and response.counterpart_rank is None
    assert all(r.precision is None and r.distance_km is None for r in response.results)
    with pytest.raises(ValueError, match="query embedding has 5 dimensions"):
        engine.search(Query(np.ones(5, np.float32), "s1"))


@pytest.mark.parametrize("kind", ["hnsw", "ivfsq8", "ivfpq", "ivfpq_sq8", "ivfrabitq", "ivfrabitq4"])
def test_approximate_indexes_and_recall(kind):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 32))
    vectors = centres[rng.integers(0, 20, 3000)] + 0.3 * rng.standard_normal((3000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    spec = choose_spec(kind, len(vectors), 32)
    index = build_faiss_index(vectors, spec)
    recall = recall_at_k(index, vectors, vectors[:200], 10, spec)
    assert 0.3 < recall <= 1.0
    assert choose_spec("auto", 10, 32).kind == "flat" and choose_spec("auto", 300_000, 768).kind == "ivfrabitq"
    with pytest.raises(ValueError, match="choose auto or one of"):
        choose_spec("lsh", 10, 32)


def test_evaluate_script_writes_all_outputs(bundle_path, tiny_model, tmp_path, capsys):
    out = tmp_path / "eval"
    assert evaluate.main(["--bundle", str(bundle_path), "--model", str(tiny_model), "--queries", "validation,test",
                          "--archive-split", "validation,test", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"definitions", "command", "s1_s1", "s2_s2", "s1_s2", "s2_s1", "baselines", "models"} <= set(metrics)
    for direction in ("s1_s2", "s2_s1"):
        assert {"counterpart_mrr", "counterpart_at_1"} <= set(metrics[direction])
    assert set(metrics["s1_s1"]["precision"]) == {"10", "5"}
    assert set(metrics["baselines"]) == {"random", "band_statistics", "pixel_correlation"}
    assert set(metrics["baselines"]["pixel_correlation"]) == {"s1_s2", "s2_s1"}
    assert metrics["protocol"]["query_count"] == 36
    # the same model twice (bundle and --model) gives the same numbers
    models = list(metrics["models"].values())
    assert models[0]["directions"]["s1_s2"]["counterpart_mrr"] == pytest.approx(
        models[1]["directions"]["s1_s2"]["counterpart_mrr"], abs=1e-6)
    for name in ("metrics.csv", "precision_at_k.png", "counterpart_ranks.png", "per_class_precision.png"):
        assert (out / name).stat().st_size > 0
    assert "pixel_correlation" in capsys.readouterr().out
    assert evaluate.main(["--bundle", str(bundle_path), "--queries", "nope", "--out", str(out)]) == 2


def test_bundle_accessors_read_the_manifest(bundle_path):
    bundle = Bundle(bundle_path)
    manifest = bundle.manifest
    assert bundle.name == manifest["name"] == "demo" and bundle.created == manifest["created"]
    assert bundle.precision == "fp32" and bundle.recall_at_10 == {"s1": None, "s2": None}  # exact index
    assert bundle.archive_source["path"].endswith("demo") and bundle.archive_source["source"]
    assert bundle.model_card["data"]["pairs"] == 60 and "pair_ids" not in bundle.model_card["data"]
    assert bundle.transpose_input is False


def clustered_vectors(count=4000, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dim))
    vectors = centres[rng.integers(0, 20, count)] + 0.3 * rng.standard_normal((count, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("kind", ["ivfrabitq", "ivfrabitq4"])
def test_reranked_kinds_return_exact_scores_in_order(kind):
    """RaBitQ candidates are re-scored from the float32 vectors: the scores are the exact inner products,
    best first, and the re-rank finds what the quantised codes alone miss."""
    from csmae_core.retrieval.faiss_index import IndexSpec, search_top

    vectors = clustered_vectors()
    spec = IndexSpec(kind=kind, nlist=16, nprobe=16, rerank=20)
    index = build_faiss_index(vectors, spec)
    scores, rows = search_top(index, spec, vectors, vectors[5][None], 10)
    assert np.allclose(scores, vectors[rows] @ vectors[5], atol=1e-6) and list(scores) == sorted(scores, reverse=True)
    assert rows[0] == 5
    exact_recall = recall_at_k(index, vectors, vectors[:200], 10, spec)
    codes_only = recall_at_k(index, vectors, vectors[:200], 10, IndexSpec(kind=kind, rerank=0))
    assert exact_recall >= 0.99 and exact_recall > codes_only


def test_shared_training_gives_both_sensors_one_quantizer():
    from csmae_core.retrieval.faiss_index import IndexSpec, build_indexes

    vectors = {"s1": clustered_vectors(seed=1), "s2": clustered_vectors(seed=2)}
    spec = IndexSpec(kind="ivfsq8", nlist=16, nprobe=4)
    indexes = build_indexes(vectors, spec, shared_space=True)
    import faiss

    centroids = [faiss.rev_swig_ptr(faiss.downcast_index(faiss.extract_index_ivf(i).quantizer).get_xb(), 16 * 32)
                 for i in indexes.values()]
    assert np.array_equal(*centroids) and all(i.ntotal == 4000 for i in indexes.values())
    separate = build_indexes(vectors, spec, shared_space=False)
    assert all(i.ntotal == 4000 for i in separate.values())


def test_filtered_ivf_search_visits_the_lists_that_hold_admitted_rows():
    """A filter whose rows sit far from the query (one cluster of the space) leaves none of them in the lists
    an unfiltered query visits: the lists are then visited nearest first until they hold enough admitted
    rows, so the filtered top-k equals the exact filtered top-k."""
    from csmae_core.retrieval.faiss_index import IndexSpec, search_parameters, search_top
    from csmae_core.retrieval.filtering import ListCoverage, Selection

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 32))
    cluster = rng.integers(0, 20, 4000)
    vectors = centres[cluster] + 0.3 * rng.standard_normal((4000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    spec = IndexSpec(kind="ivfrabitq4", nlist=64, nprobe=2, rerank=10)
    index = build_faiss_index(vectors, spec)
    query = vectors[np.flatnonzero(cluster == 0)[0]][None]
    allowed = cluster == 1  # another cluster than the query's
    selection = Selection.of(allowed, len(vectors))
    coverage = ListCoverage(index)
    assert (coverage.list_of_row >= 0).all() and coverage.admitted_per_list(allowed).sum() == allowed.sum()
    truth = np.flatnonzero(allowed)[np.argsort(-(vectors[allowed] @ query[0]))[:10]]
    _, narrow = search_top(index, spec, vectors, query, 10, search_parameters(spec, selection.selector(4000)))
    assert len(set(narrow) & set(truth)) < 10  # the query's own lists hold (almost) none of them
    nprobe = coverage.probes(query, coverage.admitted_per_list(allowed), 100, spec.nprobe)
    _, rows = search_top(index, spec, vectors, query, 10, search_parameters(spec, selection.selector(4000), nprobe))
    assert nprobe < 64 and allowed[rows].all() and set(rows) == set(truth)


def test_search_engine_answers_small_and_far_filters_completely(engine):
    """Through the engine: a filter admitting a few rows is answered exactly (all of them ranked)."""
    table = engine.bundle.table
    country = table["country"].value_counts().index[-1]
    response = engine.search(Query(engine.bundle.embeddings["s1"][0], "s1"), ["s2"], 50,
                             Filters(countries=frozenset({country})))
    assert len(response.results) == (table["country"] == country).sum()
    assert all(r.row in set(np.flatnonzero(table["country"] == country)) for r in response.results)


def test_counterpart_rank_reuses_the_other_sensors_candidates(tmp_path, monkeypatch):
    """Large archives rank the counterpart from an index search; when the other sensor was just searched, its
    re-ranked candidates give that rank without a third search, and it equals the full exact ranking."""
    import pandas as pd

    import csmae_core.retrieval.search as search_module
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.faiss_index import IndexSpec
    from csmae_core.retrieval.synthetic import synthetic_embeddings, write_synthetic_bundle

    demo = Bundle(ROOT / "assets" / "bundles" / "demo").table
    table = pd.concat([demo] * 50, ignore_index=True)
    table["pair_id"] = [f"{p}_{i}" for i, p in enumerate(table["pair_id"])]
    table["s1_name"] = [f"{p}_{i}" for i, p in enumerate(table["s1_name"])]
    vectors = synthetic_embeddings(table, 32, seed=3)
    path, _ = write_synthetic_bundle(tmp_path / "b", table, vectors, IndexSpec(kind="ivfrabitq", nlist=32,
                                                                                 nprobe=32, rerank=60))
    engine = SearchEngine(Bundle(path, verify=False))
    monkeypatch.setattr(search_module, "EXACT_RANK_LIMIT", 0)  # rank through the index, as above 200k pairs
    calls = []
    original = search_module.search_top
    monkeypatch.setattr(search_module, "search_top", lambda *a, **k: calls.append(a[4]) or original(*a, **k))
    checked = 0
    for row in range(0, 3000, 150):
        query = Query(vectors["s2"][row], "s2", pair_row=row)
        both = engine.search(query, ["s1", "s2"], 10)
        alone = engine.counterpart_rank(query)  # its own search of depth RANK_DEPTH
        scores = vectors["s1"] @ vectors["s2"][row]
        exact = int((scores >= scores[row]).sum())
        assert (both.counterpart_rank, both.counterpart_rank_bounded) == alone
        if exact <= search_module.RANK_DEPTH:
            assert both.counterpart_rank == exact
            checked += 1
    assert checked >= 10 and calls.count(search_module.RANK_DEPTH) == 20  # only the separate calls searched


# ---------------------------------------------------------------- hundreds of results (k up to 1,000)
def test_k_1000_on_the_demo_bundle_is_capped_by_the_archive():
    """k = 1,000 over the 60-pair demo: every other patch, each once, ranked; both sensors merged by the
    calibrated score (so in its order), one sensor alone by the raw score."""
    engine = SearchEngine(Bundle(ROOT / "assets" / "bundles" / "demo"))
    query = query_of(engine, 7, "s1")
    both = engine.search(query, ["s1", "s2"], 1000)
    assert len(both.results) == 2 * (engine.count - 1) == 118
    assert [r.rank for r in both.results] == list(range(1, 119))
    assert len({(r.row, r.sensor) for r in both.results}) == 118 and 7 not in {r.row for r in both.results}
    calibrated = [r.calibrated_score for r in both.results]
    assert calibrated == sorted(calibrated, reverse=True)
    assert both.metrics["k"] == 118 and both.counterpart_rank is not None
    alone = engine.search(query, ["s2"], 1000)
    scores = [r.score for r in alone.results]
    assert len(scores) == 59 and scores == sorted(scores, reverse=True)
    exact = engine.bundle.embeddings["s2"] @ query.embedding
    assert np.allclose(scores, np.sort(np.delete(exact, 7))[::-1], atol=1e-5)


@pytest.fixture(scope="module")
def large_synthetic_engine(tmp_path_factory):
    """1,500 pairs (the demo's real metadata repeated) with synthetic vectors in an IVF-RaBitQ bundle."""
    import pandas as pd

    from csmae_core.retrieval.faiss_index import IndexSpec
    from csmae_core.retrieval.synthetic import synthetic_embeddings, write_synthetic_bundle

    demo = Bundle(ROOT / "assets" / "bundles" / "demo").table
    table = pd.concat([demo] * 25, ignore_index=True)
    table["pair_id"] = [f"{p}_{i}" for i, p in enumerate(table["pair_id"])]
    table["s1_name"] = [f"{p}_{i}" for i, p in enumerate(table["s1_name"])]
    vectors = synthetic_embeddings(table, 32, seed=5)
    path, _ = write_synthetic_bundle(tmp_path_factory.mktemp("k1000") / "b", table, vectors,
                                     IndexSpec(kind="ivfrabitq", nlist=32, nprobe=32, rerank=60))
    return SearchEngine(Bundle(path, verify=False))


def test_k_1000_on_a_reranked_index_returns_exact_scores(large_synthetic_engine):
    """At k = 1,000 the candidates (k + 1 fetched, MAX_CANDIDATES = 1,000) used to equal k, and the quantised
    codes' scores were returned as they were: the scores must be the exact inner products, and the results
    the exact top 1,000."""
    engine = large_synthetic_engine
    vectors = engine.bundle.embeddings
    query = Query(vectors["s2"][11], "s2", pair_row=11)
    for target in ("s1", "s2"):
        response = engine.search(query, [target], 1000)
        rows = np.array([r.row for r in response.results])
        scores = np.array([r.score for r in response.results])
        assert len(rows) == 1000 and len(set(rows)) == 1000 and 11 not in rows
        assert np.allclose(scores, vectors[target][rows] @ vectors["s2"][11], atol=1e-5)
        exact = vectors[target] @ vectors["s2"][11]
        exact[11] = -np.inf
        truth = set(np.argsort(-exact, kind="stable")[:1000])
        assert len(truth & set(rows)) >= 995  # ties at the 1,000th score may swap
    both = engine.search(query, ["s1", "s2"], 1000)
    assert len(both.results) == 1000 and {r.sensor for r in both.results} == {"s1", "s2"}
    calibrated = [r.calibrated_score for r in both.results]
    assert calibrated == sorted(calibrated, reverse=True)


def test_k_1000_with_a_filter_on_a_reranked_index(large_synthetic_engine):
    """A column filter at k = 1,000: only admitted rows, as many as the filter admits up to k."""
    engine = large_synthetic_engine
    table = engine.bundle.table
    country = table["country"].value_counts().index[0]
    admitted = set(np.flatnonzero(table["country"] == country))
    query = Query(engine.bundle.embeddings["s1"][3], "s1")
    response = engine.search(query, ["s2"], 1000, Filters(countries=frozenset({country})))
    assert len(response.results) == min(1000, len(admitted))
    assert {r.row for r in response.results} <= admitted


def test_ivf_bundles_carry_country_centroids_and_flat_ones_do_not(large_synthetic_engine):
    """write_indexes adds country_centroids_<sensor>.npz (hashed in the manifest) for IVF indexes; the engine
    checks it against its index and table and orders a country filter's lists by it."""
    from csmae_core.retrieval.bundle import country_centroids_file
    from csmae_core.retrieval.filtering import Selection

    bundle = large_synthetic_engine.bundle
    assert set(bundle.country_centroids) == {"s1", "s2"}
    assert {country_centroids_file(s) for s in ("s1", "s2")} <= set(bundle.manifest["files"])
    table = bundle.table
    for arrays in bundle.country_centroids.values():
        assert arrays["count"].sum() == table["country"].notna().sum() and arrays["mean"].shape[1] == 32
    country = table["country"].value_counts().index[0]
    mask = (table["country"] == country).to_numpy()
    probes = large_synthetic_engine._probes("s2", Selection.of(mask, len(table)), bundle.embeddings["s2"][0],
                                            40, frozenset({country}))
    admitted_lists = set(np.flatnonzero(large_synthetic_engine._coverage["s2"].admitted_per_list(mask)))
    assert probes.lists is not None and set(probes.lists) <= admitted_lists and probes.count == len(probes.lists)
    assert Bundle(ROOT / "assets" / "bundles" / "demo").country_centroids == {}  # exact: no lists to order


def test_candidates_are_scored_in_place_on_the_memory_mapped_embeddings(tmp_path):
    """row_scores reads the rows of a memory-mapped float32 matrix in place (FAISS by index): the same scores
    as gathering the rows, any other matrix is gathered; a row outside the matrix is a bundle error (an index
    of another bundle), never a read past the end."""
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((500, 48)).astype(np.float32)
    np.save(tmp_path / "embeddings.npy", matrix)
    mapped = np.load(tmp_path / "embeddings.npy", mmap_mode="r")
    query, rows = matrix[7], np.array([499, 7, 0, 123, 7])
    expected = matrix[rows] @ query
    assert np.allclose(row_scores(mapped, query, rows), expected, atol=1e-5)
    assert np.allclose(row_scores(matrix[:, :48:1].astype(np.float64), query, rows), expected, atol=1e-5)
    assert np.allclose(row_scores(np.asfortranarray(matrix), query, rows), expected, atol=1e-5)
    scores, ranked = exact_rerank(mapped, query, np.array([3, -1, 7, 499]))
    assert list(ranked) == sorted([3, 7, 499], key=lambda r: -float(matrix[r] @ query)) and ranked[0] == 7
    for bad in (np.array([0, 500]), np.array([-2])):
        with pytest.raises(BundleError, match="rebuild the bundle"):
            row_scores(mapped, query, bad)

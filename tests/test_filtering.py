"""Country filters on IVF indexes: lists visited in the order of their admitted rows' own centroids (the bundle's
country centroids), on a small index whose lists are placed by hand so that the order matters.

The query is e0. List "decoy" (centroid e0, first in an unfiltered search's order) holds many rows of the
filtered country, all far from the query (0.4); list "target" (centroid e2, last in that order) holds a few of
that country's rows that are nearer (0.45-0.65). The decoy alone covers the coverage target, so the index's own order
stops there and misses every true neighbour; the admitted rows' centroids put the target list first.
"""
import shutil

import faiss
import numpy as np
import pandas as pd
import pytest

import csmae_core.retrieval.search as search_module
from csmae_core.errors import BundleError
from csmae_core.retrieval.bundle import (
    TABLE,
    TABLE_COLUMNS,
    Bundle,
    bundle_manifest,
    country_centroids_file,
    embeddings_file,
    index_file,
    new_workdir,
    synthetic_model_manifest,
    write_bundle,
)
from csmae_core.retrieval.faiss_index import IndexSpec, configure, empty_index
from csmae_core.retrieval.filtering import ListCoverage, country_centroids, list_of_rows
from csmae_core.retrieval.indexing import write_country_centroids
from csmae_core.retrieval.search import Filters, Query, SearchEngine

DIM = 16
SPEC = IndexSpec(kind="ivfrabitq", nlist=8, nprobe=1, rerank=2)  # 2 x 11 candidates re-scored


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def basis(i: int) -> np.ndarray:
    return np.eye(DIM, dtype=np.float32)[i]


def list_centroids() -> np.ndarray:
    """decoy = e0 (list 0), target = e2 (list 1), six others e3..e8 tilted towards e0 (before the target)."""
    others = [unit(basis(j) + 0.1 * basis(0)) for j in range(3, 9)]
    return np.stack([basis(0), basis(2), *others])


def placed_rows(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors (3000, 16), country (3000,), season (3000,)): "A" around every list; "B" 150 in the decoy
    (0.4 e0 + far directions no centroid covers), 30 in the target (0.45-0.65 e0, the rest e2), 20 in each other
    list."""
    rng = np.random.default_rng(seed)
    centroids = list_centroids()
    noise = lambda n, scale: scale * rng.standard_normal((n, DIM))  # noqa: E731
    far = np.zeros((150, DIM))
    far[:, 10:] = rng.standard_normal((150, DIM - 10))
    graded = np.linspace(0.45, 0.65, 30)  # distinct scores: no tie decides the top 10
    parts = [(centroids[rng.integers(0, 8, 2700)] + noise(2700, 0.15), "A"),
             (0.4 * basis(0) + 0.9 * unit(far) + noise(150, 0.02), "B"),
             (graded[:, None] * basis(0) + np.sqrt(1 - graded[:, None] ** 2) * basis(2), "B"),
             (np.repeat(centroids[2:], 20, axis=0) + noise(120, 0.05), "B")]
    vectors = unit(np.concatenate([rows for rows, _ in parts]))
    country = np.concatenate([[name] * len(rows) for rows, name in parts]).astype(object)
    season = np.where(np.arange(len(vectors)) % 2 == 0, "Summer", "Winter").astype(object)
    return vectors, country, season


def placed_index(vectors: np.ndarray) -> faiss.Index:
    """IVF-RaBitQ over `vectors` with the hand-placed list centroids (FAISS skips k-means for a quantizer that
    already holds nlist centroids)."""
    index = empty_index(DIM, SPEC)
    faiss.extract_index_ivf(index).quantizer.add(list_centroids())
    index.train(vectors)
    index.add(vectors)
    configure(index, SPEC)
    return index


def placed_table(country: np.ndarray, season: np.ndarray) -> pd.DataFrame:
    count = len(country)
    table = pd.DataFrame({"pair_id": [f"pair_{i}" for i in range(count)], "s1_name": [f"s1_{i}" for i in range(count)],
                          "labels": [["Urban fabric"]] * count, "split": "test", "country": country, "season": season,
                          "contains_seasonal_snow": False, "contains_cloud_or_shadow": False, "epsg": 32633,
                          "ulx": 0.0, "uly": 0.0, "lrx": 1.0, "lry": 1.0, "lon": 15.0, "lat": 50.0,
                          "west": 15.0, "south": 50.0, "east": 15.1, "north": 50.1})
    return table[list(TABLE_COLUMNS)]


def write_placed_bundle(out, centroids: bool = True):
    vectors, country, season = placed_rows()
    workdir = new_workdir(out)
    placed_table(country, season).to_parquet(workdir / TABLE, index=False)
    indexes = {}
    for sensor in ("s1", "s2"):
        np.save(workdir / embeddings_file(sensor), vectors)
        indexes[sensor] = placed_index(vectors)
        faiss.write_index(indexes[sensor], str(workdir / index_file(sensor)))
    if centroids:
        write_country_centroids(workdir, indexes, {s: vectors for s in indexes})
    model = synthetic_model_manifest("none: hand-placed vectors", "tests/test_filtering.py")
    manifest = bundle_manifest(out.name, model, {"path": "test"}, len(vectors), ["s1", "s2"], DIM, SPEC.to_dict(),
                               {"s1": None, "s2": None})
    return write_bundle(out, workdir, manifest)


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("placed")
    return {"with": write_placed_bundle(folder / "with"), "without": write_placed_bundle(folder / "without", False)}


@pytest.fixture
def small_targets(monkeypatch):
    """The engine's constants sized for 3,000 rows (at 549,488 pairs the same rule runs with 2000 / 4096)."""
    monkeypatch.setattr(search_module, "EXACT_SUBSET_LIMIT", 0)
    monkeypatch.setattr(search_module, "FILTERED_CANDIDATES", 20)  # 22 candidates (SPEC: 2 x k + 1): lists until
    # they hold 4 x 22 admitted rows, fewer than the decoy list's 150


def exact_top(vectors, mask, query, k=10) -> set:
    scores = np.where(mask, vectors @ query, -np.inf)
    return set(np.argsort(-scores, kind="stable")[:k].tolist())


def found(engine, query, filters, k=10) -> set:
    response = engine.search(Query(query, "s2"), ["s2"], k, filters, counterpart=False)
    return {r.row for r in response.results}


def test_country_filter_visits_the_lists_nearest_by_their_admitted_rows(placed, small_targets):
    with_centroids, without = SearchEngine(Bundle(placed["with"])), SearchEngine(Bundle(placed["without"]))
    vectors = with_centroids.bundle.embeddings["s2"]
    country = with_centroids.columns["country"]
    query, filters = basis(0), Filters(countries=frozenset({"B"}))
    truth = exact_top(vectors, country == "B", query)
    assert found(with_centroids, query, filters) == truth
    # the index's own order (bundles without the file): the decoy list alone covers the target, and it holds none
    assert without.bundle.country_centroids == {} and not found(without, query, filters) & truth
    lists = with_centroids._coverage["s2"].country_lists(query, with_centroids._selection(filters).per_list["s2"],
                                                         frozenset({"B"}), 80, 1)
    assert list(lists) == [1, 0]  # target first, then the decoy, which completes the 80 admitted rows


def test_combined_filters_order_by_the_country_and_count_the_whole_filter(placed, small_targets):
    engine = SearchEngine(Bundle(placed["with"]))
    vectors, columns = engine.bundle.embeddings["s2"], engine.columns
    filters = Filters(countries=frozenset({"B", "C"}), seasons=frozenset({"Summer"}))  # C: no such country
    mask = (columns["country"] == "B") & (columns["season"] == "Summer")
    assert found(engine, basis(0), filters) == exact_top(vectors, mask, basis(0))
    per_list = engine._selection(filters).per_list["s2"]
    assert per_list.sum() == mask.sum() and per_list[1] == 15
    # half the rows admitted: the target list (15) and the decoy (75) are needed for 80
    assert list(engine._coverage["s2"].country_lists(basis(0), per_list, filters.countries, 80, 1)) == [1, 0]
    # a filter without a country keeps the index's own order
    assert engine._probes("s2", engine._selection(Filters(seasons=frozenset({"Summer"}))), basis(0), 80).lists is None


def test_bundle_without_country_centroids_keeps_the_index_order(placed, small_targets):
    """Bundles written before the file: country filters visit lists nearest first by the index's centroids
    (right for a query whose nearest list holds the filtered country's nearest rows)."""
    engine = SearchEngine(Bundle(placed["without"]))
    vectors, country = engine.bundle.embeddings["s2"], engine.columns["country"]
    for filters, mask in ((Filters(countries=frozenset({"B"})), country == "B"),
                          (Filters(countries=frozenset({"A"})), country == "A")):
        assert found(engine, basis(2), filters) == exact_top(vectors, mask, basis(2))
    assert engine._coverage["s2"].groups is None


def test_country_centroids_are_the_means_of_each_lists_country_rows():
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((500, 8)).astype(np.float32)
    lists = rng.integers(0, 5, 500).astype(np.int32)
    countries = rng.choice(np.array(["Ireland", "Finland", None], dtype=object), 500)
    arrays = country_centroids(vectors, lists, countries)
    assert list(arrays["countries"]) == ["Finland", "Ireland"]  # rows without a country are left out
    assert arrays["count"].sum() == (countries != None).sum()  # noqa: E711
    for number, code, count, mean in zip(arrays["list"], arrays["country"], arrays["count"], arrays["mean"]):
        rows = (lists == number) & (countries == arrays["countries"][code])
        assert count == rows.sum() and np.allclose(mean, vectors[rows].mean(0), atol=1e-5)


def test_country_centroids_of_another_build_are_refused():
    vectors, country, _ = placed_rows()
    index = placed_index(vectors)
    good = country_centroids(vectors, list_of_rows(index), country)
    assert ListCoverage(index, good, country).groups is not None
    shuffled = country[np.random.default_rng(2).permutation(len(country))]
    with pytest.raises(BundleError, match="centroids_s2.npz does not match the bundle's index and table"):
        ListCoverage(index, good, shuffled, "b/country_centroids_s2.npz")
    with pytest.raises(BundleError, match="does not fit this index"):
        ListCoverage(index, {**good, "mean": good["mean"][:, :8]}, country)
    with pytest.raises(BundleError, match="lacks mean; rebuild the bundle"):
        ListCoverage(index, {k: v for k, v in good.items() if k != "mean"}, country)
    renamed = np.where(country == "B", "Z", country).astype(object)
    with pytest.raises(BundleError, match="does not match"):
        ListCoverage(index, good, renamed)


def test_a_stale_centroids_file_fails_the_first_filtered_search_clearly(placed, tmp_path, small_targets):
    copy = tmp_path / "copy"
    shutil.copytree(placed["with"], copy)
    arrays = dict(np.load(copy / country_centroids_file("s2")))
    arrays["count"] = arrays["count"][::-1].copy()
    np.savez(copy / country_centroids_file("s2"), **arrays)
    with pytest.raises(BundleError, match="does not match its manifest checksum"):
        Bundle(copy)
    engine = SearchEngine(Bundle(copy, verify=False))
    with pytest.raises(BundleError, match="country_centroids_s2.npz does not match .* rebuild the bundle"):
        engine.search(Query(basis(0), "s2"), ["s2"], 10, Filters(countries=frozenset({"A"})))
    np.savez(copy / country_centroids_file("s2"), **{**arrays, "countries": np.array(["A", "B"], dtype=object)})
    with pytest.raises(BundleError, match="country_centroids_s2.npz cannot be read"):  # a pickle: never loaded
        Bundle(copy, verify=False)


@pytest.mark.parametrize("kind", ["ivfrabitq", "ivfsq8"])
def test_search_lists_finds_the_filtered_top_k_of_the_lists_given(kind):
    """Every list given, in any order: the exact filtered top 10 (re-ranked kinds: exact scores; SQ8: its own,
    nearly exact ones). Kinds that wrap an IVF index (a re-rank index around IVF-PQ) keep FAISS's order."""
    from csmae_core.retrieval.faiss_index import build_index
    from csmae_core.retrieval.filtering import Selection, preassigned_search_works, search_lists

    vectors, country, _ = placed_rows()
    spec = IndexSpec(kind=kind, nlist=8, nprobe=1, rerank=20)
    index = empty_index(DIM, spec)
    faiss.extract_index_ivf(index).quantizer.add(list_centroids())
    index.train(vectors)
    index.add(vectors)
    mask = country == "B"
    selection = Selection.of(mask, len(vectors))
    scores, rows = search_lists(index, spec, vectors, basis(0), 10, np.arange(8)[::-1], selection.selector(len(mask)),
                                list_centroids(), depth=200)
    assert set(rows[:10]) == exact_top(vectors, mask, basis(0)) and mask[rows].all()
    assert np.allclose(scores, vectors[rows] @ basis(0), atol=1e-6 if kind == "ivfrabitq" else 0.02)
    assert preassigned_search_works(index)
    wrapped = build_index(vectors, IndexSpec(kind="ivfpq_sq8", nlist=8, pq_m=4))
    assert not preassigned_search_works(wrapped)


def test_bench_times_a_bundle_with_and_without_its_country_centroids(placed, small_targets, capsys):
    """scripts/bench_search.py --baseline times both engines (taking turns query by query) with recall against
    exact search; --time-centroids times the build's pass."""
    from scripts.bench_search import first_country_search, latency, time_country_centroids, without_centroids

    bundle = Bundle(placed["with"])
    engines = {"with": SearchEngine(bundle), "without": SearchEngine(without_centroids(bundle))}
    assert bundle.country_centroids and engines["without"].bundle.country_centroids == {}  # a copy: left alone
    settings = {"one sensor, country=B": (["s2"], Filters(countries=frozenset({"B"})), False)}
    first_country_search(engines, bundle, settings)
    timed = latency(engines, bundle.embeddings, bundle.table, settings, 20)
    for name in engines:
        values = timed[name]["one sensor, country=B"]
        assert 0.5 <= values["recall_at_10"] <= 1 and values["p95_ms"] >= values["p50_ms"] > 0
    time_country_centroids(bundle)
    out = capsys.readouterr().out
    assert "without: first country-filtered search" in out and "s2: country centroids of 3,000 rows in" in out

"""The archive coloured by similarity to a query (csmae_core.retrieval.similarity_map, and the per-cell
best/mean of aggregate.grid_cells) on tiny generated vectors, checked against scores worked out by hand."""
from __future__ import annotations

import json

import numpy as np
import pytest

from csmae_core.errors import InputError
from csmae_core.retrieval.aggregate import grid_cells, viewport_points
from csmae_core.retrieval.queries import pair_embedding
from csmae_core.retrieval.similarity_map import (
    colourable_sensors,
    query_is_archive_pair,
    score_archive,
)


def unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


@pytest.fixture()
def archive() -> np.ndarray:
    """Five 3-d unit vectors; the query is the first axis, so each cosine is the first coordinate."""
    return unit([[1, 0, 0], [0, 1, 0], [1, 1, 0], [-1, 0, 0], [1, 0, 1]])


def test_scores_are_the_cosines_and_their_distribution(archive):
    scores = score_archive(archive, np.array([1.0, 0.0, 0.0]), "s2")
    expected = np.array([1.0, 0.0, 2 ** -0.5, -1.0, 2 ** -0.5])
    assert scores.sensor == "s2" and scores.cosine.dtype == np.float32
    assert np.allclose(scores.cosine, expected, atol=1e-6)
    assert scores.scale.mean == pytest.approx(expected.mean(), abs=1e-6)
    assert scores.scale.std == pytest.approx(expected.std(), abs=1e-6)
    standardised = scores.values("standardised")
    assert np.allclose(standardised, (expected - expected.mean()) / expected.std(), atol=1e-5)
    assert np.argsort(standardised).tolist() == np.argsort(scores.values("cosine")).tolist()  # same order
    # colours run from the average patch to the best match, on either scale
    assert scores.colour_range("cosine") == pytest.approx((expected.mean(), 1.0), abs=1e-6)
    assert scores.colour_range("standardised") == pytest.approx((0.0, standardised.max()), abs=1e-5)


def test_the_querys_own_pair_is_coloured_but_left_out_of_the_colour_range(archive):
    """An archive query scores 1 against itself: the scale's top is the best OTHER patch."""
    scores = score_archive(archive, archive[2], "s2", own_row=2)
    assert scores.cosine[2] == pytest.approx(1.0) and scores.own_row == 2
    others = np.delete(scores.cosine, 2)
    assert scores.colour_range("cosine")[1] == pytest.approx(others.max())
    assert score_archive(archive, archive[2], "s2").colour_range("cosine")[1] == pytest.approx(1.0)
    assert score_archive(archive, archive[2], "s2", own_row=99).own_row is None  # not a row of this archive


def test_float16_and_memory_mapped_matrices_score_the_same(archive, tmp_path):
    query = unit([0.3, 0.9, 0.1])
    exact = score_archive(archive, query, "s1").cosine
    np.save(tmp_path / "e.npy", archive.astype(np.float16))
    half = score_archive(np.load(tmp_path / "e.npy", mmap_mode="r"), query, "s1").cosine
    assert half.dtype == np.float32 and np.allclose(half, exact, atol=2e-3)


def test_bad_queries_and_scales_are_refused_with_what_to_do(archive):
    with pytest.raises(InputError, match="another model"):
        score_archive(archive, np.ones(4, np.float32), "s2")
    with pytest.raises(InputError, match="NaN"):
        score_archive(archive, np.array([np.nan, 0, 0]), "s2")
    with pytest.raises(ValueError, match="choose one of s1, s2"):
        score_archive(archive, np.array([1.0, 0, 0]), "s3")
    with pytest.raises(InputError, match="standardised, cosine"):
        score_archive(archive, np.array([1.0, 0, 0]), "s2").values("percent")
    empty = score_archive(np.zeros((0, 3), np.float32), np.array([1.0, 0, 0]), "s2")
    assert len(empty.cosine) == 0 and empty.colour_range("cosine") == (0.0, 1.0)
    flat = score_archive(unit([[1, 0, 0], [1, 0, 0]]), np.array([1.0, 0, 0]), "s2")
    assert (flat.values("standardised") == 0).all()  # every patch alike: nothing stands out


def test_cells_hold_the_best_and_mean_score_of_their_patches():
    lon = np.array([0.1, 0.2, 0.9, 1.5, 1.6])
    lat = np.array([0.1, 0.5, 0.9, 0.5, 0.5])
    values = np.array([0.2, 0.9, 0.4, -0.3, np.nan])
    cells = grid_cells(lon, lat, 1.0, values).sort_values("west").reset_index(drop=True)
    assert cells["count"].tolist() == [3, 2]
    assert cells["best"].tolist() == pytest.approx([0.9, -0.3])
    assert cells["mean"].tolist() == pytest.approx([0.5, -0.3])  # NaN left out, not a zero
    assert np.isnan(grid_cells(np.array([0.5]), np.array([0.5]), 1.0, np.array([np.nan]))["best"]).all()
    assert "best" not in grid_cells(lon, lat, 1.0).columns
    assert list(grid_cells(np.zeros(0), np.zeros(0), 1.0, np.zeros(0)).columns)[-2:] == ["best", "mean"]


def test_the_viewport_aggregates_the_values_of_the_selected_pairs_in_view():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(0, 10, 3000), rng.uniform(40, 50, 3000)
    values = rng.normal(size=3000)
    mask = rng.random(3000) < 0.5
    shown = viewport_points(lon, lat, mask, (0.0, 40.0, 5.0, 50.0), zoom=6, max_points=100, values=values)
    inside = mask & (lon <= 5.0)
    assert shown["mode"] == "cells" and shown["cells"]["count"].sum() == inside.sum()
    assert shown["cells"]["best"].max() == pytest.approx(values[inside].max())
    weighted = (shown["cells"]["mean"] * shown["cells"]["count"]).sum()
    assert weighted == pytest.approx(values[inside].sum())


def test_only_a_shared_space_colours_the_other_sensor():
    assert colourable_sensors(("s1", "s2"), True, "s1") == ("s1", "s2")
    assert colourable_sensors(("s1", "s2"), False, "s1") == ("s1",)
    assert colourable_sensors(("s2",), False, "s1") == ()


def test_a_query_is_recognised_as_the_bundles_own_pair_or_not(archive):
    embeddings = {"s1": archive, "s2": archive[::-1].copy()}
    assert query_is_archive_pair(embeddings, 1, archive[1])
    assert query_is_archive_pair(embeddings, 1, archive[3])  # its S2 vector
    assert query_is_archive_pair(embeddings, 1, pair_embedding(archive[1], archive[3]))  # S1+S2 pair query
    assert not query_is_archive_pair(embeddings, 1, archive[0])  # another model's vector for that pair
    assert not query_is_archive_pair(embeddings, 7, archive[0])  # no such row
    assert not query_is_archive_pair(embeddings, 1, np.ones(4, np.float32))


def test_dense_and_sparse_cell_counting_agree(monkeypatch):
    """Cells are counted on the dense grid when it is small, else through np.unique: same cells either way."""
    import csmae_core.retrieval.aggregate as aggregate

    rng = np.random.default_rng(3)
    lon, lat, values = rng.uniform(-20, 40, 5000), rng.uniform(30, 70, 5000), rng.normal(size=5000)
    dense = grid_cells(lon, lat, 0.5, values)
    monkeypatch.setattr(aggregate, "DENSE_CELLS", 0)
    sparse = grid_cells(lon, lat, 0.5, values)
    assert len(dense) > 100 and dense.equals(sparse)


def test_the_measurement_script_times_the_demo_bundle(tmp_path):
    from scripts.measure_similarity_map import main

    assert main(["--queries", "3", "--json", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["pairs"] == 60 and set(report["core"]) == {"s1", "s2"}
    for sensor in ("s1", "s2"):
        assert report["core"][sensor]["total"]["n"] == 2 and report["core"][sensor]["total"]["p50_ms"] >= 0


def test_colours_run_from_the_average_patch_to_the_best_match_and_say_so():
    from pages.ui.explorer_map import RAMP, Colouring, legend_html

    colouring = Colouring(np.zeros(3), "standardised", "mean", 0.0, 2.0, "Sentinel-2", 549_488)
    assert colouring.colours(np.array([-1.0, 0.0, 1.0, 2.0, 9.0, np.nan])) == \
        [RAMP[0], RAMP[0], RAMP[round(4.5)], RAMP[-1], RAMP[-1], "#999999"]  # clipped at both ends; NaN grey
    assert colouring.text(1.234) == "+1.23 σ" and colouring.text(np.nan) == "n/a"
    legend = legend_html(colouring)
    assert "+0.00 σ (as alike as the average Sentinel-2 patch)" in legend and "+2.00 σ (the best match" in legend
    assert "over all 549,488 Sentinel-2 patches; cells show the mean of each cell's patches" in legend
    assert Colouring(np.zeros(1), "cosine", "best", 0.1, 0.9, "Sentinel-1", 5).text(0.5) == "0.500"

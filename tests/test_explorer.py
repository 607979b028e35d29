"""The archive explorer: csmae_core.retrieval.aggregate on tiny generated tables, its speed on 550k synthetic
points, optionally the real reBEN metadata (REBEN_METADATA=/path/to/metadata.parquet), and the page."""
from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from csmae_core.labels import LABELS_19
from csmae_core.retrieval.aggregate import (
    cell_size,
    data_bounds,
    filter_rows,
    fit_view,
    grid_cells,
    in_bounds,
    label_counts,
    label_matrix,
    nearest_cell,
    nearest_row,
    view_bounds,
    viewport_points,
)
from csmae_core.retrieval.browse import pair_summary, patch_features, table_facts
from tests.conftest import ROOT

ARABLE, FOREST, WATER = "Arable land", "Coniferous forest", "Marine waters"


@pytest.fixture()
def tiny() -> pd.DataFrame:
    return pd.DataFrame({
        "pair_id": [f"p{i}" for i in range(6)],
        "labels": [[ARABLE], [FOREST, WATER], [], [ARABLE, FOREST], ["not a BigEarthNet class"], [WATER]],
        "country": ["Austria", "Finland", "Austria", "Portugal", None, "Finland"],
        "season": ["Summer", "Winter", "Summer", "Spring", "Fall", "Summer"],
        "split": ["train", "test", "validation", "train", "train", "test"],
        "lon": [10.0, 10.5, 11.0, 25.0, np.nan, -8.0],
        "lat": [47.0, 47.2, 47.1, 61.0, np.nan, 40.0],
    })


def synthetic_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Europe-like clusters of points (patches come in dense tiles)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform((-9.0, 37.0), (31.0, 68.0), size=(200, 2))
    which = rng.integers(0, len(centres), n)
    points = centres[which] + rng.normal(0.0, 0.3, size=(n, 2))
    return points[:, 0], points[:, 1]


# ---------------------------------------------------------------- filters and label statistics
def test_label_matrix_marks_the_19_classes_and_ignores_others(tiny):
    matrix = label_matrix(tiny["labels"])
    assert matrix.shape == (6, 19) and matrix.dtype == bool
    assert matrix[1, LABELS_19.index(FOREST)] and matrix[1, LABELS_19.index(WATER)]
    assert matrix.sum(axis=1).tolist() == [1, 2, 0, 2, 0, 1]


def test_filters_combine_and_empty_means_all(tiny):
    assert filter_rows(tiny).all()
    assert filter_rows(tiny, labels=[], countries=[], seasons=None).all()
    assert filter_rows(tiny, countries=["Austria"]).tolist() == [True, False, True, False, False, False]
    assert filter_rows(tiny, countries=["Austria"], seasons=["Summer"], splits=["train"]).tolist() == \
        [True, False, False, False, False, False]
    # labels: ANY of the chosen ones
    assert np.flatnonzero(filter_rows(tiny, labels=[ARABLE, WATER])).tolist() == [0, 1, 3, 5]
    assert np.flatnonzero(filter_rows(tiny, labels=[ARABLE], splits=["train"])).tolist() == [0, 3]
    assert not filter_rows(tiny, labels=["no such label"]).any()
    matrix = label_matrix(tiny["labels"])
    assert (filter_rows(tiny, labels=[FOREST], matrix=matrix) == filter_rows(tiny, labels=[FOREST])).all()


def test_label_counts_follow_the_mask_in_labels_19_order(tiny):
    counts = label_counts(tiny, np.ones(6, bool))
    assert list(counts.index) == list(LABELS_19)
    assert counts[ARABLE] == 2 and counts[FOREST] == 2 and counts[WATER] == 2 and counts.sum() == 6
    finland = label_counts(tiny, filter_rows(tiny, countries=["Finland"]))
    assert finland[WATER] == 2 and finland[FOREST] == 1 and finland[ARABLE] == 0
    assert label_counts(tiny, np.zeros(6, bool)).sum() == 0


# ---------------------------------------------------------------- viewport: points or cells
def test_viewport_returns_rows_in_view_when_few(tiny):
    lon, lat = tiny["lon"].to_numpy(), tiny["lat"].to_numpy()
    shown = viewport_points(lon, lat, None, (9.0, 46.0, 12.0, 48.0), zoom=8)
    assert shown["mode"] == "points" and shown["rows"].tolist() == [0, 1, 2] and shown["n_in_view"] == 3
    assert shown["cells"].empty
    masked = viewport_points(lon, lat, filter_rows(tiny, labels=[ARABLE]), (9.0, 46.0, 12.0, 48.0), zoom=8)
    assert masked["rows"].tolist() == [0]
    # the whole world (None), NaN coordinates never shown
    assert viewport_points(lon, lat, None, None, zoom=2)["rows"].tolist() == [0, 1, 2, 3, 5]


def test_viewport_switches_to_cells_whose_counts_sum_to_the_points_in_view():
    lon, lat = synthetic_points(20_000, seed=1)
    bounds = (0.0, 40.0, 20.0, 60.0)
    inside = (lon >= 0) & (lon <= 20) & (lat >= 40) & (lat <= 60)
    few = viewport_points(lon, lat, None, bounds, zoom=5, max_points=int(inside.sum()))
    assert few["mode"] == "points" and few["n_in_view"] == inside.sum()
    many = viewport_points(lon, lat, None, bounds, zoom=5, max_points=int(inside.sum()) - 1)
    assert many["mode"] == "cells" and len(many["rows"]) == 0
    cells = many["cells"]
    assert cells["count"].sum() == many["n_in_view"] == inside.sum()
    size = cell_size(5)
    assert size == pytest.approx(360 / 2 ** 5 / 4) and many["cell_size"] == size
    assert np.allclose(cells["east"] - cells["west"], size) and np.allclose(cells["north"] - cells["south"], size)
    # each cell's mean position lies inside the cell; cells are distinct
    assert ((cells["lon"] >= cells["west"]) & (cells["lon"] < cells["east"])).all()
    assert ((cells["lat"] >= cells["south"]) & (cells["lat"] < cells["north"])).all()
    assert not cells.duplicated(["west", "south"]).any()
    # finer zoom, more cells, same total
    finer = viewport_points(lon, lat, None, bounds, zoom=8, max_points=10)
    assert len(finer["cells"]) > len(cells) and finer["cells"]["count"].sum() == inside.sum()


def test_grid_cells_by_hand():
    cells = grid_cells(np.array([0.1, 0.2, 1.5, -0.5]), np.array([0.1, 0.9, 0.5, 0.5]), size=1.0)
    cells = cells.sort_values("west").reset_index(drop=True)
    assert cells["count"].tolist() == [1, 2, 1]
    assert cells["west"].tolist() == [-1.0, 0.0, 1.0] and cells["south"].tolist() == [0.0, 0.0, 0.0]
    assert cells.loc[1, "lon"] == pytest.approx(0.15) and cells.loc[1, "lat"] == pytest.approx(0.5)
    assert grid_cells(np.zeros(0), np.zeros(0), 1.0).empty


def test_bounds_edges_wrapping_and_antimeridian():
    lon = np.array([-179.5, 179.5, 0.0, 10.0, 10.0, np.nan])
    lat = np.array([0.0, 0.0, 0.0, 5.0, 5.0001, 1.0])
    inside, _ = in_bounds(lon, lat, (0.0, 0.0, 10.0, 5.0))
    assert inside.tolist() == [False, False, True, True, False, False]  # edges included
    across, shifted = in_bounds(lon, lat, (170.0, -10.0, 190.0, 10.0))  # Leaflet after panning east
    assert across.tolist() == [True, True, False, False, False, False]
    assert shifted[0] == pytest.approx(180.5)
    assert in_bounds(lon, lat, (170.0, -10.0, -170.0, 10.0))[0].tolist() == across.tolist()
    assert in_bounds(lon, lat, (-540.0, -90.0, 540.0, 90.0))[0].sum() == 5
    assert in_bounds(lon, lat, (0.0, 5.0, 10.0, 0.0))[0][2]  # south/north swapped
    # cells across the antimeridian: the point at -179.5 is counted east of 180, next to its neighbour
    cells = viewport_points(lon, lat, None, (170.0, -10.0, 190.0, 10.0), zoom=6, max_points=1)["cells"]
    assert cells["count"].tolist() == [1, 1] and sorted(cells["lon"]) == [179.5, 180.5]


def test_view_fitting_and_nearest_patch():
    lon, lat = np.array([10.0, 12.0, np.nan]), np.array([45.0, 47.0, 50.0])
    assert data_bounds(lon, lat) == (10.0, 45.0, 12.0, 47.0)
    assert data_bounds(lon, lat, np.array([False, False, True])) is None
    centre_lat, centre_lon, zoom = fit_view((10.0, 45.0, 12.0, 47.0), 900, 560)
    assert (centre_lat, centre_lon) == (46.0, 11.0) and 6 <= zoom <= 8
    assert fit_view((-10.0, 35.0, 35.0, 70.0))[2] < zoom
    assert fit_view((11.0, 46.0, 11.0, 46.0))[2] == 14  # one point: capped
    assert nearest_row(lon, lat, np.array([0, 1]), 11.9, 46.8) == 1
    assert nearest_row(lon, lat, np.array([0]), 11.9, 46.8) == 0
    assert nearest_row(lon, lat, np.array([], dtype=int), 11.9, 46.8) is None


def test_view_bounds_of_a_fitted_view_contain_the_fitted_bounds():
    box = (10.0, 45.0, 12.0, 47.0)
    west, south, east, north = view_bounds(*fit_view(box, 900, 560), 900, 560)
    assert west <= 10.0 and south <= 45.0 and east >= 12.0 and north >= 47.0
    assert east - west < 4 * 2.0  # the fitted zoom is the largest that shows the box
    cells = grid_cells(np.array([0.1, 0.2, 5.5]), np.array([0.1, 0.2, 5.5]), size=1.0)
    assert nearest_cell(cells, 4.0, 4.0) == (5.5, 5.5)
    assert nearest_cell(cells.iloc[:0], 4.0, 4.0) is None


def test_table_facts_answer_the_explorer(tiny):
    facts = table_facts(tiny.assign(west=tiny["lon"] - 0.1, south=tiny["lat"] - 0.1, east=tiny["lon"] + 0.1,
                                    north=tiny["lat"] + 0.1, s1_name=None, contains_seasonal_snow=[True] + [None] * 5,
                                    contains_cloud_or_shadow=False))
    assert facts.choices["season"] == ["Spring", "Summer", "Fall", "Winter"]
    assert facts.choices["split"] == ["train", "validation", "test"] and facts.choices["country"][0] == "Austria"
    assert facts.choices["labels"] == [label for label in LABELS_19 if label in (ARABLE, FOREST, WATER)]
    assert facts.home == (-8.0, 40.0, 25.0, 61.0)
    mask = facts.filter(countries=["Austria"])
    assert mask.tolist() == filter_rows(tiny, countries=["Austria"]).tolist()
    assert facts.fitted_bounds(mask) == (10.0, 47.0, 11.0, 47.1) and facts.fitted_bounds(mask & False) == facts.home
    shares = facts.label_shares(mask)
    assert shares.set_index("label").loc[ARABLE].tolist() == [1, 0.5] and len(shares) == 19
    shown = facts.viewport(mask, (9.0, 46.0, 12.0, 48.0), 8, max_points=10)
    assert facts.rows_in_view(mask, shown, (9.0, 46.0, 12.0, 48.0)).tolist() == [0, 2]
    assert facts.clicked(shown, 10.9, 47.1).row == 2 and facts.clicked(shown, 10.9, 47.1).cell is None
    cells = facts.viewport(None, (9.0, 46.0, 12.0, 48.0), 8, max_points=1)
    assert facts.rows_in_view(np.ones(6, bool), cells, (9.0, 46.0, 12.0, 48.0)).tolist() == [0, 1, 2]
    assert facts.clicked(cells, 10.0, 47.0).row is None and facts.clicked(cells, 10.0, 47.0).cell == (47.0, 10.0)
    assert facts.centre(0) == (47.0, 10.0) and facts.centre(4) is None
    assert pair_summary(facts.table, 0) == "train · Austria · Summer · contains seasonal snow"
    features = patch_features(facts.table, np.array([0, 2]), footprints=True)["features"]
    assert [f["geometry"]["type"] for f in features] == ["Polygon", "Polygon"]
    assert features[1]["properties"] == {"pair": "p2", "labels": "(none)"}
    assert patch_features(facts.table, np.array([0]), footprints=False)["features"][0]["geometry"] == \
        {"type": "Point", "coordinates": [10.0, 47.0]}


def test_aggregation_of_550k_points_is_fast():
    lon, lat = synthetic_points(550_000)
    mask = np.random.default_rng(2).random(len(lon)) < 0.8
    viewport_points(lon, lat, mask, (-10.0, 35.0, 35.0, 70.0), zoom=4)  # warm-up
    timings = {}
    for zoom, bounds in ((3, None), (4, (-10.0, 35.0, 35.0, 70.0)), (7, (5.0, 45.0, 15.0, 52.0))):
        start = time.perf_counter()
        shown = viewport_points(lon, lat, mask, bounds, zoom=zoom)
        timings[zoom] = time.perf_counter() - start
        assert shown["mode"] == "cells" and shown["cells"]["count"].sum() == shown["n_in_view"]
        assert len(shown["cells"]) < 5000
    assert max(timings.values()) < 1.0, timings  # ~20-50 ms on a laptop core; lenient for loaded machines


# ---------------------------------------------------------------- the real reBEN metadata (optional)
REBEN = os.environ.get("REBEN_METADATA")
needs_reben = pytest.mark.skipif(not REBEN or not Path(REBEN).is_file(),
                                 reason="set REBEN_METADATA to a reBEN metadata.parquet to run")


@pytest.fixture(scope="module")
def reben_table() -> pd.DataFrame:
    from csmae_core.io.folders import read_reben_metadata
    from csmae_core.retrieval.bundle import bundle_table

    return bundle_table(read_reben_metadata(REBEN))


@needs_reben
def test_filters_and_aggregation_on_the_whole_reben_metadata(reben_table):
    table = reben_table
    assert len(table) > 400_000 and table["lon"].notna().all()
    matrix = label_matrix(table["labels"])
    assert label_counts(table, None, matrix).sum() == matrix.sum() and matrix.any(axis=1).all()
    austria = filter_rows(table, countries=["Austria"], matrix=matrix)
    arable = filter_rows(table, labels=[ARABLE], seasons=["Summer"], splits=["train"], matrix=matrix)
    assert 0 < austria.sum() < len(table) and 0 < arable.sum() < len(table)
    lon, lat = table["lon"].to_numpy(), table["lat"].to_numpy()
    timings = []
    for zoom, bounds in ((3, None), (4, (-12.0, 34.0, 36.0, 71.0)), (8, (-9.0, 38.0, -8.0, 39.0))):
        start = time.perf_counter()
        shown = viewport_points(lon, lat, None, bounds, zoom=zoom)
        timings.append(time.perf_counter() - start)
        assert shown["mode"] == "cells" and shown["cells"]["count"].sum() == shown["n_in_view"]
    assert viewport_points(lon, lat, None, None, zoom=3)["n_in_view"] == len(table)
    print(f"\nreBEN {len(table):,} rows: aggregation {', '.join(f'{1000 * t:.1f}' for t in timings)} ms")
    assert max(timings) < 1.0
    zoomed = viewport_points(lon, lat, austria, (12.7, 48.0, 12.9, 48.2), zoom=12)
    assert zoomed["mode"] == "points" and 0 < zoomed["n_in_view"] <= 2000


@needs_reben
def test_page_on_the_whole_reben_metadata_as_a_metadata_only_archive(reben_table, monkeypatch):
    """The page with 480k pairs and no pixels: fast enough and shows the metadata-only note."""
    import pages.ui.resources

    bundle = SimpleNamespace(table=reben_table, manifest={"created": "reben"}, created="reben", path=Path(REBEN))
    backend = SimpleNamespace(name="reBEN metadata", bundle=bundle, archive=None, engine=None)
    monkeypatch.setattr(pages.ui.resources, "current_backend", lambda: backend)
    app = explorer_app()
    app.run()  # first run builds the label index (cached per server)
    start = time.perf_counter()
    app.multiselect(key="explorer_countries").select("Austria").run()
    elapsed = time.perf_counter() - start
    assert not app.exception
    assert metric(app, "Pairs shown") == f"{(reben_table['country'] == 'Austria').sum():,}"
    print(f"\npage rerun with 480k pairs: {elapsed:.2f} s")
    assert elapsed < 10
    app.selectbox(key="explorer_pair").select(app.selectbox(key="explorer_pair").options[0]).run()
    assert not app.exception and len(app.image) == 0
    assert any("metadata-only" in info.value for info in app.info)


# ---------------------------------------------------------------- the page (Streamlit AppTest)
def explorer_app():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.switch_page("pages/explorer.py")
    return app


def metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


@pytest.fixture()
def page():
    app = explorer_app().run()
    assert not app.exception, app.exception
    return app


def test_page_shows_all_pairs_and_filters_them(page):
    assert page.title[0].value == "Archive explorer"
    assert metric(page, "Pairs shown") == "60" and metric(page, "Archive pairs") == "60"
    assert len(page.get("vega_lite_chart")) == 1  # label statistics
    page.multiselect(key="explorer_countries").select("Austria").run()
    assert not page.exception
    austria = int(metric(page, "Pairs shown"))
    assert 0 < austria < 60
    page.multiselect(key="explorer_labels").select(ARABLE).run()
    assert not page.exception and 0 < int(metric(page, "Pairs shown")) <= austria
    assert len(page.selectbox(key="explorer_pair").options) == int(metric(page, "In view"))


def test_picking_a_pair_shows_both_images_and_searches_with_it(page):
    from pages.ui.state import KEY_QUERY

    picker = page.selectbox(key="explorer_pair")
    pair_id = picker.options[3]
    picker.select(pair_id).run()
    assert not page.exception
    assert len(page.image) == 2
    assert [b.label for b in page.button] == ["Search with the S2 image", "Search with the S1 image"]
    assert any(pair_id in m.value for m in page.markdown)
    page.button(key="explorer_search_s2").click().run()
    assert not page.exception
    query = page.session_state[KEY_QUERY]
    ids = pd.read_parquet(ROOT / "assets" / "bundles" / "demo" / "metadata.parquet")["pair_id"].tolist()
    assert (query.kind, query.sensor, query.row) == ("archive", "s2", ids.index(pair_id))


def test_an_unknown_pair_id_is_a_warning_not_an_error():
    page = explorer_app()
    page.session_state["explorer_pair"] = "S2A_no_such_patch"  # as if typed (AppTest can only pick options)
    page.run()
    assert not page.exception
    assert len(page.warning) == 1 and len(page.image) == 0


# ---------------------------------------------------------------- coloured by similarity to the last query
def demo_query(bundle_name: str, row: int, sensor: str):
    from csmae_core import Bundle
    from csmae_core.retrieval.queries import archive_query

    return archive_query(Bundle(ROOT / "assets" / "bundles" / bundle_name), row, sensor)


def coloured(page, bundle_name: str = "demo", row: int = 5, sensor: str = "s2"):
    """The explorer coloured by similarity to an archive query of `bundle_name`'s model (the last search's)."""
    from pages.ui.state import KEY_LAST_QUERY

    page.session_state[KEY_LAST_QUERY] = demo_query(bundle_name, row, sensor)
    return page.toggle(key="explorer_similarity").set_value(True).run()


def test_similarity_colouring_without_a_search_points_to_the_search_page(page):
    page.toggle(key="explorer_similarity").set_value(True).run()
    assert not page.exception
    assert any("Run a search first" in info.value for info in page.info)
    assert not any("similarity-legend" in m.value for m in page.markdown)


def test_similarity_colouring_shows_the_legend_and_follows_sensor_and_scale(page):
    coloured(page, "demo")
    assert not page.exception, page.exception
    legend = next(m.value for m in page.markdown if "similarity-legend" in m.value)
    assert "standard deviations above this query's mean score" in legend and "all 60 Sentinel-2 patches" in legend
    assert page.radio(key="explorer_similarity_sensor").value == "s2"  # the query's own sensor first
    assert page.radio(key="explorer_similarity_sensor").options == ["Sentinel-1", "Sentinel-2"]
    page.radio(key="explorer_similarity_sensor").set_value("s1").run()
    page.radio(key="explorer_similarity_scale").set_value("cosine").run()
    assert not page.exception
    legend = next(m.value for m in page.markdown if "similarity-legend" in m.value)
    assert "cosine similarity to the query" in legend and "all 60 Sentinel-1 patches" in legend
    scores = page.session_state["explorer_similarity_scores"]
    assert len(scores) == 2 and {key[2] for key in scores} == {"s1", "s2"}  # each sensor scored once, kept


def test_similarity_colouring_refuses_a_query_of_another_model(page):
    """The CMID demo's vectors are 192-d like CSMAE's: only the check against the bundle tells them apart."""
    coloured(page, "cmid-demo")
    assert not page.exception
    assert any("made by another model" in w.value for w in page.warning)
    assert not any("similarity-legend" in m.value for m in page.markdown)


def test_similarity_settings_survive_a_visit_to_another_page(page):
    coloured(page, "demo")
    page.radio(key="explorer_similarity_statistic").set_value("mean").run()
    page.switch_page("pages/about.py").run()
    assert not page.exception
    page.switch_page("pages/explorer.py").run()  # as after a new search: the map comes back coloured
    assert not page.exception
    assert page.toggle(key="explorer_similarity").value
    assert page.radio(key="explorer_similarity_statistic").value == "mean"
    assert any("cells show the mean of each cell" in m.value for m in page.markdown)


def test_an_uploaded_query_colours_only_when_the_search_page_says_which_model_made_it(page):
    """An upload's vector cannot be checked against the bundle: the model that made it must be recorded."""
    from pages.ui.state import KEY_LAST_QUERY_MODEL
    from pages.ui.state import KEY_LAST_QUERY

    upload = demo_query("demo", 5, "s2")
    upload.pair_row = None  # as an uploaded patch
    page.session_state[KEY_LAST_QUERY] = upload
    page.toggle(key="explorer_similarity").set_value(True).run()
    assert any("did not record which model" in w.value for w in page.warning)
    page.session_state[KEY_LAST_QUERY_MODEL] = "CMID demo (self-supervised on all 60 pairs)"
    page.run()
    assert any("used another model" in w.value for w in page.warning)
    page.session_state[KEY_LAST_QUERY_MODEL] = page.selectbox(key="catalogue_entry").value
    page.run()
    assert not page.exception and not page.warning
    assert any("similarity-legend" in m.value for m in page.markdown)

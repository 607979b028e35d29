"""AppTest of the search page (home): archive queries, uploads, filters, URL restore, exports."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from csmae_core.retrieval.export import results_csv, results_geojson
from csmae_core.io.upload import read_upload
from pages.ui.state import KEY_QUERY, QuerySpec
from tests.conftest import ROOT, V1_S2


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)


def results_heading(at):
    return [h.value for h in at.subheader if "most similar" in h.value]


def test_home_page_invites_a_query_and_shows_the_backend():
    at = app().run()
    assert not at.exception
    assert any("Upload a patch" in i.value for i in at.info)
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "60 pairs" in sidebar and "hash" in sidebar


def test_random_example_searches_both_sensors():
    at = app().run()
    at.segmented_control(key="query_source").set_value("Random example").run()
    at.button(key="random_example").click().run()
    assert not at.exception and results_heading(at) == ["10 most similar patches"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Counterpart rank"] not in ("–", None)
    assert 0 <= float(metrics["P@k"]) <= 1


def test_archive_table_pick_k_and_filters():
    at = app().run()
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.radio(key="pick_sensor").set_value("Sentinel-1 (radar)").run()
    at.selectbox(key="table_pick").set_value(3).run()
    assert not at.exception
    spec = at.session_state[KEY_QUERY]
    assert spec.kind == "archive" and spec.row == 3 and spec.sensor == "s1"
    at.slider(key="k").set_value(5).run()
    assert results_heading(at) == ["5 most similar patches"]
    at.multiselect(key="filter_countries").set_value(["Finland"]).run()
    assert not at.exception
    at.multiselect(key="targets").set_value(["Sentinel-2"]).run()
    captions = " ".join(c.value for c in at.caption)
    assert "S2A_" in captions or "S2B_" in captions
    at.multiselect(key="filter_countries").set_value([]).run()
    at.multiselect(key="filter_splits").set_value(["test"]).run()
    assert results_heading(at)


def test_filters_that_exclude_everything_say_so():
    at = app().run()
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.selectbox(key="table_pick").set_value(0).run()
    at.number_input(key="filter_radius").set_value(5000.0).run()
    assert not at.exception
    assert any("No archive patch passes the filters" in w.value for w in at.warning)


def test_upload_query_with_user_labels():
    record = read_upload(sorted(V1_S2.glob("*.tif")))
    at = app()
    at.session_state[KEY_QUERY] = QuerySpec("upload", record.sensor, record=record)
    at.run()
    assert not at.exception and results_heading(at) == ["10 most similar patches"]
    assert {m.label: m.value for m in at.metric}["P@k"] == "–"  # no labels given yet
    at.multiselect(key="upload_labels").set_value(["Arable land"]).run()
    assert float({m.label: m.value for m in at.metric}["P@k"]) >= 0
    assert len(at.get("download_button")) == 2


def test_shared_url_restores_the_query():
    at = app()
    at.query_params["pair"] = "S2A_MSIL2A_20170613T101031_87_48"
    at.query_params["sensor"] = "s1"
    at.query_params["k"] = "4"
    at.run()
    assert not at.exception and results_heading(at) == ["4 most similar patches"]
    assert at.session_state[KEY_QUERY].sensor == "s1"


def test_unknown_shared_pair_is_explained():
    at = app()
    at.query_params["pair"] = "nope"
    at.run()
    assert any("does not hold" in w.value for w in at.warning)


def test_exports_hold_every_result(demo_archive):
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.search import Query, SearchEngine, row_footprint

    bundle = Bundle(ROOT / "assets/bundles/demo")
    engine = SearchEngine(bundle)
    response = engine.search(Query(bundle.embeddings["s2"][0], "s2", bundle.table.at[0, "labels"], pair_row=0), k=6)
    lines = results_csv(response).strip().splitlines()
    assert len(lines) == 7 and lines[0].startswith("rank,score,id,sensor")
    geojson = json.loads(results_geojson(response, {r.row: row_footprint(bundle.table, r.row) for r in response.results},
                                         {"name": "q", "sensor": "s2", "footprint": row_footprint(bundle.table, 0)}))
    assert len(geojson["features"]) == 7 and geojson["features"][0]["properties"]["role"] == "query"
    ring = geojson["features"][1]["geometry"]["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]

"""AppTest of the search page (home): archive queries, uploads, filters, URL restore, exports."""
import html
import json

import pytest
from streamlit.testing.v1 import AppTest

from csmae_core.io.upload import read_upload
from csmae_core.retrieval.export import results_csv, results_geojson
from pages.ui.address import MAX_K
from pages.ui.state import KEY_QUERY, QuerySpec
from tests.conftest import ROOT, V1_S2, open_filters, result_cards, summary_metrics


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
    metrics = summary_metrics(at)
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
    open_filters(at).multiselect(key="filter_countries").set_value(["Finland"]).run()
    assert not at.exception
    at.multiselect(key="targets").set_value(["Sentinel-2"]).run()
    cards = [html.unescape(card) for card in result_cards(at)]  # text, pair id, labels
    assert "S2A_" in " ".join(cards) or "S2B_" in " ".join(cards)
    assert cards and all("Sentinel-2 · score" in card for card in cards)
    at.multiselect(key="filter_countries").set_value([]).run()
    at.multiselect(key="filter_splits").set_value(["test"]).run()
    assert results_heading(at)


def test_filters_that_exclude_everything_say_so():
    at = app().run()
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.selectbox(key="table_pick").set_value(0).run()
    open_filters(at).number_input(key="filter_radius").set_value(5000.0).run()
    assert not at.exception
    assert any("No archive patch passes the filters" in w.value for w in at.warning)


def test_filters_keep_their_values_and_are_named_while_their_expander_is_closed():
    """The filters' widgets are built only while their expander is open (fewer elements for the browser on
    every search): closed again, the search stays filtered and a caption says which filters are on."""
    from pages.ui.state import KEY_FILTERS_OPEN

    at = app()
    at.query_params.update({"pair": "S2A_MSIL2A_20170613T101031_87_48", "sensor": "s2", "k": "10"})
    at.run()
    unfiltered = [r.id for r in at.session_state["response"].results]
    assert [m.key for m in at.multiselect] == ["targets"] and not any("Filters on" in c.value for c in at.caption)
    open_filters(at).multiselect(key="filter_countries").set_value(["Austria"]).run()
    at.checkbox(key="filter_snow").check().run()
    filtered = [r.id for r in at.session_state["response"].results]
    assert filtered and filtered != unfiltered
    at.session_state[KEY_FILTERS_OPEN] = False
    at.run()
    assert not at.exception and [m.key for m in at.multiselect] == ["targets"]
    assert [r.id for r in at.session_state["response"].results] == filtered
    assert [c.value for c in at.caption if "Filters on" in c.value] == [
        "Filters on: country, no seasonal snow (open Filters to see or change them)."]
    open_filters(at)
    assert at.multiselect(key="filter_countries").value == ["Austria"] and at.checkbox(key="filter_snow").value
    assert at.checkbox(key="filter_own").value and not at.warning  # defaults held too, no Session State warning


def test_upload_query_with_user_labels():
    record = read_upload(sorted(V1_S2.glob("*.tif")))
    at = app()
    at.session_state[KEY_QUERY] = QuerySpec("upload", record.sensor, record=record)
    at.run()
    assert not at.exception and results_heading(at) == ["10 most similar patches"]
    assert summary_metrics(at)["P@k"] == "–"  # no labels given yet
    at.multiselect(key="upload_labels").set_value(["Arable land"]).run()
    assert float(summary_metrics(at)["P@k"]) >= 0
    # the results' GeoJSON and CSV, and (pages/ui/workflow_io.py) the session
    assert [d.proto.label for d in at.get("download_button")] == ["Download GeoJSON", "Download CSV", "Save session"]


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


def test_upload_through_the_page_gives_the_record_of_the_files():
    files = [(p.name, p.read_bytes(), "image/tiff") for p in sorted(V1_S2.glob("*.tif"))]
    at = app().run()
    at.file_uploader(key="upload_files").set_value(files)
    at.run()
    assert not at.exception and not [e.value for e in at.error]
    assert results_heading(at) == ["10 most similar patches"]
    record, expected = at.session_state[KEY_QUERY].record, read_upload(sorted(V1_S2.glob("*.tif")))
    assert (record.name, record.sensor, record.notes) == (expected.name, expected.sensor, expected.notes)
    assert all((record.bands[b] == expected.bands[b]).all() for b in expected.bands)


def test_large_upload_offers_a_window_on_its_overview(tmp_path):
    from tests.test_upload import s2_stack, write_tif

    path = write_tif(tmp_path / "big.tif", s2_stack(12, size=300))
    at = app().run()
    at.file_uploader(key="upload_files").set_value([("../../big.tif", path.read_bytes(), "image/tiff")])
    at.run()
    assert not at.exception and not [e.value for e in at.error]
    assert any("300 x 300 pixels at 10 m" in i.value for i in at.info)
    assert at.session_state[KEY_QUERY].record.meta["window"] == (90, 90)
    at.slider(key="window_col").set_value(0).run()
    record = at.session_state[KEY_QUERY].record
    assert record.name == "big" and record.meta["window"] == (0, 90)
    assert results_heading(at) == ["10 most similar patches"]


def test_archive_pair_lookup_and_upload_queries():
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.pair_lookup import map_markers, nearest_pair, pair_listing, pairs_matching
    from csmae_core.retrieval.upload_query import upload_facts, upload_query

    bundle = Bundle(ROOT / "assets/bundles/demo")
    table = bundle.table
    assert nearest_pair(bundle, float(table.at[7, "lon"]), float(table.at[7, "lat"])) == 7
    assert list(pairs_matching(bundle, "  ")) == list(range(len(table)))
    finnish = pairs_matching(bundle, "FINLAND")
    assert 0 < len(finnish) < len(table) and set(table.loc[finnish, "country"]) == {"Finland"}
    listing = pair_listing(bundle, finnish[:3])
    assert list(listing.columns) == ["pair_id", "country", "season", "split", "labels"]
    assert list(listing.index) == list(finnish[:3]) and isinstance(listing["labels"].iloc[0], str)
    markers = map_markers(bundle, 5)
    assert len(markers) == 5 and markers["tooltip"].iloc[0].startswith(table.at[0, "pair_id"] + " · ")
    record = read_upload(sorted(V1_S2.glob("*.tif")))
    query = upload_query(record, bundle.embeddings["s2"][0])
    assert (query.labels, query.pair_row, query.name, query.sensor) == (None, None, record.name, "s2")
    assert query.lonlat is not None
    facts = upload_facts(record, ["Arable land"])
    assert facts.labels == ["Arable land"] and facts.facts == "uploaded patch" and len(facts.bbox) == 4
    record.footprint = None
    assert upload_query(record, query.embedding, ["Arable land"]).lonlat is None and upload_facts(record).bbox is None


# ------------------------------------------------------------------ uploads by content, the address


def test_an_upload_removed_and_replaced_by_another_file_of_the_same_name_and_size_is_searched(tmp_path):
    from tests.test_upload import s2_stack, write_tif

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_tif(tmp_path / "a" / "scene.tif", s2_stack(12, seed=1)).read_bytes()
    second = write_tif(tmp_path / "b" / "scene.tif", s2_stack(12, seed=2)).read_bytes()
    assert len(first) == len(second) and first != second
    at = app().run()
    at.file_uploader(key="upload_files").set_value([("scene.tif", first, "image/tiff")]).run()
    shown_first = at.session_state[KEY_QUERY].record.bands["B02"].copy()
    at.file_uploader(key="upload_files").clear().run()
    assert at.session_state[KEY_QUERY] is None and not results_heading(at)  # no stale results
    at.file_uploader(key="upload_files").set_value([("scene.tif", second, "image/tiff")]).run()
    assert not at.exception and results_heading(at) == ["10 most similar patches"]
    searched = at.session_state[KEY_QUERY].record.bands["B02"]
    assert not (searched == shown_first).all()
    # without removing it first: the new content is searched as well
    at.file_uploader(key="upload_files").set_value([("scene.tif", first, "image/tiff")]).run()
    assert (at.session_state[KEY_QUERY].record.bands["B02"] == shown_first).all()


def test_the_window_slider_reads_from_the_upload_staged_once(tmp_path):
    from tests.test_upload import s2_stack, write_tif

    data = write_tif(tmp_path / "big.tif", s2_stack(12, size=300)).read_bytes()
    at = app().run()
    at.file_uploader(key="upload_files").set_value([("big.tif", data, "image/tiff")]).run()
    opened = at.session_state["upload_opened"][1]
    staged = opened.paths[0]
    written = (staged.stat().st_ino, staged.stat().st_mtime_ns)
    for col in (0, 40, 180):
        at.slider(key="window_col").set_value(col).run()
        assert not at.exception and at.session_state[KEY_QUERY].record.meta["window"] == (col, 90)
        assert at.session_state["upload_opened"][1] is opened
    assert (staged.stat().st_ino, staged.stat().st_mtime_ns) == written  # nothing written again
    at.file_uploader(key="upload_files").clear().run()
    assert not staged.exists()  # the staged copy goes with the upload


@pytest.mark.parametrize("params, problem", [
    ({"k": "²"}, f"k must be a whole number from 1 to {MAX_K}; showing 10 results instead of '²'"),
    ({"k": "9" * 5000}, f"k must be a whole number from 1 to {MAX_K}; showing 10 results instead of '999"),
    ({"sensor": "s3"}, "the sensor must be s1 or s2; showing the S2 image instead of 's3'"),
    ({"targets": "s9,xx"}, "searching S1 and S2 instead of 's9,xx'"),
])
def test_a_bad_link_value_is_named_once_and_the_page_searches_with_the_default(params, problem):
    at = app()
    at.query_params.update({"pair": "S2A_MSIL2A_20170613T101031_87_48", **params})
    at.run()
    assert not at.exception
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("The link could not be followed as given: ") and problem in warning
    assert len(warning) < 250  # the value is cut
    assert results_heading(at) == ["10 most similar patches"]
    assert at.query_params["k"] == "10" and at.query_params["pair"] == "S2A_MSIL2A_20170613T101031_87_48"
    at.segmented_control(key="query_source").set_value("Random example").run()
    assert not at.warning


def test_the_address_is_the_search_back_and_forward_apply_it():
    """What the browser does on Back/Forward (rerun with the entry's address), as AppTest can: the page
    follows an address it did not write, and writes one per search."""
    link = {"pair": "S2A_MSIL2A_20170613T101031_87_48", "sensor": "s1", "k": "5", "targets": "s2"}
    at = app()
    at.query_params.update(link)
    at.run()
    assert at.query_params == link and results_heading(at) == ["5 most similar patches"]
    linked_row = at.session_state[KEY_QUERY].row
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.selectbox(key="table_pick").set_value(7).run()
    later = dict(at.query_params)
    assert later["pair"] != link["pair"] and at.session_state[KEY_QUERY].row == 7
    at.query_params.clear()
    at.query_params.update(link)  # Back
    at.run()
    spec = at.session_state[KEY_QUERY]
    assert (spec.row, spec.sensor) == (linked_row, "s1") and at.query_params == link
    assert results_heading(at) == ["5 most similar patches"] and at.slider(key="k").value == 5
    at.query_params.clear()
    at.query_params.update(later)  # Forward
    at.run()
    assert at.session_state[KEY_QUERY].row == 7 and at.query_params == later
    at.query_params.clear()  # Back to the first entry (no search): no results
    at.run()
    assert at.session_state[KEY_QUERY] is None and not results_heading(at)


def test_another_page_and_back_keeps_the_search_and_search_with_this_hands_one_over():
    link = {"pair": "S2A_MSIL2A_20170613T101031_87_48", "sensor": "s1", "k": "5", "targets": "s2"}
    at = app()
    at.query_params.update(link)
    at.run()
    row = at.session_state[KEY_QUERY].row
    at.switch_page("pages/explorer.py").run()
    at.query_params.clear()
    at.switch_page("pages/search.py").run()  # the menu: an address without a search
    assert at.session_state[KEY_QUERY].row == row and results_heading(at) == ["5 most similar patches"]
    assert at.query_params["pair"] == link["pair"]  # written again
    at.switch_page("pages/explorer.py").run()
    at.session_state["explorer_pair"] = "S2B_MSIL2A_20180204T94161_57_38"
    at.run()
    at.button(key="explorer_search_s1").click().run()  # "Search with the S1 image": st.switch_page
    spec = at.session_state[KEY_QUERY]
    assert spec.sensor == "s1" and spec.row != row and not at.exception
    assert at.query_params["pair"] == "S2B_MSIL2A_20180204T94161_57_38"

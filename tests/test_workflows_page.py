"""AppTest of the search workflows (issue 14): examples ("more / less like this") and the query vector they
make, the address that restores them, an area of interest (GeoJSON upload, inside / outside, bad polygons),
the training set downloads read back, and search sessions saved and loaded (another bundle's is refused).
Real model, bundle and demo archive; the page is the search page's wiring of pages/ui/examples.py,
area_input.py and workflow_io.py."""
from __future__ import annotations

import csv
import io
import json
import zipfile

import numpy as np
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest, app_test

from csmae_core.io.folders import BenV2Folders
from csmae_core.retrieval.area import read_area
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.feedback import Example, feedback_vector
from csmae_core.retrieval.search import Filters, Query, SearchEngine
from pages.ui.address import AddressExample, address_of, area_parameter, parse_address
from pages.ui.examples import KEY_ACCEPTED, KEY_EMBEDDING, KEY_EXAMPLE_IMAGES, KEY_EXAMPLES
from pages.ui.state import KEY_COUNTRIES, KEY_QUERY, KEY_RESPONSE, QuerySpec
from tests.conftest import ROOT, V1_S2, open_filters

BUNDLE = ROOT / "assets" / "bundles" / "demo"
SQUARE = {"type": "Polygon", "coordinates": [[[-30, 30], [45, 30], [45, 50], [-30, 50], [-30, 30]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[0, 40], [10, 50], [10, 40], [0, 50], [0, 40]]]}


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return Bundle(BUNDLE)


def page(row: int = 0, sensor: str = "s2") -> AppTest:
    """The search page with archive patch `row` (its `sensor` image) as the query."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[KEY_QUERY] = QuerySpec("archive", sensor, row)
    return at.run()


def shown_rows(at: AppTest) -> list[tuple[int, str]]:
    return [(r.row, r.sensor) for r in at.session_state[KEY_RESPONSE].results]


def expected_rows(bundle: Bundle, examples: list[Example], weight: float = 0.5, row: int = 0, sensor: str = "s2",
                  area=None) -> list[tuple[int, str]]:
    """The results of the query patch and `examples` searched by the engine directly (the page's defaults)."""
    vector = feedback_vector([Example(bundle.embeddings[sensor][row], sensor), *examples], weight)
    response = SearchEngine(bundle).search(Query(vector, sensor, pair_row=row), ("s1", "s2"), 10, Filters(area=area))
    return [(r.row, r.sensor) for r in response.results]


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not [e.value for e in at.error]
    return at


def card_key(at: AppTest, row: int, sensor: str) -> str:
    return f"feedback_all_{shown_rows(at).index((row, sensor)) + 1}"


def feedback(at: AppTest, row: int, sensor: str, *choices: str) -> AppTest:
    at.button_group(key=card_key(at, row, sensor)).set_value(list(choices)).run()
    return ok(at)


class RecordingStorage(MemoryMediaFileStorage):
    """AppTest's media storage, kept: a download button's bytes are read back from the last run's."""

    last: RecordingStorage | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordingStorage.last = self


@pytest.fixture
def downloads(monkeypatch):
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", RecordingStorage)

    def content(at: AppTest, key: str) -> bytes:
        [button] = [b for b in at.get("download_button") if b.proto.id.endswith(f"-{key}")]
        return RecordingStorage.last.get_file(button.proto.url.rsplit("/", 1)[1]).content

    return content


# ---------------------------------------------------------------- examples
def test_more_and_less_like_this_move_the_query_and_can_be_removed(bundle):
    at = ok(page(0, "s2"))
    plain = shown_rows(at)
    assert plain == expected_rows(bundle, [])
    (row, sensor), (neg_row, neg_sensor) = plain[2], plain[5]
    feedback(at, row, sensor, "More like this")
    feedback(at, neg_row, neg_sensor, "Less like this")
    examples = at.session_state[KEY_EXAMPLES]
    assert [(e.row, e.sensor, e.positive) for e in examples] == [(row, sensor, True), (neg_row, neg_sensor, False)]
    moved = shown_rows(at)
    assert moved == expected_rows(bundle, examples) and moved != plain
    assert any("1 more like this, 1 less like this" in m.value for m in at.markdown)
    at.slider(key="negative_weight").set_value(1.0).run()
    assert shown_rows(ok(at)) == expected_rows(bundle, examples, 1.0) != moved
    at.button(key="remove_example_1").click().run()
    assert [(e.row, e.positive) for e in ok(at).session_state[KEY_EXAMPLES]] == [(row, True)]
    assert at.button_group(key=card_key(at, row, sensor)).value == ["More like this"]
    at.button(key="clear_examples").click().run()
    assert ok(at).session_state[KEY_EXAMPLES] == [] and shown_rows(at) == plain
    assert at.button_group(key=card_key(at, row, sensor)).value == []  # the card follows the strip


def test_the_current_query_kept_as_an_example_outlives_the_next_query(bundle):
    at = ok(page(3, "s1"))
    at.button(key="query_positive").click().run()
    at.session_state[KEY_QUERY] = QuerySpec("archive", "s2", 7)
    ok(at.run())
    [kept] = at.session_state[KEY_EXAMPLES]
    assert (kept.row, kept.sensor, kept.positive) == (3, "s1", True)
    assert shown_rows(at) == expected_rows(bundle, [kept], row=7)


def test_the_address_holds_the_examples_and_a_shared_link_restores_them():
    at = ok(page(0, "s2"))
    (row, sensor), (neg_row, neg_sensor) = shown_rows(at)[1], shown_rows(at)[4]
    feedback(at, row, sensor, "More like this")
    feedback(at, neg_row, neg_sensor, "Less like this")
    params = dict(at.query_params)
    assert params["examples"].count(",") == 1 and params["examples"].split(",")[1].startswith(f"-{neg_sensor}:")
    shared = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    for name, value in params.items():
        shared.query_params[name] = value
    ok(shared.run())
    restored = shared.session_state[KEY_EXAMPLES]
    assert [(e.row, e.sensor, e.positive) for e in restored] == [(row, sensor, True), (neg_row, neg_sensor, False)]
    assert shown_rows(shared) == shown_rows(at)


def test_a_bad_example_in_the_address_is_named_and_left_out():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["pair"] = "S2A_MSIL2A_20170613T101031_87_48"
    at.query_params["examples"] = "s3:nope,s1:unknown_pair"
    at.query_params["weight"] = "2"
    at.run()
    assert not at.exception and at.session_state[KEY_EXAMPLES] == []
    warning = " ".join(w.value for w in at.warning)
    assert "an example must be" in warning and "does not hold the example" in warning
    assert "weight of negative examples" in warning


# ---------------------------------------------------------------- area of interest
def upload_area(at: AppTest, geometry, name: str = "area.geojson") -> AppTest:
    data = json.dumps(geometry).encode() if not isinstance(geometry, bytes) else geometry
    open_filters(at)  # the area is among the filters
    at.file_uploader(key="area_file_0").set_value([(name, data, "application/geo+json")]).run()
    return at


def test_an_uploaded_area_restricts_the_results_inside_and_outside(bundle):
    at = ok(page(0, "s2"))
    everywhere = set(shown_rows(at))
    ok(upload_area(at, SQUARE))
    inside = shown_rows(at)
    lon, lat = bundle.table["lon"], bundle.table["lat"]
    assert inside and all(-30 <= lon[r] <= 45 and 30 <= lat[r] <= 50 for r, _ in inside)
    assert set(inside) != everywhere
    assert any("inside" in m.value and "archive pairs" in m.value for m in at.markdown)
    at.radio(key="area_side").set_value("Outside the area").run()
    outside = shown_rows(ok(at))
    assert outside and not set(outside) & set(inside) and all(not (30 <= lat[r] <= 50) or not (-30 <= lon[r] <= 45)
                                                               for r, _ in outside)
    params = dict(at.query_params)
    assert json.loads(params["area"]) == SQUARE and params["keep"] == "outside"
    shared = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    for name, value in params.items():
        shared.query_params[name] = value
    assert shown_rows(ok(shared.run())) == outside  # a shared link keeps the area and its side
    at.button(key="clear_area").click().run()
    assert set(shown_rows(ok(at))) == everywhere and "area" not in at.query_params


@pytest.mark.parametrize("content, message", [
    ({"type": "Point", "coordinates": [10, 50]}, "not a polygon"),
    (BOWTIE, "not a valid polygon"),
    (b"{not json", "is not GeoJSON"),
])
def test_a_bad_area_file_gets_its_message(content, message):
    at = upload_area(page(0, "s2"), content)
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert message in errors and "area of interest cannot be used" in errors


# ---------------------------------------------------------------- training set
def test_the_training_set_downloads_hold_the_examples_and_accepted_results(downloads, tmp_path, demo_archive):
    at = ok(page(0, "s2"))
    rows = shown_rows(at)
    feedback(at, *rows[0], "More like this")
    feedback(at, *rows[1], "Less like this")
    feedback(at, *rows[2], "Accept")
    assert set(at.session_state[KEY_ACCEPTED]) == {rows[2]}
    table = list(csv.DictReader(io.StringIO(downloads(at, "download_training_csv").decode())))
    assert [(int(r["row"]), r["sensor"], r["role"], r["positive"]) for r in table] == [
        (rows[0][0], rows[0][1], "example", "True"), (rows[1][0], rows[1][1], "example", "False"),
        (rows[2][0], rows[2][1], "result", "True")]
    geojson = json.loads(downloads(at, "download_training_geojson"))
    assert [f["properties"]["row"] for f in geojson["features"]] == [r for r, _ in rows[:3]]
    assert all(f["geometry"]["type"] == "Polygon" for f in geojson["features"])
    at.button(key="prepare_training_zip").click().run()
    with zipfile.ZipFile(io.BytesIO(downloads(ok(at), "download_training_zip"))) as archive:
        archive.extractall(tmp_path)
    back, table = BenV2Folders(tmp_path), Bundle(BUNDLE).table
    assert sorted(back.table["pair_id"]) == sorted({table.at[r, "pair_id"] for r, _ in rows[:3]})
    read = back[0]
    original = demo_archive[demo_archive.index_of(read.s2.name)]
    np.testing.assert_array_equal(read.s2.bands["B04"], original.s2.bands["B04"])
    np.testing.assert_array_equal(read.s1.bands["VV"], original.s1.bands["VV"])


# ---------------------------------------------------------------- sessions
def load_session_file(at: AppTest, data: bytes, name: str = "search_session.json") -> AppTest:
    at.file_uploader(key="session_file").set_value([(name, data, "application/json")]).run()
    return at


def test_a_saved_session_restores_query_examples_area_and_filters(downloads):
    at = ok(page(5, "s1"))
    rows = shown_rows(at)
    feedback(at, *rows[0], "More like this")
    feedback(at, *rows[3], "Less like this")
    ok(upload_area(at, SQUARE))
    at.radio(key="area_side").set_value("Outside the area").run()
    at.session_state[KEY_COUNTRIES] = ["Finland"]
    ok(at.run())
    saved = downloads(at, "save_session")
    document = json.loads(saved)
    assert document["query"] == {"sensor": "s1", "row": 5, "embedding": None, "name": "archive row 5"}
    assert document["filters"]["countries"] == ["Finland"] and document["area"]["properties"]["keep"] == "outside"

    fresh = ok(page(9, "s2"))
    ok(load_session_file(fresh, saved))
    spec = fresh.session_state[KEY_QUERY]
    assert (spec.kind, spec.row, spec.sensor) == ("archive", 5, "s1")
    assert [(e.row, e.sensor, e.positive) for e in fresh.session_state[KEY_EXAMPLES]] == [
        (e.row, e.sensor, e.positive) for e in at.session_state[KEY_EXAMPLES]]
    assert fresh.session_state[KEY_COUNTRIES] == ["Finland"]
    assert shown_rows(fresh) == shown_rows(at)
    assert any("Session loaded" in i.value for i in fresh.info)  # shown once
    assert open_filters(fresh).radio(key="area_side").value == "Outside the area"


def test_a_fresh_page_loads_a_session_before_any_search(downloads):
    at = ok(page(5, "s1"))
    saved = downloads(at, "save_session")
    fresh = ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run())
    assert not any("most similar" in h.value for h in fresh.subheader)  # no query, no results yet
    assert not [b for b in fresh.get("download_button") if b.proto.id.endswith("-save_session")]  # nothing to save
    ok(load_session_file(fresh, saved))
    spec = fresh.session_state[KEY_QUERY]
    assert (spec.kind, spec.row, spec.sensor) == ("archive", 5, "s1") and shown_rows(fresh) == shown_rows(at)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["bundle"].update(name="another bundle"), "belongs to bundle 'another bundle'"),
    (lambda d: d.update(format="something else"), "is not a search session of this app"),
    (lambda d: d["query"].update(row=10**6), "is not a row of this bundle"),
])
def test_a_session_of_another_bundle_or_a_broken_one_gets_its_message(downloads, edit, message):
    at = ok(page(2, "s2"))
    document = json.loads(downloads(at, "save_session"))
    edit(document)
    load_session_file(at, json.dumps(document).encode())
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "The session was not loaded" in errors and message in errors
    assert at.session_state[KEY_QUERY].row == 2  # nothing of it was applied


def mixed_examples_page(folder: str):
    """with_examples on a bundle whose model keeps S1 and S2 in separate spaces, with an S1 example."""
    import streamlit as st

    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.queries import archive_query
    from pages.ui.examples import archive_example, set_examples, with_examples
    from pages.ui.resources import Backend

    bundle = Bundle(folder)
    backend = Backend({"name": "separate"}, None, bundle, None, None)
    set_examples([archive_example(backend, 5, "s1", True, "an S1 patch")])
    query = archive_query(bundle, 3, "s2")
    st.session_state["unchanged"] = with_examples(backend, query) is query


def test_mixed_sensor_examples_are_refused_where_the_spaces_are_separate(tmp_path):
    import shutil

    folder = tmp_path / "separate"
    shutil.copytree(BUNDLE, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["model"].update(cross_sensor=False)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    at = AppTest.from_function(mixed_examples_page, args=(str(folder),), default_timeout=60).run()
    assert not at.exception and at.session_state["unchanged"]
    [error] = [e.value for e in at.error]
    assert "examples are not used" in error and "separate spaces" in error


# ---------------------------------------------------------------- the address (pure)
PAIRS = {"S2A_MSIL2A_20170613T101031_87_48": 0, "S2B_MSIL2A_20180204T94161_57_38": 7}


def test_an_address_of_examples_weight_and_area_reads_back():
    area = read_area(SQUARE, inside=False)
    examples = (AddressExample("S2B_MSIL2A_20180204T94161_57_38", 7, "s1", False),
                AddressExample("S2A_MSIL2A_20170613T101031_87_48", 0, "s2", True))
    params = address_of("S2A_MSIL2A_20170613T101031_87_48", "s2", 600, ("s1", "s2"), examples, 0.25, area)
    assert params["examples"] == "-s1:S2B_MSIL2A_20180204T94161_57_38,s2:S2A_MSIL2A_20170613T101031_87_48"
    assert (params["weight"], params["keep"]) == ("0.25", "outside")
    address = parse_address(params, ("s1", "s2"), PAIRS.get)
    assert address.problems == [] and address.search.k == 600
    assert address.search.examples == examples and address.search.weight == 0.25
    assert not address.search.area.inside and address.search.area.polygon.equals(area.polygon)


def test_an_area_too_large_for_an_address_is_left_out():
    ring = [[10 + 5 * np.cos(t), 48 + 3 * np.sin(t)] for t in np.linspace(0, 2 * np.pi, 400)[:-1]]
    big = read_area({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})
    assert area_parameter(big) is None and "area" not in address_of("p", "s2", 10, ("s2",), area=big)


@pytest.mark.parametrize("params, problem", [
    ({"area": json.dumps(BOWTIE)}, "not a valid polygon"),
    ({"area": json.dumps({"type": "Point", "coordinates": [1, 2]})}, "not a polygon"),
    ({"area": "{broken", "keep": "sideways"}, "keep must be inside or outside"),
    ({"area": "x" * 5000}, "longer than 2,000 characters"),
    ({"examples": "s2:" + "S2A_MSIL2A_20170613T101031_87_48," * 60}, "at most 49 examples"),
    ({"weight": "0.5e1"}, "weight of negative examples must be a number from 0 to 1"),
])
def test_bad_workflow_values_in_an_address_are_named_never_a_crash(params, problem):
    address = parse_address({"pair": "S2A_MSIL2A_20170613T101031_87_48", **params}, ("s1", "s2"), PAIRS.get)
    assert address.search is not None and address.search.area is None
    assert any(problem in what for what, _ in address.problems)


def test_an_upload_kept_as_an_example_brings_its_embedding_and_preview(bundle):
    files = [(p.name, p.read_bytes(), "image/tiff") for p in sorted(V1_S2.glob("*.tif"))]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.file_uploader(key="upload_files").set_value(files).run()
    ok(at).button(key="query_negative").click().run()
    [kept] = ok(at).session_state[KEY_EXAMPLES]
    assert (kept.row, kept.sensor, kept.positive) == (None, "s2", False) and kept.name.startswith("upload ")
    assert kept.name in at.session_state[KEY_EXAMPLE_IMAGES]
    record = at.session_state[KEY_QUERY].record
    [(held, vector)] = at.session_state[KEY_EMBEDDING]
    assert held is record and np.allclose(kept.vector, vector)
    at.session_state[KEY_QUERY] = QuerySpec("archive", "s2", 7)
    assert shown_rows(ok(at.run())) == expected_rows(bundle, [kept], row=7)
    assert "examples that are no single archive patch" in " ".join(c.value for c in at.caption)


def test_another_bundle_drops_the_examples_and_refuses_the_session(downloads):
    at = ok(page(2, "s2"))
    feedback(at, *shown_rows(at)[0], "More like this")
    saved = downloads(at, "save_session")
    at.selectbox(key="catalogue_entry").set_value("CSMAE demo, train split only (24 pairs)").run()
    assert at.session_state[KEY_EXAMPLES] == []  # their rows and embeddings are the other bundle's
    assert any("belonged to another model's bundle" in w.value for w in at.warning)
    load_session_file(at, saved)
    errors = " ".join(e.value for e in at.error)
    assert "belongs to bundle" in errors and "pick that bundle in the sidebar first" in errors


def test_an_example_over_the_limit_is_refused_with_a_message(bundle):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[KEY_QUERY] = QuerySpec("archive", "s2", 59)
    at.session_state[KEY_EXAMPLES] = [Example(bundle.embeddings["s1"][row], "s1", True, "", row) for row in range(49)]
    ok(at.run()).button(key="query_positive").click().run()
    assert len(ok(at).session_state[KEY_EXAMPLES]) == 49
    assert any("at most 49 examples (the query itself is one more)" in w.value for w in at.warning)


def test_an_area_around_a_dissimilar_patch_does_not_make_the_query_look_out_of_distribution(bundle):
    """The trust panel judges the query by its best score over the whole archive, not the restricted one."""
    at = ok(page(0, "s2"))
    assert not [w for w in at.warning if "Out of distribution" in w.value]
    scores = bundle.embeddings["s2"] @ bundle.embeddings["s2"][0]
    far = int(np.argmin(scores))
    lon, lat, d = float(bundle.table.loc[far, "lon"]), float(bundle.table.loc[far, "lat"]), 0.001
    square = {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                                                  [lon - d, lat + d], [lon - d, lat - d]]]}
    ok(upload_area(at, square))
    assert {row for row, _ in shown_rows(at)} == {far}
    assert not [w for w in at.warning if "Out of distribution" in w.value]


def test_the_page_says_when_its_address_cannot_hold_the_area():
    """An area too long for a link is searched, left out of the address, and the page says so."""
    angles = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    ring = [[round(15 + 20 * np.cos(a), 6), round(50 + 15 * np.sin(a), 6)] for a in angles]
    at = ok(upload_area(ok(page(0, "s2")), {"type": "Polygon", "coordinates": [ring + ring[:1]]}))
    assert "area" not in at.query_params and "pair" in at.query_params
    assert any("the area of interest (too large for an address)" in c.value for c in at.caption)

"""The payload corpus (tests/payloads.py) through every place the app shows text it did not write, in
AppTest: values of the address, names of uploaded files, labels in an uploaded patch's labels JSON, and a
custom archive whose pair ids, S1 names, countries, seasons and bundle name are payloads (search
results, gallery, map popups and tooltips, the explorer, the evaluation and about pages). Every rendered
Markdown body and HTML element must be free of link, image, autolink and (where HTML is on) tag markup (the
page's own preview images in result cards aside), no exception may escape, and every quoted value is cut. tests/e2e/test_hostile.py renders the same in a real browser."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, V1_S1, V1_S2
from pages.ui.widgets import PAGE_CSS
from tests.payloads import HOST, PAGE_IMAGE, PAYLOADS, archive_value, html_problems, markdown_problems, \
    write_payload_catalogue

TEXT_ELEMENTS = ("markdown", "caption", "error", "warning", "info", "success", "title", "header", "subheader")
# what an escaped JavaScript string in a folium map may never hold
MAP_BREAKOUTS = ("${alert", "`); alert", f"http://{HOST}", 'src="http', "<script>alert")


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def rendered_problems(at) -> list[tuple[str, str, list[str]]]:
    """(element type, start of the body, forbidden patterns) of every rendered text that links or loads."""
    assert not at.exception, [e.value for e in at.exception]
    found = []
    for kind in TEXT_ELEMENTS:
        for element in getattr(at, kind):
            html = kind == "markdown" and element.proto.allow_html
            problems = markdown_problems(element.value, html=html)
            if problems or len(element.value) > 3000:
                found.append((kind, element.value[:120], problems or ["longer than 3000 characters"]))
    for element in at.get("html"):  # result cards (pages/ui/results_gallery.card_html)
        body = PAGE_IMAGE.sub("", element.value)
        problems = [] if element.value == PAGE_CSS else html_problems(element.value)
        if problems or len(body) > 3000:
            found.append(("html", body[:120], problems or ["longer than 3000 characters"]))
    for component in at.get("component_instance"):
        arguments = component.proto.json_args
        found += [("map", arguments[:60], [b]) for b in MAP_BREAKOUTS if b in arguments]
    return found


# ------------------------------------------------------------------------------------- the address


@pytest.mark.parametrize("name", PAYLOADS)
def test_a_hostile_address_is_quoted_plainly(name):
    at = app()
    at.query_params.update({"pair": PAYLOADS[name], "sensor": PAYLOADS[name][:200], "k": PAYLOADS[name][:200],
                            "targets": PAYLOADS[name][:200]})
    at.run()
    assert rendered_problems(at) == []
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("The link could not be followed as given: ") and len(warning) < 800


# ------------------------------------------------------------------------------------------- uploads


def s1_geotiff() -> bytes:
    """The real v1 S1 patch as one 2-band GeoTIFF (VV, VH), in memory."""
    import numpy as np
    import rasterio
    from rasterio.io import MemoryFile

    bands = []
    for pol in ("VV", "VH"):
        with rasterio.open(V1_S1 / f"{V1_S1.name}_{pol}.tif") as dataset:
            bands.append(dataset.read(1))
            profile = {"crs": dataset.crs, "transform": dataset.transform}
    with MemoryFile() as memory:
        with memory.open(driver="GTiff", count=2, width=120, height=120, dtype="float32", **profile) as out:
            out.write(np.stack(bands).astype("float32"))
        return memory.read()


@pytest.mark.parametrize("name", [n for n in PAYLOADS if n not in ("long",)])
def test_uploaded_file_names_are_shown_plainly_in_results_and_in_errors(name):
    file_name = PAYLOADS[name].replace("/", "\u2215") + ".tif"  # a file name holds no '/'
    at = app().run()
    at.file_uploader(key="upload_files").set_value([(file_name, s1_geotiff(), "image/tiff")]).run()
    assert [h.value for h in at.subheader if "most similar" in h.value] == ["10 most similar patches"]
    assert rendered_problems(at) == []
    at.file_uploader(key="upload_files").set_value([(file_name, b"not a tiff", "image/tiff")]).run()
    assert len(at.error) == 1 and rendered_problems(at) == []


def test_a_very_long_file_name_is_refused_plainly():
    at = app().run()
    at.file_uploader(key="upload_files").set_value([(PAYLOADS["long"][:240] + ".tif", s1_geotiff(), "image/tiff")])
    at.run()
    assert rendered_problems(at) == []


def test_labels_of_an_uploaded_labels_json_are_quoted_plainly():
    for name in ("markdown-link", "html-image", "literal-autolink", "template-breakout"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in sorted(V1_S2.iterdir()):
                data = path.read_bytes()
                if path.name.endswith("_labels_metadata.json"):
                    data = json.dumps({"labels": ["Arable land", PAYLOADS[name]]}).encode()
                archive.writestr(f"{V1_S2.name}/{path.name}", data)
        at = app().run()
        at.file_uploader(key="upload_files").set_value([("patch.zip", buffer.getvalue(), "application/zip")]).run()
        assert len(at.error) == 1 and "field 'labels' holds unknown label" in at.error[0].value
        assert rendered_problems(at) == []


# -------------------------------------------------------------------------------- a hostile archive


@pytest.fixture(scope="module")
def payload_catalogue(tmp_path_factory):
    return write_payload_catalogue(tmp_path_factory.mktemp("payload-archive"))


@pytest.fixture
def hostile_app(payload_catalogue, monkeypatch):
    monkeypatch.setenv("CSMAE_CATALOGUE", str(payload_catalogue))
    return app()


def test_a_hostile_archive_searched_from_the_address_shows_its_text_plainly(hostile_app):
    at = hostile_app
    at.query_params.update({"pair": archive_value(0), "k": "50", "targets": "s1,s2"})
    at.run()
    assert [h.value for h in at.subheader if "most similar" in h.value] == ["50 most similar patches"]
    assert rendered_problems(at) == []
    assert at.query_params["pair"] == archive_value(0)  # the address names the pair exactly
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.text_input(key="table_filter").set_value("evil").run()
    at.selectbox(key="table_pick").set_value(3).run()  # row 3 holds "evil" in its pair id
    assert rendered_problems(at) == []


def test_a_hostile_archive_in_the_explorer_evaluation_and_about_pages(hostile_app):
    at = hostile_app.run()
    at.switch_page("pages/explorer.py").run()
    assert rendered_problems(at) == []
    for row in (0, 1, 5, 9, 14):
        at.session_state["explorer_pair"] = archive_value(row)
        at.run()
        assert rendered_problems(at) == [] and any(archive_value(row)[:2] in m.value for m in at.markdown)
    for page in ("pages/evaluation.py", "pages/about.py"):
        at.switch_page(page).run()
        assert rendered_problems(at) == []


def test_a_pair_id_typed_in_the_explorer_that_the_archive_lacks_is_quoted_plainly(hostile_app):
    at = hostile_app
    at.session_state["explorer_pair"] = PAYLOADS["markdown-image"]
    at.switch_page("pages/explorer.py").run()
    assert rendered_problems(at) == [] and any("holds no pair" in w.value for w in at.warning)

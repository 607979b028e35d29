"""AppTest of the search page with real-world uploads: an offset product that declares nothing is read as it
is and the trust panel says it is out of distribution; an archive patch is in distribution; a zip of one
pair's S1 and S2 folders searches with both together."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from pages.ui.trust import KEY_TRUST_OPEN
from scripts.measure_inputs import FORMS, footprint_of
from tests.conftest import ROOT, open_expander

ROW = 3


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)


@pytest.fixture(scope="module")
def pair(demo_archive):
    row = demo_archive.table.iloc[ROW]
    return demo_archive.load_pair(row), footprint_of(row)


def upload(at, paths, sensor="detect"):
    at.selectbox(key="upload_sensor").set_value(sensor)
    at.file_uploader(key="upload_files").set_value(
        [(p.name, p.read_bytes(), "application/octet-stream") for p in paths])
    return at.run()


def warnings(at) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("Out of distribution")]


def test_undeclared_offset_product_is_flagged_out_of_distribution(pair, tmp_path):
    files = FORMS["s2-offset-undeclared"][2](*pair, tmp_path)
    at = upload(app().run(), files)
    assert not at.exception and not at.error
    shown = " ".join(warnings(at))
    assert "every band's darkest pixels are at" in shown and "an offset product" in shown
    notes = " ".join(c.value for c in at.caption)
    assert "declares no offset" in notes and "kept as they are" in notes


def test_declared_offset_product_is_in_distribution(pair, tmp_path):
    files = FORMS["s2-offset-tag"][2](*pair, tmp_path)
    at = upload(app().run(), files)
    assert not at.exception and not at.error and warnings(at) == []
    assert any("applied the offset -1000" in c.value for c in at.caption)
    assert any(h.value == "10 most similar patches" for h in at.subheader)


def test_archive_pick_shows_the_trust_details_without_warning():
    at = app().run()
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.selectbox(key="table_pick").set_value(ROW).run()
    assert not at.exception and warnings(at) == []
    assert any(e.label == "How this query compares with the archive" for e in at.expander)
    open_expander(at, KEY_TRUST_OPEN)
    assert any("Best match scores" in c.value for c in at.caption)


def test_pair_zip_searches_both_sensors_together(pair, tmp_path):
    files = FORMS["pair-zip"][2](*pair, tmp_path)
    at = upload(app().run(), files, sensor="pair")
    assert not at.exception and not at.error
    assert any("searched together" in m.value for m in at.markdown)
    assert any(h.value == "10 most similar patches" for h in at.subheader)
    assert results_rank_one_is_own_pair(at, pair[0].s2.name)


def results_rank_one_is_own_pair(at, pair_id: str) -> bool:
    response = at.session_state["response"]
    return response.results[0].pair_id == pair_id


def test_the_archive_is_measured_while_the_page_waits_for_a_query_not_during_the_first_search(monkeypatch):
    """The trust panel's yardsticks (~0.2 s of the demo's first search on a fresh server) are computed when
    the search page is first shown without a query, once per server."""
    import csmae_core.retrieval.trust as trust_core
    from pages.ui import trust

    measured = []
    original = trust_core.archive_profile
    monkeypatch.setattr(trust, "archive_profile", lambda *a, **k: measured.append(1) or original(*a, **k))
    trust.archive_yardsticks.clear()
    at = app().run()
    assert not at.exception and measured == [1]
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.selectbox(key="table_pick").set_value(ROW).run()
    assert not at.exception and warnings(at) == [] and measured == [1]

"""Models whose S1 and S2 embeddings live in separate spaces (uni-modal CMID, S2-only models): the app
searches the query's sensor only and reports no counterpart rank; the manifest says which kind a bundle is."""
import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.search import Query, SearchEngine
from pages.ui.state import KEY_RESPONSE
from tests.conftest import ROOT, summary_metrics

ASSETS = ROOT / "assets"


@pytest.fixture
def separate_bundle(tmp_path):
    """The demo bundle with its manifest saying the model's S1 and S2 spaces are separate (the manifest is
    not among the checksummed files, so the copy still verifies)."""
    folder = tmp_path / "separate"
    shutil.copytree(ASSETS / "bundles" / "demo", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["model"].update(cross_sensor=False, description="uni-modal test encoder", family="cmid")
    manifest["encoder_family"] = "cmid"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_bundle_reports_its_spaces_and_description(separate_bundle):
    demo, separate = Bundle(ASSETS / "bundles" / "demo"), Bundle(separate_bundle)
    assert demo.cross_sensor and demo.family == "csmae" and demo.model_description.startswith("CSMAE-SECD")
    assert not separate.cross_sensor and separate.family == "cmid"
    assert separate.model_description == "uni-modal test encoder"


def test_no_counterpart_rank_across_separate_spaces(separate_bundle):
    bundle = Bundle(separate_bundle)
    query = Query(bundle.embeddings["s1"][3], "s1", list(bundle.table.at[3, "labels"]), None, 3, "q")
    response = SearchEngine(bundle).search(query, ["s1"], 5)
    assert response.counterpart_rank is None and not response.counterpart_rank_bounded
    assert [r.sensor for r in response.results] == ["s1"] * 5
    cross = SearchEngine(Bundle(ASSETS / "bundles" / "demo")).search(query, ["s2"], 5)
    assert cross.counterpart_rank is not None


def test_search_page_searches_the_query_sensor_only(separate_bundle, tmp_path, monkeypatch):
    entry = {"name": "separate", "encoder_family": "cmid", "bundle": str(separate_bundle),
             "archive": str(ASSETS / "demo")}
    (tmp_path / "catalogue.json").write_text(json.dumps({"entries": [entry]}))
    monkeypatch.setenv("CSMAE_CATALOGUE", str(tmp_path / "catalogue.json"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.radio(key="pick_sensor").set_value("Sentinel-1 (radar)").run()
    at.selectbox(key="table_pick").set_value(3).run()
    assert not at.exception
    assert not [m for m in at.multiselect if m.key == "targets"]
    assert any("separate spaces" in c.value for c in at.caption)
    assert any("separate spaces" in c.value for c in at.sidebar.caption)
    metrics = summary_metrics(at)
    assert metrics["Counterpart rank"] == "–"
    assert {r.sensor for r in at.session_state[KEY_RESPONSE].results} == {"s1"}

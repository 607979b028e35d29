"""Encoder families end to end on the real demo archive: an official-layout CMID checkpoint (S2 true colour
only) is indexed into an S2-only bundle, served by the app and evaluated next to CSMAE in one table."""
import json
from collections import OrderedDict

import pytest
import timm
import torch
from streamlit.testing.v1 import AppTest

from csmae_core.retrieval.bundle import Bundle
from pages.ui.state import KEY_RESPONSE
from scripts import build_index, evaluate
from tests.conftest import ROOT, summary_metrics

ASSETS = ROOT / "assets"


@pytest.fixture(scope="module")
def official_bundle(tmp_path_factory):
    """A ResNet-50-layout network (small widths: the layout, not the size, is what is tested) saved the way
    the official extract.py writes backbones, then indexed with the project's script."""
    folder = tmp_path_factory.mktemp("official")
    torch.manual_seed(0)
    net = timm.create_model("resnet50", pretrained=False, num_classes=0, global_pool="",
                            layers=(1, 1, 1, 1), channels=(8, 8, 16, 16))
    torch.save(OrderedDict(net.state_dict()), folder / "cmid_resnet50_backbone.pth")
    assert build_index.main(["--model", str(folder / "cmid_resnet50_backbone.pth"), "--out", str(folder / "bundle"),
                             "--name", "official layout", "--accelerator", "cpu"]) == 0
    return folder


def test_s2_only_bundle_records_the_family(official_bundle):
    bundle = Bundle(official_bundle / "bundle")
    assert bundle.sensors == ("s2",) and not bundle.cross_sensor
    assert bundle.family == "cmid-official" and "S2 true colour" in bundle.model_description
    assert set(bundle.embeddings) == {"s2"} and bundle.embeddings["s2"].shape == (60, 64)


def test_app_serves_an_s2_only_model(official_bundle, tmp_path, monkeypatch):
    entry = {"name": "official", "encoder_family": "cmid-official",
             "model": str(official_bundle / "cmid_resnet50_backbone.pth"),
             "bundle": str(official_bundle / "bundle"), "archive": str(ASSETS / "demo")}
    (tmp_path / "catalogue.json").write_text(json.dumps({"entries": [entry]}))
    monkeypatch.setenv("CSMAE_CATALOGUE", str(tmp_path / "catalogue.json"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.segmented_control(key="query_source").set_value("Archive table").run()
    assert at.radio(key="pick_sensor").options == ["Sentinel-2 (optical)"]
    at.selectbox(key="table_pick").set_value(5).run()
    assert not at.exception and not at.error
    assert {r.sensor for r in at.session_state[KEY_RESPONSE].results} == {"s2"}
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "S2 true colour" in sidebar and "60 pairs × S2 ·" in sidebar


def test_evaluation_compares_families_in_one_table(official_bundle, tmp_path):
    out = tmp_path / "evaluation"
    assert evaluate.main(["--bundle", str(ASSETS / "bundles" / "demo"), "--bundle", str(official_bundle / "bundle"),
                          "--queries", "validation,test", "--archive-split", "validation,test",
                          "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    csmae, official = (metrics["models"][name] for name in ("CSMAE demo (self-supervised on all 60 pairs)",
                                                            "official layout"))
    assert csmae["family"] == "csmae" and official["family"] == "cmid-official"
    assert set(csmae["directions"]) == {"s1_s1", "s2_s2", "s1_s2", "s2_s1"}
    assert set(official["directions"]) == {"s2_s2"}
    assert {"band_statistics", "pixel_correlation", "random"} <= set(metrics["baselines"])


# ---------------------------------------------------------------- the committed CMID demo models
def test_catalogue_offers_both_families_and_the_cmid_model_searches_across_sensors():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    names = at.sidebar.selectbox(key="catalogue_entry").options
    assert any(n.startswith("CSMAE") for n in names) and any(n.startswith("CMID") for n in names)
    at.sidebar.selectbox(key="catalogue_entry").set_value("CMID demo (self-supervised on all 60 pairs)").run()
    assert "CMID cross-sensor ViT 192-d" in " ".join(c.value for c in at.sidebar.caption)
    at.segmented_control(key="query_source").set_value("Archive table").run()
    at.radio(key="pick_sensor").set_value("Sentinel-1 (radar)").run()
    at.selectbox(key="table_pick").set_value(7).run()
    assert not at.exception and not at.error
    at.multiselect(key="targets").set_value(["Sentinel-2"]).run()  # offered: S1 and S2 share one space
    assert {r.sensor for r in at.session_state[KEY_RESPONSE].results} == {"s2"}
    assert summary_metrics(at)["Counterpart rank"] not in ("–", None)


def test_committed_evaluation_compares_cmid_and_csmae_with_the_baselines():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.switch_page("pages/evaluation.py").run()
    assert not at.exception
    frame = next(d.value for d in at.dataframe if "Direction" in d.value.columns)
    encoders = set(frame["Encoder"])
    assert {"baseline", "CMID cross-sensor ViT 192-d, 6 blocks"} <= encoders
    assert any(e.startswith("CSMAE-SECD") for e in encoders)
    assert set(frame[frame["Encoder"].str.startswith("CMID")]["Direction"]) == {"S1→S1", "S2→S2", "S1→S2",
                                                                                 "S2→S1"}

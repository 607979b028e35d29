"""An archive pair's S1 and S2 images searched together: picked in the page, named in the address
(`sensor=pair`), restored from it; refused in the address where the model keeps separate spaces."""
from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.queries import archive_pair_query
from csmae_core.retrieval.search import SearchEngine
from pages.ui.address import parse_address, query_sensors
from pages.ui.state import KEY_QUERY
from tests.conftest import ROOT, summary_metrics

PAIR = "S2A_MSIL2A_20170613T101031_87_48"


def results_heading(at):
    return [h.value for h in at.subheader if "most similar" in h.value]


def test_the_address_names_a_pair_query_only_in_one_space():
    one_space = query_sensors(["s1", "s2"], cross_sensor=True)
    assert one_space == ["s1", "s2", "pair"] and query_sensors(["s1", "s2"], cross_sensor=False) == ["s1", "s2"]
    assert query_sensors(["s2"], cross_sensor=True) == ["s2"]
    address = parse_address({"pair": PAIR, "sensor": "pair"}, ["s1", "s2"], lambda _: 3, one_space)
    assert address.search.sensor == "pair" and address.search.targets == ("s1", "s2") and not address.problems
    separate = parse_address({"pair": PAIR, "sensor": "pair"}, ["s1", "s2"], lambda _: 3, ["s1", "s2"])
    assert separate.search.sensor == "s2" and "the sensor must be s1 or s2" in separate.problems[0][0]
    # "pair" is a query, never a target
    targets = parse_address({"pair": PAIR, "targets": "pair"}, ["s1", "s2"], lambda _: 3, one_space)
    assert targets.search.targets == ("s1", "s2") and targets.problems


def test_a_pair_link_searches_both_images_together_and_says_so():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update({"pair": PAIR, "sensor": "pair", "k": "6"})
    at.run()
    assert not at.exception and results_heading(at) == ["6 most similar patches"]
    spec = at.session_state[KEY_QUERY]
    assert spec.kind == "archive" and spec.sensor == "pair"
    assert any("Sentinel-1 + Sentinel-2" in m.value and "searched together" in m.value for m in at.markdown)
    metrics = summary_metrics(at)
    assert metrics["Counterpart rank"] == "–"  # a pair query has no counterpart
    assert at.query_params["sensor"] == "pair" and at.query_params["pair"] == PAIR
    # the results are the engine's for the normalised mean of the pair's two embeddings
    bundle = Bundle(ROOT / "assets" / "bundles" / "demo")
    row = int(np.flatnonzero(bundle.table["pair_id"] == PAIR)[0])
    expected = SearchEngine(bundle).search(archive_pair_query(bundle, row), ["s1", "s2"], 6, counterpart=False)
    shown = [r.id for r in at.session_state["response"].results]
    assert shown == [r.id for r in expected.results]


def test_the_archive_pick_offers_both_together():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.segmented_control(key="query_source").set_value("Random example").run()
    assert "Both together (S1+S2)" in at.radio(key="pick_sensor").options
    at.radio(key="pick_sensor").set_value("Both together (S1+S2)").run()
    at.button(key="random_example").click().run()
    assert not at.exception and results_heading(at) == ["10 most similar patches"]
    assert at.session_state[KEY_QUERY].sensor == "pair"

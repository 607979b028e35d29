"""Two encoders on one query: csmae_core.retrieval.encoder_comparison on the committed demo bundles (CSMAE and
CMID, same 60-pair archive) and the compare page (Streamlit AppTest): side by side with their metrics, the
search page's archive query taken over, and bundles of different archives refused."""
from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pandas as pd
import pytest

from csmae_core import Bundle, SearchEngine
from csmae_core.errors import InputError
from csmae_core.retrieval.encoder_comparison import (
    check_same_archive,
    compare_on_pair,
    searchable_targets,
    shared_results,
)
from tests.conftest import ROOT

BUNDLES = ROOT / "assets" / "bundles"
CSMAE, CMID = "CSMAE demo (self-supervised on all 60 pairs)", "CMID demo (self-supervised on all 60 pairs)"


@pytest.fixture(scope="module")
def engines() -> list[tuple[str, SearchEngine]]:
    return [("CSMAE", SearchEngine(Bundle(BUNDLES / "demo"))), ("CMID", SearchEngine(Bundle(BUNDLES / "cmid-demo")))]


# ---------------------------------------------------------------- the core
def test_each_model_answers_with_its_own_vectors_and_metrics(engines):
    pair_id = engines[0][1].bundle.table.at[7, "pair_id"]
    answers = compare_on_pair(engines, pair_id, "s2", ("s1", "s2"), k=5)
    assert [a.name for a in answers] == ["CSMAE", "CMID"] and all(a.targets == ("s1", "s2") for a in answers)
    for answer, (_, engine) in zip(answers, engines):
        response = answer.response
        assert len(response.results) == 5 and set(response.metrics) >= {"P@k", "AP@k"}
        assert all(r.pair_id != pair_id for r in response.results)  # the query's own pair left out
        assert response.counterpart_rank is not None and response.counterpart_rank >= 1
        best = response.results[0]  # scored with this model's own query vector
        query = engine.bundle.embeddings["s2"][7]
        assert best.score == pytest.approx(float(engine.bundle.embeddings[best.sensor][best.row] @ query), abs=1e-5)
    first, second = (a.response for a in answers)
    assert answers[0].response.results[0].score != answers[1].response.results[0].score  # two models, two answers
    common = shared_results(first, second)
    assert common == {(r.pair_id, r.sensor) for r in first.results} & {(r.pair_id, r.sensor) for r in second.results}


def test_different_archives_are_refused_naming_what_differs(engines, tmp_path):
    other = SimpleNamespace(table=engines[0][1].bundle.table.assign(
        pair_id=lambda t: t["pair_id"].where(t.index > 1, "S2B_elsewhere_" + t.index.astype(str))))
    with pytest.raises(InputError, match=r"different archives \(60 and 60 pairs; 2 only in A's .*2 only in B's "
                                         r"\(e\.g\. S2B_elsewhere_0, S2B_elsewhere_1\)"):
        check_same_archive(engines[0][1].bundle, other, "A", "B")
    check_same_archive(engines[0][1].bundle, engines[1][1].bundle)  # same ids: no error


def test_a_model_with_separate_spaces_searches_the_query_sensor_only():
    separate = SimpleNamespace(sensors=("s1", "s2"), cross_sensor=False)
    assert searchable_targets(separate, "s1", ("s1", "s2")) == (("s1",), "S2 not searched: its S1 and S2 vectors "
                                                                           "live in separate spaces")
    s2_only = SimpleNamespace(sensors=("s2",), cross_sensor=False)
    assert searchable_targets(s2_only, "s2", ("s1", "s2")) == (("s2",), "S1 not searched: its bundle holds S2 only")
    shared = SimpleNamespace(sensors=("s1", "s2"), cross_sensor=True)
    assert searchable_targets(shared, "s1", ("s2",)) == (("s2",), "")


def test_unknown_pairs_and_unsearchable_sensors_say_what_to_do(engines):
    with pytest.raises(InputError, match="holds no pair 'nope'; pick a pair of its archive"):
        compare_on_pair(engines, "nope", "s2", ("s2",))
    separate = SimpleNamespace(bundle=SimpleNamespace(table=engines[0][1].bundle.table, sensors=("s1", "s2"),
                                                      cross_sensor=False))
    pair_id = engines[0][1].bundle.table.at[0, "pair_id"]
    with pytest.raises(InputError, match="cannot search S2 with an S1 query .*add S1 to the targets"):
        compare_on_pair([("separate", separate)], pair_id, "s1", ("s2",))


# ---------------------------------------------------------------- the page (Streamlit AppTest)
def compare_app():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    app.switch_page("pages/compare.py")
    return app


def test_page_takes_the_search_query_and_shows_both_models_side_by_side():
    from pages.ui.state import KEY_QUERY, QuerySpec

    app = compare_app()
    app.session_state[KEY_QUERY] = QuerySpec("archive", "s1", 12)
    app.run()
    assert not app.exception, app.exception
    pair_id = pd.read_parquet(BUNDLES / "demo" / "metadata.parquet")["pair_id"].iloc[12]
    assert app.selectbox(key="compare_pair").value == pair_id and app.radio(key="compare_sensor").value == "s1"
    assert app.selectbox(key="compare_first").value == CSMAE
    assert app.selectbox(key="compare_second").value == "CSMAE demo, train split only (24 pairs)"
    app.selectbox(key="compare_second").select(CMID).run()
    assert not app.exception
    assert [h.value for h in app.subheader] == [CSMAE, CMID]
    assert [m.label for m in app.metric] == ["P@k", "AP@k", "Counterpart rank"] * 2
    assert any("of the top 10 results are found by both models" in c.value for c in app.caption)
    assert len(app.image) == 1 + 2 * 10  # the query and each result's thumbnail
    app.number_input(key="compare_k").set_value(3).run()
    assert not app.exception and len(app.image) == 1 + 2 * 3
    # a pair picked here stays, the search page's query is not taken over again
    other = app.selectbox(key="compare_pair").options[20]
    app.selectbox(key="compare_pair").select(other).run()
    assert app.selectbox(key="compare_pair").value == other


def test_page_refuses_the_same_model_twice_and_an_unknown_pair():
    app = compare_app().run()
    assert not app.exception
    assert any("Pick an archive pair" in i.value for i in app.info)  # no search yet: pick one here
    app.selectbox(key="compare_second").select(CSMAE).run()
    assert any("two different models" in w.value for w in app.warning)
    typed = compare_app()
    typed.session_state["compare_pair"] = "S2A_no_such_patch"  # as if typed (AppTest can only pick options)
    typed.run()
    assert not typed.exception and any("holds no pair" in w.value for w in typed.warning)
    assert len(typed.metric) == 0


def test_page_refuses_bundles_of_different_archives(tmp_path, monkeypatch):
    """A catalogue whose second bundle indexes other pair ids (a copy of the demo with two ids renamed)."""
    other = tmp_path / "other"
    shutil.copytree(BUNDLES / "demo", other)
    table = pd.read_parquet(other / "metadata.parquet")
    table.loc[:1, "pair_id"] = ["S2B_elsewhere_0", "S2B_elsewhere_1"]
    table.to_parquet(other / "metadata.parquet")
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps({"entries": [
        {"name": "demo", "bundle": str(BUNDLES / "demo"), "model": str(ROOT / "assets" / "models" / "demo.pt")},
        {"name": "elsewhere", "bundle": str(other), "verify": False}]}))
    monkeypatch.setenv("CSMAE_CATALOGUE", str(catalogue))
    app = compare_app().run()
    assert not app.exception
    error = next(e.value for e in app.error)
    assert "cannot be compared" in error and "different archives" in error and "elsewhere" in error
    assert len(app.metric) == 0


def test_page_with_a_single_model_says_to_add_one(tmp_path, monkeypatch):
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps({"entries": [{"name": "demo", "bundle": str(BUNDLES / "demo")}]}))
    monkeypatch.setenv("CSMAE_CATALOGUE", str(catalogue))
    app = compare_app().run()
    assert not app.exception
    assert any("holds one model: add a second one" in i.value for i in app.info) and len(app.metric) == 0

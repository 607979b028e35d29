"""Both-sensor results merged on calibrated scores (retrieval/calibration.py): unit behaviour on generated
vectors, then the app's engine on the committed demo bundles, and the measuring script."""
import numpy as np
import pytest

from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.calibration import ScoreCalibrator, ScoreScale
from csmae_core.retrieval.search import Query, SearchEngine
from scripts import measure_merge
from tests.conftest import ROOT, result_cards


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def gapped_space(n=200, dim=16, seed=0, gap_degrees=70.0):
    """S1 and S2 of each pair share content (dims 1..), but S2 is tilted by `gap_degrees` towards dim 0, a
    direction no S1 vector has: every S1-S2 cosine shrinks by cos(gap) (a modality gap)."""
    rng = np.random.default_rng(seed)
    content = np.zeros((n, dim))
    content[:, 1:] = rng.standard_normal((n, dim - 1))
    s2_content = unit(content + 0.3 * np.pad(rng.standard_normal((n, dim - 1)), ((0, 0), (1, 0))))
    tilt = np.radians(gap_degrees)
    s2 = np.cos(tilt) * s2_content
    s2[:, 0] = np.sin(tilt)
    return {"s1": unit(content), "s2": unit(s2)}


def test_standardises_against_the_sensors_own_scores_for_this_query():
    embeddings = gapped_space()
    calibrator = ScoreCalibrator(embeddings)
    query = embeddings["s1"][3]
    for sensor in ("s1", "s2"):
        scores = embeddings[sensor] @ query
        calibrated = calibrator.calibrate(scores, query, sensor)
        assert calibrated.mean() == pytest.approx(0, abs=1e-6) and calibrated.std() == pytest.approx(1, rel=1e-5)
        assert np.array_equal(np.argsort(-calibrated, kind="stable"), np.argsort(-scores, kind="stable"))
    # raw: every S2 score is below the S1 ones around it; calibrated: the counterpart is exceptional in S2
    raw_s2, raw_s1 = embeddings["s2"] @ query, embeddings["s1"] @ query
    assert raw_s2[3] < np.sort(raw_s1)[-10]
    assert calibrator.calibrate(raw_s2, query, "s2")[3] > 2.0


def test_a_query_that_scores_everything_the_same_gets_zero_not_nan():
    assert ScoreScale(0.4, 0.0).apply(np.array([0.4, 0.4])).tolist() == [0.0, 0.0]
    calibrator = ScoreCalibrator({"s1": unit(np.ones((5, 4)))})
    assert calibrator.calibrate(np.full(5, 0.5), unit(np.ones(4)), "s1").tolist() == [0.0] * 5


def test_large_archives_use_a_fixed_sample():
    embeddings = gapped_space(n=500)
    calibrator = ScoreCalibrator(embeddings, sample_rows=300, exact_limit=400)
    assert len(calibrator.reference("s2")) == 300
    again = ScoreCalibrator(embeddings, sample_rows=300, exact_limit=400)
    assert np.array_equal(calibrator.reference("s2"), again.reference("s2"))
    exact = ScoreCalibrator(embeddings).scale(embeddings["s1"][0], "s2")
    sampled = calibrator.scale(embeddings["s1"][0], "s2")
    assert sampled.mean == pytest.approx(exact.mean, abs=0.02) and sampled.std == pytest.approx(exact.std, rel=0.1)


@pytest.fixture(scope="module")
def gapped_engine():
    """The committed CMID demo bundle: its S1 and S2 embeddings sit apart (pair cosine well below 1)."""
    return SearchEngine(Bundle(ROOT / "assets" / "bundles" / "cmid-demo-train"))


def archive_query(engine, row, sensor):
    table = engine.bundle.table
    return Query(engine.bundle.embeddings[sensor][row], sensor, labels=table.at[row, "labels"], pair_row=row)


def test_both_sensors_keep_raw_scores_and_are_ordered_by_calibrated_ones(gapped_engine):
    response = gapped_engine.search(archive_query(gapped_engine, 7, "s1"), ("s1", "s2"), k=10)
    calibrated = [r.calibrated_score for r in response.results]
    assert all(c is not None for c in calibrated) and calibrated == sorted(calibrated, reverse=True)
    for sensor in ("s1", "s2"):  # within a sensor the raw order stands, and the raw score is the cosine
        mine = [r for r in response.results if r.sensor == sensor]
        assert [r.score for r in mine] == sorted((r.score for r in mine), reverse=True)
        for r in mine:
            assert r.score == pytest.approx(float(gapped_engine.bundle.embeddings[sensor][r.row]
                                                  @ gapped_engine.bundle.embeddings["s1"][7]), abs=1e-5)
    one = gapped_engine.search(archive_query(gapped_engine, 7, "s1"), ("s1",), k=5)
    assert all(r.calibrated_score is None for r in one.results)


def test_raw_merge_is_still_available_for_comparison(gapped_engine):
    query = archive_query(gapped_engine, 7, "s2")
    raw = gapped_engine.search(query, ("s1", "s2"), k=10, calibrate=False)
    assert [r.score for r in raw.results] == sorted((r.score for r in raw.results), reverse=True)
    assert all(r.calibrated_score is None for r in raw.results)


@pytest.mark.parametrize("name", ["demo", "demo-train", "cmid-demo", "cmid-demo-train"])
def test_calibrated_merge_is_balanced_on_every_committed_bundle(name):
    """Whatever a model's modality gap, both sensors reach the merged list, at no cost in label precision."""
    engine = SearchEngine(Bundle(ROOT / "assets" / "bundles" / name))
    raw = measure_merge.merged_lists(engine, None, 10, calibrate=False)
    calibrated = measure_merge.merged_lists(engine, None, 10, calibrate=True)
    assert 0.35 <= calibrated["cross_sensor_share"] <= 0.65, calibrated
    assert calibrated["precision_at_k"] >= raw["precision_at_k"] - 0.02


def test_a_gap_no_longer_decides_the_merge():
    """Generated gapped space: by raw cosine an S1 query's top 10 over both sensors is all S1; calibrated,
    its own counterpart and other S2 patches get in."""
    embeddings = gapped_space()
    calibrator = ScoreCalibrator(embeddings)
    query = embeddings["s1"][3]
    merged = {}
    for calibrate in (False, True):
        candidates = []
        for sensor in ("s1", "s2"):
            scores = embeddings[sensor] @ query
            top = np.argsort(-scores)[:11]
            order = calibrator.calibrate(scores[top], query, sensor) if calibrate else scores[top]
            candidates += [(float(o), sensor, int(r)) for o, r in zip(order, top) if (sensor, r) != ("s1", 3)]
        merged[calibrate] = sorted(candidates, reverse=True)[:10]
    assert all(sensor == "s1" for _, sensor, _ in merged[False])
    assert ("s2", 3) in {(sensor, row) for _, sensor, row in merged[True]}


def test_measure_script_prints_a_table_and_refuses_bad_k(tmp_path, capsys):
    out = tmp_path / "merge.json"
    assert measure_merge.main(["--bundle", str(ROOT / "assets" / "bundles" / "demo"), "--json", str(out)]) == 0
    assert "| demo |" in capsys.readouterr().out and out.is_file()
    assert measure_merge.main(["--k", "0"]) == 2
    assert measure_merge.main(["--bundle", str(tmp_path / "missing")]) == 2


def test_the_gallery_shows_each_results_calibrated_score_when_both_sensors_are_searched():
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update({"pair": "S2A_MSIL2A_20170613T101031_87_48", "sensor": "s2", "k": "6"})
    at.run()
    response = at.session_state["response"]
    cards = {int(card.split('data-rank="')[1].split('"')[0]): card
             for card in result_cards(at)}  # the gallery's columns list cards column by column
    assert sorted(cards) == [1, 2, 3, 4, 5, 6] and all(r.calibrated_score is not None for r in response.results)
    assert all(f"{r.calibrated_score:+.1f} σ" in cards[r.rank] for r in response.results)
    at.query_params["targets"] = "s2"
    at.run()
    assert not any("σ" in card for card in result_cards(at))  # one sensor: raw order

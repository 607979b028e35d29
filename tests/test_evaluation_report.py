"""metrics.json has one owner: csmae_core.evaluation.compare assembles the report from plain embeddings,
report.write_outputs writes it and report.read_report reads it back checked, with clear errors."""
import json

import numpy as np
import pandas as pd
import pytest

from csmae_core.errors import DataNotFoundError, InputError
from csmae_core.evaluation.compare import EvaluatedModel, Protocol, describe_training, evaluate_models
from csmae_core.evaluation.inspection import confusion_frame, pair_of, projection_points, worst_table
from csmae_core.evaluation.projection import worst_queries
from csmae_core.evaluation.report import EvaluationReport, read_report, report_file, write_outputs
from csmae_core.labels import LABELS_19
from tests.conftest import ROOT

COMMITTED = ROOT / "assets" / "evaluation" / "demo"


def tiny_table(n: int = 12) -> pd.DataFrame:
    splits = ["train", "validation", "test"] * (n // 3)
    labels = [[LABELS_19[i % 4], LABELS_19[4 + i % 2]] for i in range(n)]
    return pd.DataFrame({"pair_id": [f"p{i}" for i in range(n)], "split": splits, "labels": labels})


def tiny_model(name: str, n: int = 12, cross_sensor: bool = True, seed: int = 0) -> EvaluatedModel:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return EvaluatedModel(name, "test model", "csmae", "tiny encoder", cross_sensor, "abc123",
                          {"s1": vectors, "s2": vectors[::-1].copy()})


# ---------------------------------------------------------------- assembling the report
def test_evaluate_models_writes_the_metrics_json_layout():
    table = tiny_table()
    report = evaluate_models([tiny_model("a"), tiny_model("b", cross_sensor=False, seed=1)], table,
                             Protocol("validation,test", "validation,test", (4, 2)), command="cmd")
    assert list(report)[:5] == ["definitions", "command", "protocol", "models", "baselines"]
    assert report["command"] == "cmd" and report["baselines"] == {}
    assert report["protocol"] == {"queries": "validation,test", "archive": "validation,test", "k": [4, 2],
                                  "query_count": 8, "archive_count": 8, "pair_ids": list(table["pair_id"])}
    assert list(report["models"]["a"]) == ["description", "family", "encoder", "cross_sensor", "model_hash",
                                           "directions"]
    assert set(report["models"]["a"]["directions"]) == {"s1_s1", "s2_s2", "s1_s2", "s2_s1"}
    assert set(report["models"]["b"]["directions"]) == {"s1_s1", "s2_s2"}   # separate spaces: uni-modal only
    assert report["s1_s2"] == report["models"]["a"]["directions"]["s1_s2"]  # the first model's on top
    assert set(report["s1_s1"]["precision"]) == {"4", "2"}


def test_a_split_that_selects_nothing_names_the_argument():
    with pytest.raises(InputError, match=r"no pairs of split 'nope' \(queries\).*'test', 'train', 'validation'"):
        evaluate_models([tiny_model("a")], tiny_table(), Protocol(queries="nope"))
    with pytest.raises(InputError, match="at least one model"):
        evaluate_models([], tiny_table())


def test_describe_training_from_the_card():
    card = {"data": {"pairs": 24, "split": "train"}, "epochs": 3}
    assert describe_training(card, "x") == "trained self-supervised on 24 pairs of split 'train' (3 epochs; labels never used)"
    assert describe_training({"origin": "converted"}, "x") == "converted"
    assert describe_training({}, "fallback") == "fallback"


# ---------------------------------------------------------------- reading it back
def test_written_report_reads_back_with_the_same_numbers(tmp_path):
    data = evaluate_models([tiny_model("a")], tiny_table(), Protocol("validation,test", "test", (4, 2)))
    write_outputs(tmp_path, data)
    report = read_report(tmp_path)                                     # the folder or the file
    assert report.data == read_report(report_file(tmp_path)).data == json.loads(json.dumps(data))
    assert report.cutoffs == [4, 2] and report.k == 4
    assert list(report.entries()) == ["a"]
    frame = report.summary_frame(4)
    assert list(frame["Direction"]) == ["S1→S1", "S2→S2", "S1→S2", "S2→S1"]
    assert frame["P@4"].iloc[2] == pytest.approx(data["models"]["a"]["directions"]["s1_s2"]["precision"]["4"])
    assert report.archive_splits == frozenset({"test"})
    assert report.archive_rows(tiny_table()["split"]).tolist() == [2, 5, 8, 11]
    assert report.matches_rows(tiny_table()["pair_id"]) and not report.matches_rows(["p0"])
    assert report.per_class_frame("a").shape == (19, 4)


def test_the_committed_evaluation_reads():
    report = read_report(COMMITTED / "metrics.json")
    entries = report.entries()
    assert {"random (baseline)", "band_statistics (baseline)", "pixel_correlation (baseline)"} <= set(entries)
    assert report.encoder_of("baseline", "random") == "baseline"
    first = next(iter(report.models))
    assert report.encoder_of("model", first) == report.models[first]["encoder"]
    assert report.cutoffs == sorted(report.protocol["k"], reverse=True)
    assert report.archive_splits == frozenset({"validation", "test"})
    assert report.per_class_frame("band_statistics (baseline)").shape == (19, 2)


def test_missing_report_is_a_clear_data_not_found_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="no .*metrics.json; create it by running the evaluation"):
        read_report(tmp_path)
    with pytest.raises(FileNotFoundError):                              # DataNotFoundError is one
        read_report(tmp_path / "nowhere" / "metrics.json")


def test_bad_json_is_a_clear_input_error(tmp_path):
    (tmp_path / "metrics.json").write_text("{ not json")
    with pytest.raises(InputError, match="metrics.json is not a readable JSON file .*re-create it"):
        read_report(tmp_path)
    (tmp_path / "metrics.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not a readable JSON file"):
        read_report(tmp_path)


@pytest.mark.parametrize("data, problem", [
    ([1, 2], "it is not a JSON object"),
    ({"protocol": {}}, "it holds no models"),
    ({"models": {}}, "it holds no models"),
    ({"models": {"a": {"description": "no directions"}}}, "a model has no directions"),
    ({"models": {"a": {"directions": {}}}, "protocol": [1]}, "its protocol or baselines are not objects"),
    ({"models": {"a": {"directions": {}}}, "baselines": "x"}, "its protocol or baselines are not objects"),
])
def test_missing_fields_are_clear_input_errors(tmp_path, data, problem):
    (tmp_path / "metrics.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=f"is not an evaluation report: {problem}; re-create it"):
        read_report(tmp_path)
    with pytest.raises(InputError, match=problem):
        EvaluationReport(data)


def test_old_files_without_protocol_k_or_encoder_still_read(tmp_path):
    data = {"models": {"m": {"family": "cmid", "directions": {"s1_s1": {"precision": {"5": 0.5, "10": 0.4}}}}}}
    (tmp_path / "metrics.json").write_text(json.dumps(data))
    report = read_report(tmp_path)
    assert report.cutoffs == [10, 5] and report.encoder_of("model", "m") == "cmid"
    assert report.command == "(not recorded)" and report.archive_splits is None and report.pair_ids is None
    assert report.summary_frame(10)["mAP@10"].isna().all()
    assert report.per_class_frame("m") is None


# ---------------------------------------------------------------- failure inspection on plain data
def test_inspection_helpers_on_plain_data():
    table = tiny_table()
    model = tiny_model("a")
    report = EvaluationReport(evaluate_models([model], table, Protocol("validation,test", "validation,test", (4,))))
    entry = report.models["a"]["directions"]["s1_s2"]
    worst = worst_queries(entry, "ap", 3)
    frame = worst_table(report, worst, table)
    assert list(frame.columns) == ["Row", "AP@4", "Counterpart rank", "Pair", "Labels"]
    assert frame["Pair"].tolist() == [f"p{q['row']}" for q in worst] and all(frame["Labels"])
    assert pair_of(report, table, 99) == "row 99"
    assert confusion_frame(entry).shape == (19, 19) and confusion_frame({}) is None
    points = projection_points(table, model.embeddings, [("s1", 3), ("s2", 4)], cap=100)
    assert len(points) == 24 and set(points["sensor"]) == {"S1", "S2"}
    assert points.set_index(["sensor", "row"]).loc[("S1", 3), "role"] == "query"
    assert points.set_index(["sensor", "row"]).loc[("S2", 4), "role"] == "result"
    assert (points["role"] == "archive").sum() == 22

"""scripts/compare_counterpart_ranks.py: paired bootstrap of counterpart MRR differences."""
import json

import numpy as np
import pytest

from scripts.compare_counterpart_ranks import counterpart_ranks, main, paired_bootstrap


def metrics(tmp_path, better, worse):
    data = {"models": {"m": {"directions": {d: {"counterpart_ranks": better} for d in ("s1_s2", "s2_s1")}}},
            "baselines": {"pixel_correlation": {d: {"counterpart_ranks": worse} for d in ("s1_s2", "s2_s1")}}}
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(data))
    return path, data


def test_a_consistent_gain_has_an_interval_above_zero_and_a_tie_one_around_it():
    mrr_a, mrr_b, diff, low, high = paired_bootstrap(np.ones(36), np.full(36, 2.0))
    assert (mrr_a, mrr_b, diff) == (1.0, 0.5, 0.5) and low == high == 0.5
    ranks = np.random.default_rng(1).integers(1, 20, 36).astype(float)
    _, _, diff, low, high = paired_bootstrap(ranks, np.roll(ranks, 1))
    assert low < 0 < high and low <= diff <= high


def test_the_table_names_models_and_baselines_and_refuses_unknown_names(tmp_path, capsys):
    path, data = metrics(tmp_path, [1, 1, 2], [2, 4, 4])
    assert list(counterpart_ranks(data, "pixel_correlation", "s1_s2")) == [2, 4, 4]
    main([str(path), "m", "pixel_correlation"])
    table = capsys.readouterr().out
    assert "| S1->S2 | 0.833 | 0.333 | +0.500 |" in table and "S2->S1" in table
    with pytest.raises(SystemExit, match="'nope' is not in this metrics.json; choose one of: m, pixel_correlation"):
        main([str(path), "nope", "m"])

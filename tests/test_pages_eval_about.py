"""The Evaluation and About pages (Streamlit AppTest) and their pure helpers (csmae_core.evaluation.projection)."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from csmae_core.errors import InputError
from csmae_core.evaluation.projection import (
    counterpart_rank_by_row,
    pca_2d,
    protocol_rows,
    sample_rows,
    top_confusions,
    worst_queries,
)
from csmae_core.labels import LABELS_19
from tests.conftest import ROOT

ASSETS = ROOT / "assets"
METRICS = json.loads((ASSETS / "evaluation" / "demo" / "metrics.json").read_text())
ARROWS = {"S1→S1", "S2→S2", "S1→S2", "S2→S1"}


# ---------------------------------------------------------------- projection.py
def test_pca_2d_shape_determinism_and_invariances():
    x = np.random.default_rng(0).standard_normal((30, 6))
    xy = pca_2d(x)
    assert xy.shape == (30, 2)
    assert np.array_equal(xy, pca_2d(x.copy()))
    np.testing.assert_allclose(pca_2d(x + 7.5), xy, atol=1e-9)  # centred: translation does not matter
    order = np.random.default_rng(1).permutation(30)
    np.testing.assert_allclose(pca_2d(x[order]), xy[order], atol=1e-9)  # no dependence on row order
    np.testing.assert_allclose(xy.mean(0), 0, atol=1e-9)
    assert xy[:, 0].var() >= xy[:, 1].var()


def test_pca_2d_orientation_is_fixed_by_the_largest_loading():
    rng = np.random.default_rng(2)
    t = np.linspace(-1, 1, 50)
    axis = np.array([0.6, 0.8, 0.0])                       # largest loading (0.8) must come out positive
    x = t[:, None] * axis + 0.01 * rng.standard_normal((50, 3))
    xy = pca_2d(x)
    assert np.corrcoef(xy[:, 0], t)[0, 1] > 0.99
    np.testing.assert_allclose(pca_2d(x[::-1]), xy[::-1], atol=1e-9)


def test_pca_2d_degenerate_inputs():
    assert pca_2d(np.ones((1, 4))).tolist() == [[0.0, 0.0]]
    assert pca_2d(np.ones((5, 4))).tolist() == [[0.0, 0.0]] * 5          # no variance at all
    line = pca_2d(np.arange(12.0).reshape(4, 3))                         # rank 1: second component zero
    assert np.all(line[:, 1] == 0) and np.all(np.diff(line[:, 0]) > 0)
    with pytest.raises(InputError):
        pca_2d(np.ones(3))


ENTRY = {"query_rows": [5, 6, 7, 8], "per_query_ap": [0.5, 0.2, 0.9, 0.2], "counterpart_ranks": [1, 3, 2, 7]}


def test_worst_queries_by_ap_and_by_rank():
    by_ap = worst_queries(ENTRY, "ap", 10)
    assert [q["row"] for q in by_ap] == [8, 6, 5, 7]   # AP ties broken by the worse counterpart rank
    assert by_ap[0] == {"row": 8, "ap": 0.2, "rank": 7}
    assert [q["row"] for q in worst_queries(ENTRY, "rank", 10)] == [8, 6, 7, 5]
    assert [q["row"] for q in worst_queries(ENTRY, "ap", 2)] == [8, 6]
    uni = {"query_rows": [1, 2], "per_query_ap": [0.1, 0.3]}
    assert [q["rank"] for q in worst_queries(uni)] == [None, None]
    with pytest.raises(InputError):
        worst_queries(uni, "rank")
    with pytest.raises(InputError):
        worst_queries(ENTRY, "f1")


def test_counterpart_ranks_align_with_queries_whose_pair_is_in_the_archive():
    entry = {"query_rows": [1, 2, 3], "per_query_ap": [0.4, 0.5, 0.6], "counterpart_ranks": [4, 1]}
    assert counterpart_rank_by_row(entry, archive_rows=[2, 3, 9]) == {2: 4, 3: 1}
    worst = worst_queries(entry, "rank", 5, archive_rows=[2, 3, 9])
    assert [(q["row"], q["rank"]) for q in worst] == [(2, 4), (3, 1)]          # row 1 has no rank
    assert worst_queries(entry, "ap", 5, archive_rows=[2, 3, 9])[0] == {"row": 1, "ap": 0.4, "rank": None}
    with pytest.raises(InputError):
        counterpart_rank_by_row(entry)                                         # 2 ranks for 3 queries


def test_worst_queries_on_the_committed_evaluation():
    entry = METRICS["models"][next(iter(METRICS["models"]))]["directions"]["s1_s2"]
    worst = worst_queries(entry, "rank", 5)
    assert [q["rank"] for q in worst] == sorted(entry["counterpart_ranks"], reverse=True)[:5]
    assert worst_queries(entry, "ap", 1)[0]["ap"] == min(entry["per_query_ap"])


def test_protocol_rows_top_confusions_and_sample_rows():
    splits = ["train", "test", "validation", "test", None]
    assert protocol_rows("validation,test", splits).tolist() == [1, 2, 3]
    assert protocol_rows("all", splits).tolist() == [0, 1, 2, 3, 4]
    matrix = np.zeros((19, 19), int)
    matrix[1, 15], matrix[15, 1], matrix[3, 6] = 5, 9, 5
    assert top_confusions(matrix, n=10) == [(LABELS_19[15], LABELS_19[1], 9), (LABELS_19[1], LABELS_19[15], 5),
                                            (LABELS_19[3], LABELS_19[6], 5)]
    assert len(top_confusions(matrix, n=1)) == 1
    assert sample_rows(5, 10).tolist() == [0, 1, 2, 3, 4]
    sampled = sample_rows(1000, 20, keep=[999, 3])
    assert 999 in sampled and 3 in sampled and 20 <= len(sampled) <= 22
    assert np.array_equal(sampled, sample_rows(1000, 20, keep=[999, 3]))


# ---------------------------------------------------------------- page helpers (pages run main() only as scripts)
def test_label_chips_escape_label_text_and_mark_each_kind():
    # The app's one chip style (pages/ui/widgets.py) marks a missing label "−" (the Evaluation page's own
    # chips, merged into it by the redesign, marked it "✗").
    from pages.ui.widgets import label_chips

    chips = label_chips(shared=["Arable land"], missing=["<b>x</b> & y"], extra=["Pastures"], empty="no labels")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in chips and "<b>x</b>" not in chips
    assert chips.count("<span") == 3
    assert "✓ Arable land" in chips and "− &lt;b&gt;" in chips and "+ Pastures" in chips
    assert "no labels" in label_chips(empty="no labels")
    assert "<em>&lt;i&gt;</em>" == label_chips(empty="<i>")


def test_licence_text_from_the_demo_readme_or_the_standard_text(tmp_path):
    from pages.about import licence_text

    text = licence_text()
    assert "CDLA-Permissive-1.0" in text and "Copernicus Sentinel" in text and "**Cite**" in text
    fallback = licence_text(tmp_path / "missing.md")
    assert "CDLA-Permissive-1.0" in fallback and "Sumbul" in fallback and "Clasen" in fallback


# ---------------------------------------------------------------- the pages
def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def summary_tables(at: AppTest) -> list:
    return [d.value for d in at.dataframe if "Direction" in d.value.columns]


def test_evaluation_page_shows_the_committed_evaluation():
    at = open_page("pages/evaluation.py")
    tables = summary_tables(at)
    assert len(tables) == len(METRICS["protocol"]["k"])
    names = set(METRICS["models"]) | set(METRICS["baselines"])
    for table in tables:
        assert set(table["Model"]) == names
        first = table[table["Model"] == next(iter(METRICS["models"]))]
        assert set(first["Direction"]) == ARROWS
    k = max(METRICS["protocol"]["k"])
    first_model = next(iter(METRICS["models"].values()))
    expected = first_model["directions"]["s1_s2"]["precision"][str(k)]
    shown = tables[0][(tables[0]["Kind"] == "model") & (tables[0]["Direction"] == "S1→S2")][f"P@{k}"].iloc[0]
    assert shown == pytest.approx(expected)
    captions = [c for image in at.get("image") for c in image.captions]
    assert any("Precision@k" in c for c in captions) and any("counterpart" in c for c in captions)
    per_class = [d.value for d in at.dataframe if d.value.index.name == "Label"]
    assert len(per_class) == 1 and per_class[0].shape == (19, 4)
    confusion = [d.value for d in at.dataframe if d.value.shape == (19, 19)]
    assert len(confusion) == 1
    assert any("retrieved instead of" in m.value for m in at.markdown)
    assert not at.warning and not at.error


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_choosing_a_failure_query_shows_results_with_label_chips():
    at = open_page("pages/evaluation.py")
    at.selectbox(key="eval_direction").set_value("s2_s1").run()
    at.selectbox(key="eval_failure").select_index(1).run()
    assert not at.exception
    k = max(METRICS["protocol"]["k"])
    images = [image for image in at.get("image") if not image.captions or not image.captions[0]]
    assert len(images) == k                                             # one preview per result
    assert any(image.captions and image.captions[0].startswith("Query · S2") for image in at.get("image"))
    chips = [m.value for m in at.markdown if 'class="chip' in m.value]  # label chips (pages/ui/widgets.py)
    assert len(chips) >= k + 1                                          # query, legend, one per result
    assert any("missing from the result" in c for c in chips) and any("in the query and the result" in c for c in chips)
    values = metric_values(at)
    assert float(values[f"AP@{k} (live)"]) == pytest.approx(float(values[f"AP@{k} (evaluation)"]), abs=1.5e-3)
    assert len([c for c in at.caption if c.value.startswith("#")]) == k


def test_worst_by_counterpart_rank_and_numbers_only_models():
    at = open_page("pages/evaluation.py")
    at.selectbox(key="eval_direction").set_value("s1_s2").run()
    at.radio(key="eval_worst_by").set_value("rank").run()
    assert not at.exception
    worst = [d.value for d in at.dataframe if "Counterpart rank" in d.value.columns][0]
    served = json.loads((ASSETS / "bundles" / "demo" / "manifest.json").read_text())["name"]
    ranks = METRICS["models"][served]["directions"]["s1_s2"]["counterpart_ranks"]  # the page starts on it
    assert worst["Counterpart rank"].tolist() == sorted(ranks, reverse=True)[:10]
    at.selectbox(key="eval_direction").set_value("s1_s1").run()           # uni-modal: AP only
    assert at.radio(key="eval_worst_by").options == [f"AP@{max(METRICS['protocol']['k'])}"]
    at.radio(key="eval_colour_by").set_value("label").run()
    at.selectbox(key="eval_model").set_value("random (baseline)").run()
    assert not at.exception
    assert any("numbers only" in i.value for i in at.info)


def test_opening_an_inspected_result_shows_where_the_match_is():
    at = open_page("pages/evaluation.py")
    at.selectbox(key="eval_direction").set_value("s1_s2").run()
    captions = lambda: [c for image in at.get("image") for c in image.captions]  # noqa: E731
    assert not any("tokens vs" in c for c in captions())                # computed only for an opened result
    picker = at.selectbox(key="eval_match_result")
    assert picker.value is None and picker.options[0].startswith("#1 · S2 · ")
    picker.select_index(1).run()
    assert not at.exception, [e.value for e in at.exception]
    opened = at.selectbox(key="eval_match_result").options[1].split(" · ")[2]    # "#2 · S2 · <pair> · score"
    assert any(c.startswith("query (Sentinel-1): tokens vs the result") for c in captions())
    assert f"#2 Sentinel-2 {opened}: tokens vs the query" in captions()
    assert any(c.startswith("cosine ") for c in captions())
    assert any("same grid position" in c.value for c in at.caption)
    assert any("Where the match is: query row" in m.value for m in at.markdown)
    at.selectbox(key="eval_failure").select_index(2).run()               # another query: its results, map closed
    assert at.selectbox(key="eval_match_result").value is None
    assert not any("tokens vs" in c for c in captions())


def test_about_page_shows_the_model_hash_and_commands_whose_flags_exist():
    at = open_page("pages/about.py")
    text = "\n".join(m.value for m in at.markdown)
    manifest = json.loads((ASSETS / "bundles" / "demo" / "manifest.json").read_text())
    assert manifest["model"]["content_hash"] in text
    assert "CDLA-Permissive-1.0" in text and "Copernicus Sentinel" in text
    codes = "\n".join(c.value for c in at.code)
    commands = [line for line in codes.splitlines() if line.startswith("python scripts/")]
    scripts = {line.split()[1] for line in commands}
    assert {"scripts/train.py", "scripts/build_index.py", "scripts/evaluate.py",
            "scripts/convert_checkpoint.py"} <= scripts
    assert "CSMAE_CATALOGUE" in codes and '"entries"' in codes
    for script in scripts:
        usage = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True,
                               cwd=ROOT, timeout=120).stdout
        for line in (c for c in commands if c.split()[1] == script):
            for flag in re.findall(r"(--[a-z][a-z-]*)", line):
                assert flag in usage, f"{script} has no {flag}"


def write_catalogue(tmp_path, evaluation) -> None:
    entry = {"name": "CSMAE demo", "encoder_family": "csmae", "model": str(ASSETS / "models" / "demo.pt"),
             "bundle": str(ASSETS / "bundles" / "demo"), "archive": str(ASSETS / "demo"),
             "evaluation": str(evaluation), "card": str(tmp_path / "no-card.md")}
    (tmp_path / "catalogue.json").write_text(json.dumps({"entries": [entry]}))


def test_missing_evaluation_folder_shows_a_warning(tmp_path, monkeypatch):
    write_catalogue(tmp_path, tmp_path / "no-evaluation")
    monkeypatch.setenv("CSMAE_CATALOGUE", str(tmp_path / "catalogue.json"))
    at = open_page("pages/evaluation.py")
    assert any("No committed evaluation" in w.value for w in at.warning)
    assert any("scripts/evaluate.py" in c.value for c in at.code)
    assert not at.error and not summary_tables(at)
    at.switch_page("pages/about.py").run()                              # no card file: built from the checkpoint
    assert not at.exception
    assert any("Training data" in m.value for m in at.markdown)


def test_unreadable_evaluation_shows_an_error(tmp_path, monkeypatch):
    (tmp_path / "evaluation").mkdir()
    (tmp_path / "evaluation" / "metrics.json").write_text("{ not json")
    write_catalogue(tmp_path, tmp_path / "evaluation")
    monkeypatch.setenv("CSMAE_CATALOGUE", str(tmp_path / "catalogue.json"))
    at = open_page("pages/evaluation.py")
    assert any("could not be read" in e.value for e in at.error)

"""metrics.json, written and read here only: `write_outputs` writes it (with a flat CSV and the plots),
`read_report` reads it back checked, as an `EvaluationReport` whose accessors give what the Evaluation
page shows. The layout is csmae_core.evaluation.compare's report."""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from csmae_core.errors import DataNotFoundError, InputError
from csmae_core.evaluation.plots import plot_per_class, plot_precision, plot_ranks
from csmae_core.evaluation.projection import protocol_rows
from csmae_core.evaluation.run import DIRECTIONS, direction_label, direction_name
from csmae_core.labels import LABELS_19

METRICS_FILE = "metrics.json"
SUMMARY_KEYS = ("precision", "recall", "f1", "f1_per_query", "map")
DIRECTION_NAMES = tuple(direction_name(*d) for d in DIRECTIONS)


# ---------------------------------------------------------------- writing
def flat_rows(name: str, kind: str, directions: dict) -> list[dict]:
    rows = []
    for direction, values in directions.items():
        for k in values["precision"]:
            row = {"model": name, "kind": kind, "direction": direction, "k": int(k)}
            row.update({key: values[key][k] for key in SUMMARY_KEYS})
            row["counterpart_mrr"] = values.get("counterpart_mrr")
            row["counterpart_at_1"] = values.get("counterpart_at_1")
            rows.append(row)
    return rows


def write_outputs(out: Path, report: dict) -> pd.DataFrame:
    """metrics.json + metrics.csv + plots; returns the flat table."""
    out.mkdir(parents=True, exist_ok=True)
    (out / METRICS_FILE).write_text(json.dumps(report, indent=2) + "\n")
    rows = []
    for name, entry in report["models"].items():
        rows += flat_rows(name, "model", entry["directions"])
    for name, directions in report["baselines"].items():
        rows += flat_rows(name, "baseline", directions)
    table = pd.DataFrame(rows)
    table.to_csv(out / "metrics.csv", index=False)
    plot_precision(table, out / "precision_at_k.png")
    plot_ranks(report, out / "counterpart_ranks.png")
    plot_per_class(report, out / "per_class_precision.png")
    return table


def print_table(table: pd.DataFrame, k: int) -> str:
    shown = table[table["k"] == k]
    lines = [f"{'model':34} {'dir':6} P@{k:<4} R@{k:<4} F1@{k:<3} mAP@{k:<3} MRR    @1"]
    for row in shown.itertuples():
        known = row.counterpart_mrr is not None and row.counterpart_mrr == row.counterpart_mrr
        mrr = f"{row.counterpart_mrr:.3f}  {row.counterpart_at_1:.2f}" if known else ""
        lines.append(f"{row.model[:34]:34} {row.direction:6} {row.precision:.3f}  {row.recall:.3f}  {row.f1:.3f}  "
                     f"{row.map:.3f}   {mrr}")
    return "\n".join(lines)


# ---------------------------------------------------------------- reading
def report_file(folder: str | Path) -> Path:
    """Where an evaluation folder keeps its metrics.json."""
    return Path(folder) / METRICS_FILE


def report_problem(data) -> str | None:
    """Why parsed metrics.json data cannot be read as a report, or None."""
    if not isinstance(data, dict):
        return "it is not a JSON object"
    if not isinstance(data.get("models"), dict) or not data["models"]:
        return "it holds no models"
    if any(not isinstance(m, dict) or not isinstance(m.get("directions"), dict) for m in data["models"].values()):
        return "a model has no directions"
    if not isinstance(data.get("protocol", {}), dict) or not isinstance(data.get("baselines", {}), dict):
        return "its protocol or baselines are not objects"
    return None


def read_report(path: str | Path) -> EvaluationReport:
    """The metrics.json at `path` (the file, or the evaluation folder holding it), checked. Raises
    DataNotFoundError when it does not exist, InputError when it is not JSON or lacks models, their
    directions, or a protocol and baselines that are objects."""
    path = Path(path)
    if path.is_dir():
        path = report_file(path)
    if not path.is_file():
        raise DataNotFoundError(f"no {path}; create it by running the evaluation (evaluate_models, then "
                                "write_outputs into that folder)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputError(f"{path} is not a readable JSON file ({error}); re-create it by running the "
                         "evaluation again") from error
    problem = report_problem(data)
    if problem:
        raise InputError(f"{path} is not an evaluation report: {problem}; re-create it by running the "
                         "evaluation again")
    return EvaluationReport(data)


class ReportEntry(NamedTuple):
    """A row of the comparison: kind "model" or "baseline", its name and {direction: metrics}."""

    kind: str
    name: str
    directions: dict


class EvaluationReport:
    """A checked metrics.json (`data`: the parsed file). Missing optional fields read as empty."""

    def __init__(self, data: dict):
        problem = report_problem(data)
        if problem:
            raise InputError(f"EvaluationReport: data is not an evaluation report: {problem}")
        self.data = data

    @property
    def protocol(self) -> dict:
        return self.data.get("protocol", {})

    @property
    def models(self) -> dict[str, dict]:
        return self.data["models"]

    @property
    def command(self) -> str:
        return str(self.data.get("command", "(not recorded)"))

    @property
    def definitions(self) -> str:
        return str(self.data.get("definitions", "(not recorded)"))

    @property
    def cutoffs(self) -> list[int]:
        """The cut-offs k, largest first (files without protocol.k: those of the first model's metrics)."""
        ks = self.protocol.get("k")
        if not ks:
            first = next(iter(next(iter(self.models.values()))["directions"].values()), {})
            ks = first.get("precision", {}).keys()
        return sorted({int(k) for k in ks}, reverse=True)

    @property
    def k(self) -> int:
        """The largest cut-off: the one of per-query AP, confusions and live re-runs."""
        return self.cutoffs[0]

    def entries(self) -> dict[str, ReportEntry]:
        """Display name -> entry, models first, then baselines named "NAME (baseline)"."""
        out = {name: ReportEntry("model", name, model.get("directions", {})) for name, model in self.models.items()}
        for name, directions in self.data.get("baselines", {}).items():
            out[f"{name} (baseline)"] = ReportEntry("baseline", name, directions if isinstance(directions, dict) else {})
        return out

    def encoder_of(self, kind: str, name: str) -> str:
        """The encoder of a model row, "baseline" for a baseline (files written before encoders were
        recorded: the family, else CSMAE)."""
        if kind != "model":
            return "baseline"
        model = self.models.get(name, {})
        return str(model.get("encoder") or model.get("family") or "csmae")

    def summary_frame(self, k: int) -> pd.DataFrame:
        """One row per model/baseline × direction (the four in order, then any others) at cut-off k."""
        rows = []
        for entry in self.entries().values():
            directions = entry.directions
            for direction in [d for d in DIRECTION_NAMES if d in directions] + \
                             [d for d in directions if d not in DIRECTION_NAMES]:
                rows.append({"Model": entry.name, "Kind": entry.kind, "Encoder": self.encoder_of(entry.kind, entry.name),
                             "Direction": direction_label(direction), **summary_values(directions[direction], k)})
        return pd.DataFrame(rows)

    def per_class_frame(self, display_name: str) -> pd.DataFrame | None:
        """(19 labels × directions) per-class precision of an entry, or None when none is recorded."""
        columns = {direction_label(d): v.get("per_class_precision")
                   for d, v in self.entries()[display_name].directions.items()}
        columns = {d: v for d, v in columns.items() if isinstance(v, list) and len(v) == len(LABELS_19)}
        return pd.DataFrame(columns, index=pd.Index(LABELS_19, name="Label")) if columns else None

    @property
    def pair_ids(self) -> list[str] | None:
        """The bundle's pair ids in the evaluation's row order (None: not recorded)."""
        return self.protocol.get("pair_ids")

    def matches_rows(self, pair_ids) -> bool:
        """True when the evaluation ran on these pairs in this order (files without pair ids: assumed)."""
        return self.pair_ids is None or list(self.pair_ids) == list(pair_ids)

    def pair_id_of(self, row: int) -> str | None:
        """The pair id of an evaluation row, or None when not recorded."""
        pair_ids = self.pair_ids
        return str(pair_ids[row]) if pair_ids and 0 <= row < len(pair_ids) else None

    @property
    def archive_spec(self) -> str:
        return str(self.protocol.get("archive", "all"))

    @property
    def archive_splits(self) -> frozenset[str] | None:
        """The splits searched (None: all)."""
        spec = self.archive_spec
        return None if spec.strip() == "all" else frozenset(s.strip() for s in spec.split(",") if s.strip())

    def archive_rows(self, split_column) -> np.ndarray:
        """The table rows the evaluation searched, from the table's split column."""
        return protocol_rows(self.archive_spec, split_column)


def summary_values(values: dict, k: int) -> dict[str, float | None]:
    """The summary columns of one direction's metrics at cut-off k (None where not recorded)."""
    def number(key: str, at_k: bool = True):
        value = values.get(key)
        if at_k:
            value = value.get(str(k)) if isinstance(value, dict) else None
        return float(value) if isinstance(value, (int, float)) else None

    return {f"P@{k}": number("precision"), f"R@{k}": number("recall"), f"F1@{k}": number("f1"),
            f"F1@{k} per query": number("f1_per_query"), f"mAP@{k}": number("map"),
            "Counterpart MRR": number("counterpart_mrr", False), "Counterpart @1": number("counterpart_at_1", False),
            "Median counterpart rank": number("counterpart_median_rank", False)}

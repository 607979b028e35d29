"""Failure inspection of a committed evaluation over the bundle it was run on, as plain data: the table of
the worst queries, a direction's label confusion, and the 2-D projection of the embeddings with the
inspected query and its results marked. `table` is the bundle's table (columns pair_id, labels),
`embeddings` its {sensor: (N, D)} vectors in table row order."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from csmae_core.evaluation.projection import pca_2d, sample_rows
from csmae_core.evaluation.report import EvaluationReport
from csmae_core.labels import LABELS_19

CONFUSION_AXES = "Query label missing ↓ · retrieved instead →"


def pair_of(report: EvaluationReport, table: pd.DataFrame, row: int) -> str:
    """The pair id of an evaluation row: the evaluation's own, else the table's, else "row N"."""
    pair_id = report.pair_id_of(row)
    if pair_id is not None:
        return pair_id
    return str(table.at[row, "pair_id"]) if 0 <= row < len(table) else f"row {row}"


def worst_table(report: EvaluationReport, worst: Sequence[dict], table: pd.DataFrame) -> pd.DataFrame:
    """One row per worst query (projection.worst_queries): row, AP@k, counterpart rank, pair and labels
    (labels only when the evaluation ran on this table's rows)."""
    match = report.matches_rows(table["pair_id"])
    return pd.DataFrame([{"Row": q["row"], f"AP@{report.k}": q["ap"], "Counterpart rank": q["rank"],
                          "Pair": pair_of(report, table, q["row"]),
                          "Labels": ", ".join(table.at[q["row"], "labels"]) if match and q["row"] < len(table) else ""}
                         for q in worst])


def confusion_frame(direction_entry: dict) -> pd.DataFrame | None:
    """The (19 × 19) label confusion of a direction entry (rows: the query label a result lacked, columns:
    the label it carried instead), or None when not recorded."""
    matrix = direction_entry.get("label_confusion")
    if not isinstance(matrix, list) or len(matrix) != len(LABELS_19):
        return None
    return pd.DataFrame(matrix, index=pd.Index(LABELS_19, name=CONFUSION_AXES), columns=list(LABELS_19))


def projection_points(table: pd.DataFrame, embeddings: dict[str, np.ndarray], highlight: Sequence[tuple[str, int]],
                      cap: int) -> pd.DataFrame:
    """PCA of both sensors' embeddings stacked, one point per (sensor, row): columns x, y, sensor ("S1"),
    row, pair, label_list, labels (joined) and role ("query" for highlight[0], "result" for the rest of
    `highlight` [(sensor, row)], else "archive"). At most `cap` rows per sensor plus the highlighted ones."""
    sensors = [s for s in ("s1", "s2") if s in embeddings]
    rows = sample_rows(len(table), cap, keep=[r for _, r in highlight])
    xy = pca_2d(np.concatenate([embeddings[s][rows] for s in sensors]))
    frame = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "sensor": np.repeat([s.upper() for s in sensors], len(rows)),
                          "row": np.tile(rows, len(sensors))})
    frame["pair"] = table["pair_id"].to_numpy()[frame["row"]]
    frame["label_list"] = [list(table.at[r, "labels"]) for r in frame["row"]]
    frame["labels"] = [", ".join(labels) for labels in frame["label_list"]]
    roles = {(s.upper(), r): "result" for s, r in highlight[1:]}
    if highlight:
        roles[(highlight[0][0].upper(), highlight[0][1])] = "query"
    frame["role"] = [roles.get(key, "archive") for key in zip(frame["sensor"], frame["row"])]
    return frame

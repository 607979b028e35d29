"""Evaluation outputs: metrics.json layout, a flat CSV, per-query rows for failure inspection, plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from csmae_core.evaluation.run import DIRECTIONS, direction_name
from csmae_core.labels import LABELS_19

SUMMARY_KEYS = ("precision", "recall", "f1", "f1_per_query", "map")


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
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
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


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_precision(table: pd.DataFrame, path: Path) -> None:
    plt = _pyplot()
    k = table["k"].max()
    shown = table[table["k"] == k]
    names = list(dict.fromkeys(shown["model"]))
    directions = [direction_name(*d) for d in DIRECTIONS]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        values = [shown[(shown.model == name) & (shown.direction == d)]["precision"].max() for d in directions]
        ax.bar(np.arange(4) + i * width, [v if v == v else 0 for v in values], width, label=name)
    ax.set_xticks(np.arange(4) + width * (len(names) - 1) / 2, [d.replace("_", "→").upper() for d in directions])
    ax.set_ylabel(f"P@{k}")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ranks(report: dict, path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for ax, direction in zip(axes, ("s1_s2", "s2_s1")):
        for name, entry in report["models"].items():
            ranks = entry["directions"].get(direction, {}).get("counterpart_ranks")
            if ranks:
                ax.hist(ranks, bins=np.arange(1, max(ranks) + 2) - 0.5, alpha=0.6, label=name)
        ax.set_title(f"counterpart rank {direction.replace('_', '→').upper()}")
        ax.set_xlabel("rank (1 = own pair first)")
    axes[0].set_ylabel("queries")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_per_class(report: dict, path: Path) -> None:
    plt = _pyplot()
    name, entry = next(iter(report["models"].items()))
    fig, ax = plt.subplots(figsize=(9, 5))
    for direction, values in entry["directions"].items():
        ax.plot(values["per_class_precision"], np.arange(len(LABELS_19)), "o", label=direction.replace("_", "→").upper())
    ax.set_yticks(np.arange(len(LABELS_19)), [label[:40] for label in LABELS_19], fontsize=7)
    ax.set_xlabel("per-class precision")
    ax.set_xlim(0, 1)
    ax.set_title(name, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

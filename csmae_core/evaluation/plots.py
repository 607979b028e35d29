"""The three PNG plots written beside metrics.json (matplotlib, headless): precision@k of every model and
baseline per direction, the counterpart ranks of cross-sensor queries, and the first model's per-class
precision."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from csmae_core.evaluation.run import DIRECTIONS, direction_label, direction_name
from csmae_core.labels import LABELS_19


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_precision(table: pd.DataFrame, path: Path) -> None:
    """Bars of P@k (largest k of the flat table) per direction, one colour per model or baseline."""
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
    ax.set_xticks(np.arange(4) + width * (len(names) - 1) / 2, [direction_label(d) for d in directions])
    ax.set_ylabel(f"P@{k}")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ranks(report: dict, path: Path) -> None:
    """Histograms of the counterpart ranks of every model, S1->S2 and S2->S1."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for ax, direction in zip(axes, ("s1_s2", "s2_s1")):
        for name, entry in report["models"].items():
            ranks = entry["directions"].get(direction, {}).get("counterpart_ranks")
            if ranks:
                ax.hist(ranks, bins=np.arange(1, max(ranks) + 2) - 0.5, alpha=0.6, label=name)
        ax.set_title(f"counterpart rank {direction_label(direction)}")
        ax.set_xlabel("rank (1 = own pair first)")
    axes[0].set_ylabel("queries")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_per_class(report: dict, path: Path) -> None:
    """The first model's per-class precision, one marker per direction."""
    plt = _pyplot()
    name, entry = next(iter(report["models"].items()))
    fig, ax = plt.subplots(figsize=(9, 5))
    for direction, values in entry["directions"].items():
        ax.plot(values["per_class_precision"], np.arange(len(LABELS_19)), "o", label=direction_label(direction))
    ax.set_yticks(np.arange(len(LABELS_19)), [label[:40] for label in LABELS_19], fontsize=7)
    ax.set_xlabel("per-class precision")
    ax.set_xlim(0, 1)
    ax.set_title(name, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Encoders of any family and the baselines compared under one protocol: the report that metrics.json
holds (csmae_core.evaluation.report writes and reads it).

The report: {"definitions", "command", "protocol": {"queries", "archive", "k", "query_count",
"archive_count", "pair_ids"}, "models": {name: {"description", "family", "encoder", "cross_sensor",
"model_hash", "directions": {direction: metrics}}}, "baselines": {name: {direction: metrics}}}, plus the
first model's directions at the top level. Embeddings come in as plain arrays: getting them from bundles
or model files is the retrieval layer's job (csmae_core.retrieval.evaluate_bundles).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from csmae_core.errors import InputError
from csmae_core.evaluation.metrics import DEFINITIONS
from csmae_core.evaluation.projection import protocol_rows
from csmae_core.evaluation.run import BASELINE_DIRECTIONS, BASELINES, DIRECTIONS, evaluate_embeddings, random_embeddings
from csmae_core.labels import multi_hot_matrix


@dataclass(frozen=True)
class Protocol:
    """Which pairs are queries and which are searched (comma-separated split names, or "all"), and the
    cut-offs k. The published protocol: validation queries against the test archive."""

    queries: str = "validation"
    archive: str = "test"
    ks: tuple[int, ...] = (10, 5)

    def rows(self, split_column: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """(query rows, archive rows) of a table's split column; InputError when either selects no pair."""
        return split_rows(split_column, self.queries, "queries"), split_rows(split_column, self.archive, "archive")


def split_rows(split_column: Sequence, splits: str, argument: str = "splits") -> np.ndarray:
    """Rows whose split is one of `splits` (csmae_core.evaluation.projection.protocol_rows); none is an error."""
    rows = protocol_rows(splits, split_column)
    if len(rows) == 0:
        present = sorted({str(s) for s in split_column if isinstance(s, str)})
        raise InputError(f"no pairs of split {splits!r} ({argument}); the bundle has {present}")
    return rows


@dataclass
class EvaluatedModel:
    """One encoder to compare: what metrics.json records about it and its archive embeddings
    {sensor: (N, D)} in table row order (a sensor it cannot embed is left out)."""

    name: str
    description: str
    family: str
    encoder: str
    cross_sensor: bool
    model_hash: str
    embeddings: dict[str, np.ndarray] = field(repr=False)

    def facts(self) -> dict:
        """The model's entry of metrics.json without its directions (keys in the file's order)."""
        return {"description": self.description, "family": self.family, "encoder": self.encoder,
                "cross_sensor": self.cross_sensor, "model_hash": self.model_hash}


def describe_training(card: dict, fallback: str) -> str:
    """One line on how a model was trained, from its card (`fallback` when the card says nothing)."""
    data = card.get("data") or {}
    if data:
        return (f"trained self-supervised on {data.get('pairs')} pairs of split '{data.get('split')}' "
                f"({card.get('epochs')} epochs; labels never used)")
    return card.get("origin", fallback)


def archive_inputs(path: str | Path, pair_ids: Sequence[str], metadata: str | Path | None = None
                   ) -> dict[str, torch.Tensor]:
    """Model inputs {sensor: (N, C, 120, 120)} of every pair of the archive at `path` (`metadata`: reBEN
    metadata.parquet where the archive needs it), which must hold `pair_ids` in that order."""
    from csmae_core.io.detect import open_archive
    from csmae_core.preprocess import model_input

    archive = open_archive(path, metadata)
    if list(archive.table["pair_id"]) != list(pair_ids):
        raise InputError(f"the archive at {path} does not hold the bundle's pairs in the bundle's order")
    pairs = [archive[i] for i in range(len(archive))]
    return {s: torch.stack([model_input(p.record(s)) for p in pairs]) for s in ("s1", "s2")}


def evaluate_models(models: Sequence[EvaluatedModel], table: pd.DataFrame, protocol: Protocol = Protocol(),
                    baseline_inputs: dict[str, torch.Tensor] | None = None, command: str = "") -> dict:
    """The metrics.json report (module docstring) of `models` over `table` (columns pair_id, split, labels;
    the rows of every model's embeddings). Baselines are computed from `baseline_inputs` (archive_inputs;
    None: no baselines), the random one with the first model's dimension. A later model of the same
    name replaces an earlier one."""
    if not models:
        raise InputError("evaluate_models needs at least one model")
    labels = multi_hot_matrix(table["labels"])
    queries, archive = protocol.rows(table["split"])
    ks = list(protocol.ks)
    report = {"definitions": DEFINITIONS, "command": command,
              "protocol": {"queries": protocol.queries, "archive": protocol.archive, "k": ks,
                           "query_count": len(queries), "archive_count": len(archive),
                           "pair_ids": list(table["pair_id"])}, "models": {}, "baselines": {}}
    by_name = {model.name: model for model in models}
    for name, model in by_name.items():
        # separately trained S1 and S2 spaces: cross-sensor distances mean nothing, so they are not reported
        directions = evaluate_embeddings(model.embeddings, labels, queries, archive, ks,
                                         DIRECTIONS if model.cross_sensor else DIRECTIONS[:2])
        report["models"][name] = {**model.facts(), "directions": directions}
    report.update(next(iter(report["models"].values()))["directions"])  # the first model's directions on top
    if baseline_inputs is not None:
        dim = next(iter(models[0].embeddings.values())).shape[1]
        baselines = {"random": random_embeddings(len(table), dim),
                     **{name: make(baseline_inputs) for name, make in BASELINES.items()}}
        for name, embeddings in baselines.items():
            report["baselines"][name] = evaluate_embeddings(embeddings, labels, queries, archive, ks,
                                                            BASELINE_DIRECTIONS[name])
    return report

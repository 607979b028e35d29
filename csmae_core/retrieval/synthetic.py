"""Synthetic vectors on a real archive table, and index bundles of them, for benchmarks and scale tests.

The vectors are NOT the output of a model: each pair's S2 vector mixes random centroids of its real labels
and of its country with noise; its S1 vector is the S2 vector moved by one sensor offset plus noise. So
filters select realistic subsets and results are plausible, at any archive size, without a GPU. Every
bundle written here says so: encoder family "synthetic" and a model section naming where the vectors
came from (`csmae_core.retrieval.bundle.synthetic_model_manifest`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csmae_core.bands import SENSORS
from csmae_core.labels import multi_hot_matrix
from csmae_core.retrieval.bundle import (
    TABLE,
    bundle_manifest,
    embeddings_file,
    new_workdir,
    synthetic_model_manifest,
    write_bundle,
)
from csmae_core.retrieval.faiss_index import IndexSpec
from csmae_core.retrieval.indexing import write_indexes

SYNTHETIC_DESCRIPTION = "none: synthetic vectors"
SYNTHETIC_ORIGIN = ("no model: synthetic vectors from real labels and countries plus noise "
                    "(csmae_core.retrieval.synthetic.synthetic_embeddings)")
RECALL_QUERIES = 500


def synthetic_embeddings(table: pd.DataFrame, dim: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Unit-norm float32 vectors {"s1": (N, dim), "s2": (N, dim)}, row i = pair i of `table` (a bundle
    table: its `labels` and `country` columns shape the vectors)."""
    rng = np.random.default_rng(seed)
    labels = multi_hot_matrix(table["labels"])
    label_centroids = rng.standard_normal((labels.shape[1], dim)).astype(np.float32)
    countries = {c: i for i, c in enumerate(sorted(table["country"].dropna().unique()))}
    country_centroids = rng.standard_normal((len(countries) + 1, dim)).astype(np.float32) * 0.6
    country = table["country"].map(countries).fillna(len(countries)).to_numpy(int)
    s2 = labels @ label_centroids / np.maximum(labels.sum(1, keepdims=True), 1) ** 0.5
    s2 += country_centroids[country] + 0.9 * rng.standard_normal((len(table), dim)).astype(np.float32)
    sensor_offset = rng.standard_normal(dim).astype(np.float32) * 0.5
    s1 = s2 + sensor_offset + 0.9 * rng.standard_normal((len(table), dim)).astype(np.float32)
    return {"s2": _unit(s2), "s1": _unit(s1)}


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def write_synthetic_bundle(out: str | Path, table: pd.DataFrame, vectors: dict[str, np.ndarray], spec: IndexSpec,
                           name: str | None = None, model: dict[str, Any] | None = None,
                           archive: dict[str, Any] | None = None, precision: str = "fp32") -> tuple[Path, dict]:
    """A bundle at `out` of the synthetic `vectors` (see `synthetic_embeddings`) over the real `table`.

    name: the bundle's name (default: the folder's); model: its manifest `model` section (default: a
    synthetic one, see `synthetic_model_manifest`); archive: the manifest's `archive` section.
    Returns (the bundle's path, report): report = {"build_s": index build seconds (both sensors),
    "index_bytes": serialised size of both indexes, "recall_at_10": {sensor: recall@10 against exact
    search on up to 500 of its own vectors}}."""
    out = Path(out)
    workdir = new_workdir(out)
    table.to_parquet(workdir / TABLE, index=False)
    for sensor, matrix in vectors.items():
        np.save(workdir / embeddings_file(sensor), matrix)
    report = write_indexes(workdir, list(vectors), spec, shared_space=True, recall_queries=RECALL_QUERIES, seed=1)
    sensors = [sensor for sensor in SENSORS if sensor in vectors]
    dim = next(iter(vectors.values())).shape[1]
    model = model or synthetic_model_manifest(SYNTHETIC_DESCRIPTION, SYNTHETIC_ORIGIN)
    manifest = bundle_manifest(name or out.name, model, archive or {"path": "synthetic"}, len(table), sensors, dim,
                               spec.to_dict(), report["recall_at_10"], precision)
    return write_bundle(out, workdir, manifest), report

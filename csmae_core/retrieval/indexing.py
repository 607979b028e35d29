"""A bundle's FAISS indexes, built from the embeddings already in its work folder, with the recall@10 of
each against exact search (measured the way the app searches, re-rank included) and the build time; for IVF
indexes also the centroids of each country's rows per inverted list (how country filters order the lists,
csmae_core.retrieval.filtering)."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from csmae_core.retrieval.bundle import TABLE, country_centroids_file, embeddings_file, index_file
from csmae_core.retrieval.faiss_index import IndexSpec, build_indexes, index_bytes, recall_at_k
from csmae_core.retrieval.filtering import country_centroids, list_of_rows, preassigned_search_works

log = logging.getLogger(__name__)
RECALL_QUERIES = 1000


def write_indexes(workdir: Path, sensors: list[str], spec: IndexSpec, shared_space: bool,
                  recall_queries: int = RECALL_QUERIES, seed: int = 0) -> dict:
    """index_<sensor>.faiss for each sensor's embeddings_<sensor>.npy in `workdir`. `shared_space`: the
    sensors' vectors live in one space (a cross-sensor model): one training for both.

    Returns {"build_s": seconds (all sensors, country centroids included), "country_centroids_s": seconds of
    those, "index_bytes": serialised size (all sensors), "recall_at_10": {sensor: recall against exact search on
    up to `recall_queries` of its own vectors, or None for an exact index}}."""
    vectors = {s: np.load(workdir / embeddings_file(s), mmap_mode="r") for s in sensors}
    started = time.perf_counter()
    indexes = build_indexes(vectors, spec, shared_space)
    centroids_started = time.perf_counter()
    write_country_centroids(workdir, indexes, vectors)
    report: dict = {"build_s": time.perf_counter() - started, "index_bytes": 0, "recall_at_10": {},
                    "country_centroids_s": time.perf_counter() - centroids_started}
    for sensor, index in indexes.items():
        faiss.write_index(index, str(workdir / index_file(sensor)))
        report["index_bytes"] += index_bytes(index)
        report["recall_at_10"][sensor] = None
        if spec.kind != "flat":
            matrix = vectors[sensor]
            rows = np.sort(np.random.default_rng(seed).choice(len(matrix), min(recall_queries, len(matrix)),
                                                              replace=False))
            recall = recall_at_k(index, matrix, np.ascontiguousarray(matrix[rows], dtype=np.float32), 10, spec)
            report["recall_at_10"][sensor] = recall
            log.info("%s index %s: recall@10 vs exact %.4f", sensor.upper(), spec.kind, recall)
    return report


def write_country_centroids(workdir: Path, indexes: dict[str, faiss.Index], vectors: dict[str, np.ndarray]) -> None:
    """country_centroids_<sensor>.npz for each IVF index whose lists a search can choose, when the work folder's
    table (written before the indexes) has countries; nothing otherwise (searches then keep the index's order)."""
    table = workdir / TABLE
    if not table.is_file() or not any(preassigned_search_works(index) for index in indexes.values()):
        return
    countries = pd.read_parquet(table, columns=["country"])["country"].to_numpy(object)
    if not pd.notna(countries).any():
        return
    for sensor, index in indexes.items():
        if preassigned_search_works(index):
            started = time.perf_counter()
            np.savez(workdir / country_centroids_file(sensor),
                     **country_centroids(vectors[sensor], list_of_rows(index), countries))
            log.info("%s country centroids in %.1f s", sensor.upper(), time.perf_counter() - started)

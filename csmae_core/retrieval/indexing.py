"""A bundle's FAISS indexes, built from the embeddings already in its work folder, with the recall@10 of
each against exact search (measured the way the app searches, re-rank included) and the build time."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import faiss
import numpy as np

from csmae_core.retrieval.bundle import embeddings_file, index_file
from csmae_core.retrieval.faiss_index import IndexSpec, build_indexes, index_bytes, recall_at_k

log = logging.getLogger(__name__)
RECALL_QUERIES = 1000


def write_indexes(workdir: Path, sensors: list[str], spec: IndexSpec, shared_space: bool,
                  recall_queries: int = RECALL_QUERIES, seed: int = 0) -> dict:
    """index_<sensor>.faiss for each sensor's embeddings_<sensor>.npy in `workdir`. `shared_space`: the
    sensors' vectors live in one space (a cross-sensor model): one training for both.

    Returns {"build_s": seconds (all sensors), "index_bytes": serialised size (all sensors),
    "recall_at_10": {sensor: recall against exact search on up to `recall_queries` of its own vectors, or
    None for an exact index}}."""
    vectors = {s: np.load(workdir / embeddings_file(s), mmap_mode="r") for s in sensors}
    started = time.perf_counter()
    indexes = build_indexes(vectors, spec, shared_space)
    report: dict = {"build_s": time.perf_counter() - started, "index_bytes": 0, "recall_at_10": {}}
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

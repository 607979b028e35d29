"""FAISS indexes for unit-norm embeddings (inner product = cosine): exact, HNSW, IVF over 8-bit
scalar-quantised vectors, IVF-PQ and IVF-PQ with an SQ8 re-rank; their search parameters; recall@10
against exact search.

Measured at BigEarthNet scale (549,488 x 768 per sensor, scripts/bench_search.py, docs/BENCHMARKS.md):
IVF-PQ (m 96) saturates near 0.89 recall@10 even with an SQ8 re-rank of 32 x k candidates (0.95 at
256 x k, p95 2.7 ms); IVF-SQ8 (4096 lists, nprobe 64) reaches 0.982 at p95 1.6 ms single-threaded in
0.85 GiB for both sensors, so "auto" uses it above EXACT_LIMIT.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import faiss
import numpy as np

from csmae_core.errors import InputError

log = logging.getLogger(__name__)
INDEX_TYPES = ("flat", "hnsw", "ivfsq8", "ivfpq", "ivfpq_sq8")
EXACT_LIMIT = 200_000  # "auto": exact search up to this many vectors per sensor


@dataclass
class IndexSpec:
    kind: str = "flat"
    hnsw_m: int = 32
    ef_construction: int = 40
    ef_search: int = 128
    nlist: int = 4096
    pq_m: int = 96
    nprobe: int = 64
    refine_factor: int = 8

    def to_dict(self) -> dict:
        return asdict(self)


def choose_spec(kind: str, count: int, dim: int) -> IndexSpec:
    """`auto` picks exact search for small archives and IVF-SQ8 for large ones."""
    if kind == "auto":
        kind = "flat" if count <= EXACT_LIMIT else "ivfsq8"
    if kind not in INDEX_TYPES:
        raise InputError(f"index type {kind!r} is unknown; choose auto or one of {', '.join(INDEX_TYPES)}")
    spec = IndexSpec(kind=kind)
    if kind.startswith("ivf"):
        spec.nlist = int(min(spec.nlist, max(1, count // 39)))  # FAISS wants >= 39 training points per list
    if kind.startswith("ivfpq"):
        spec.pq_m = next(m for m in (spec.pq_m, 64, 48, 32, 24, 16, 12, 8, 4, 2, 1) if dim % m == 0)
    return spec


def build_index(vectors: np.ndarray, spec: IndexSpec, train_sample: int = 200_000, seed: int = 0) -> faiss.Index:
    """A trained, filled index over `vectors` (N, D) float32."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if spec.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif spec.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
    else:
        quantizer = faiss.IndexFlatIP(dim)
        if spec.kind == "ivfsq8":  # inverted lists of 8-bit scalar-quantised vectors: ~exact distances
            index = faiss.IndexIVFScalarQuantizer(quantizer, dim, spec.nlist, faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFPQ(quantizer, dim, spec.nlist, spec.pq_m, 8, faiss.METRIC_INNER_PRODUCT)
        if spec.kind == "ivfpq_sq8":
            index = faiss.IndexRefine(index, faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit,
                                                                        faiss.METRIC_INNER_PRODUCT))
        rng = np.random.default_rng(seed)
        sample = vectors if len(vectors) <= train_sample else vectors[rng.choice(len(vectors), train_sample, replace=False)]
        index.train(sample)
    index.add(vectors)
    configure(index, spec)
    return index


def configure(index: faiss.Index, spec: IndexSpec) -> None:
    """Apply query-time parameters (efSearch, nprobe, re-rank factor) to a built or loaded index."""
    if spec.kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = spec.ef_search
    elif spec.kind in ("ivfpq", "ivfsq8"):
        faiss.extract_index_ivf(index).nprobe = spec.nprobe
    elif spec.kind == "ivfpq_sq8":
        refine = faiss.downcast_index(index)
        refine.k_factor = spec.refine_factor
        faiss.extract_index_ivf(refine.base_index).nprobe = spec.nprobe


def search_parameters(spec: IndexSpec, selector=None):
    """Per-call parameters carrying an ID selector (filters) for the index kind.

    SWIG parameter objects hold raw pointers to the selector and the nested IVF parameters: the Python
    objects are attached to the returned one so they live as long as it does (freed early, FAISS would
    read freed memory, e.g. a random nprobe)."""
    if selector is None:
        return None
    if spec.kind == "hnsw":
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=spec.ef_search)
    elif spec.kind in ("ivfpq", "ivfsq8"):
        params = faiss.SearchParametersIVF(sel=selector, nprobe=spec.nprobe)
    elif spec.kind == "ivfpq_sq8":
        base = faiss.SearchParametersIVF(sel=selector, nprobe=spec.nprobe)
        params = faiss.IndexRefineSearchParameters(k_factor=spec.refine_factor, base_index_params=base, sel=selector)
        params.keep_base = base
    else:
        params = faiss.SearchParameters(sel=selector)
    params.keep_selector = selector
    return params


def recall_at_k(index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Share of the exact top-k found by `index` (same queries, exact inner product as truth)."""
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
    _, truth = exact.search(queries, k)
    _, found = index.search(queries, k)
    return float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found)]))


def index_bytes(index: faiss.Index) -> int:
    return int(faiss.serialize_index(index).nbytes)

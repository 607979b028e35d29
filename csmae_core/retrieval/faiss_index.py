"""FAISS indexes for unit-norm embeddings (inner product = cosine): exact, HNSW, IVF over 8-bit
scalar-quantised vectors, IVF-PQ, IVF-PQ with an SQ8 re-rank, and IVF-RaBitQ (1 or 4 bits per dimension,
fast-scan) whose candidates are re-scored exactly from the bundle's float32 embeddings; their search
parameters; recall@10 against exact search.

Measured at BigEarthNet scale (549,488 x 768 per sensor, scripts/bench_search.py, docs/BENCHMARKS.md):
IVF-RaBitQ (1024 lists, nprobe 24, 60 x k candidates re-scored exactly) reaches recall@10 0.98-0.99 at
p95 1.8 ms for one sensor, in 0.12 GiB for both sensors, built in ~57 s; IVF-SQ8 (4096 lists, nprobe 64)
reaches 0.98 at about twice the latency in 0.82 GiB, built in 380 s; IVF-PQ saturates near 0.89. So "auto"
uses IVF-RaBitQ above EXACT_LIMIT.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import faiss
import numpy as np

from csmae_core.errors import BundleError, InputError

log = logging.getLogger(__name__)
INDEX_TYPES = ("flat", "hnsw", "ivfsq8", "ivfpq", "ivfpq_sq8", "ivfrabitq", "ivfrabitq4")
# Kinds whose candidates the search re-scores exactly (`rerank` x k of them) from the float32 embeddings the
# bundle keeps anyway (memory-mapped): the index itself only has to find the right candidates.
RERANKED = {"ivfrabitq": "RaBitQfs", "ivfrabitq4": "RaBitQfs4"}
EXACT_LIMIT = 200_000  # "auto": exact search up to this many vectors per sensor
TRAIN_POINTS_PER_LIST = 64  # k-means training points per inverted list (FAISS warns below 39)
MAX_CANDIDATES = 1000  # re-ranked kinds: at most this many candidates re-scored per search
LARGE_K_FACTOR = 2     # ... unless k is so large that this many times k is more (k up to 1,000 in the app)


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
    rerank: int = 0  # RERANKED kinds: candidates re-scored exactly = rerank x k (0: the index's own scores)

    def to_dict(self) -> dict:
        return asdict(self)


def choose_spec(kind: str, count: int, dim: int) -> IndexSpec:
    """`auto` picks exact search for small archives and IVF-RaBitQ (exact re-rank) for large ones."""
    if kind == "auto":
        kind = "flat" if count <= EXACT_LIMIT else "ivfrabitq"
    if kind not in INDEX_TYPES:
        raise InputError(f"index type {kind!r} is unknown; choose auto or one of {', '.join(INDEX_TYPES)}")
    spec = IndexSpec(kind=kind)
    if kind in RERANKED:  # few, large lists: RaBitQ scans codes fast, the re-rank fixes the order
        spec.nlist, spec.nprobe, spec.rerank = 1024, (32 if kind == "ivfrabitq4" else 24), (5 if kind == "ivfrabitq4" else 60)
    if kind.startswith("ivf"):
        spec.nlist = int(min(spec.nlist, max(1, count // 39)))  # FAISS wants >= 39 training points per list
    if kind.startswith("ivfpq"):
        spec.pq_m = next(m for m in (spec.pq_m, 64, 48, 32, 24, 16, 12, 8, 4, 2, 1) if dim % m == 0)
    return spec


def empty_index(dim: int, spec: IndexSpec) -> faiss.Index:
    """An index of `spec`'s kind, not trained and empty."""
    if spec.kind == "flat":
        return faiss.IndexFlatIP(dim)
    if spec.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
        return index
    if spec.kind in RERANKED:
        return faiss.index_factory(dim, f"IVF{spec.nlist},{RERANKED[spec.kind]}", faiss.METRIC_INNER_PRODUCT)
    quantizer = faiss.IndexFlatIP(dim)
    if spec.kind == "ivfsq8":  # inverted lists of 8-bit scalar-quantised vectors: ~exact distances
        return faiss.IndexIVFScalarQuantizer(quantizer, dim, spec.nlist, faiss.ScalarQuantizer.QT_8bit,
                                             faiss.METRIC_INNER_PRODUCT)
    index = faiss.IndexIVFPQ(quantizer, dim, spec.nlist, spec.pq_m, 8, faiss.METRIC_INNER_PRODUCT)
    if spec.kind == "ivfpq_sq8":
        index = faiss.IndexRefine(index, faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit,
                                                                    faiss.METRIC_INNER_PRODUCT))
    return index


def trained_index(sample: np.ndarray, spec: IndexSpec) -> faiss.Index:
    """An empty index of `spec` trained on `sample` (N, D) float32 (nothing to train for flat / HNSW)."""
    index = empty_index(sample.shape[1], spec)
    if not index.is_trained:
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


def training_sample(vectors: list[np.ndarray], size: int, seed: int = 0) -> np.ndarray:
    """Up to `size` rows drawn evenly from each array of `vectors` (sorted rows: memory-mapped reads stay
    sequential)."""
    rng = np.random.default_rng(seed)
    share = max(1, size // len(vectors))
    parts = [matrix if len(matrix) <= share else matrix[np.sort(rng.choice(len(matrix), share, replace=False))]
             for matrix in vectors]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def sample_size(spec: IndexSpec, train_sample: int) -> int:
    """Training points: k-means of the coarse quantizer costs time in proportion to them (at 1024 lists,
    200k x 768 took 61 s on 2 cores, 64 per list 21 s), and 64 points per list train it as well."""
    return min(train_sample, TRAIN_POINTS_PER_LIST * spec.nlist) if spec.kind.startswith("ivf") else train_sample


def build_index(vectors: np.ndarray, spec: IndexSpec, train_sample: int = 200_000, seed: int = 0,
                trained: faiss.Index | None = None) -> faiss.Index:
    """A trained, filled index over `vectors` (N, D) float32; `trained`: an empty trained index to copy
    (e.g. one coarse quantizer for both sensors of one space) instead of training one here."""
    if trained is None:
        trained = trained_index(training_sample([vectors], sample_size(spec, train_sample), seed), spec)
    index = faiss.clone_index(trained)
    for start in range(0, len(vectors), 65_536):  # memory-mapped vectors are read a block at a time
        index.add(np.ascontiguousarray(vectors[start:start + 65_536], dtype=np.float32))
    configure(index, spec)
    return index


def build_indexes(vectors: dict[str, np.ndarray], spec: IndexSpec, shared_space: bool,
                  train_sample: int = 200_000, seed: int = 0) -> dict[str, faiss.Index]:
    """One index per sensor. When the sensors share one embedding space (a cross-sensor model), the
    quantizers are trained once on a sample of both and every sensor's index uses them: half the training,
    and the same cells for S1 and S2."""
    if not shared_space:
        return {s: build_index(matrix, spec, train_sample, seed) for s, matrix in vectors.items()}
    trained = trained_index(training_sample(list(vectors.values()), sample_size(spec, train_sample), seed), spec)
    return {s: build_index(matrix, spec, trained=trained) for s, matrix in vectors.items()}


def configure(index: faiss.Index, spec: IndexSpec) -> None:
    """Apply query-time parameters (efSearch, nprobe, re-rank factor) to a built or loaded index."""
    if spec.kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = spec.ef_search
    elif spec.kind in ("ivfpq", "ivfsq8", *RERANKED):
        faiss.extract_index_ivf(index).nprobe = spec.nprobe
    elif spec.kind == "ivfpq_sq8":
        refine = faiss.downcast_index(index)
        refine.k_factor = spec.refine_factor
        faiss.extract_index_ivf(refine.base_index).nprobe = spec.nprobe


def search_parameters(spec: IndexSpec, selector=None, nprobe: int | None = None):
    """Per-call parameters carrying an ID selector (filters) for the index kind; `nprobe`: lists an IVF
    kind visits for this call (default the spec's; a filtered search may need more, see
    csmae_core.retrieval.filtering).

    SWIG parameter objects hold raw pointers to the selector and the nested IVF parameters: the Python
    objects are attached to the returned one so they live as long as it does (freed early, FAISS would
    read freed memory, e.g. a random nprobe)."""
    if selector is None:
        return None
    nprobe = int(min(spec.nlist, nprobe or spec.nprobe))
    if spec.kind == "hnsw":
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=spec.ef_search)
    elif spec.kind in ("ivfpq", "ivfsq8", *RERANKED):
        params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
    elif spec.kind == "ivfpq_sq8":
        base = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        params = faiss.IndexRefineSearchParameters(k_factor=spec.refine_factor, base_index_params=base, sel=selector)
        params.keep_base = base
    else:
        params = faiss.SearchParameters(sel=selector)
    params.keep_selector = selector
    return params


def row_scores(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Inner products of `query` (D,) with rows `rows` of `vectors` (N, D). A C-contiguous float32 matrix
    (the bundle's memory-mapped embeddings) is read in place by FAISS: no copy of the rows is gathered first
    and no BLAS thread is woken (with matrix_scores, a search's CPU time at 549,488 pairs fell from 6-8 ms to
    1.3-3.2 ms: scripts/bench_search.py, docs/BENCHMARKS.md)."""
    query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
    ids = np.ascontiguousarray(rows, dtype=np.int64)
    outside = ids[(ids < 0) | (ids >= len(vectors))]
    if len(outside):
        raise BundleError(f"the index returned row {int(outside[0])} of {len(vectors):,} embeddings: the bundle's "
                          "index and embeddings do not belong together; rebuild the bundle")
    if not _readable_in_place(vectors, query):
        return np.asarray(vectors[ids], dtype=np.float32) @ query
    scores = np.empty(len(ids), dtype=np.float32)
    faiss.fvec_inner_products_by_idx(faiss.swig_ptr(scores), faiss.swig_ptr(query), faiss.swig_ptr(vectors),
                                     faiss.swig_ptr(ids), vectors.shape[1], 1, len(ids))
    return scores


def matrix_scores(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """`matrix` (M, D) @ `query` (D,) in one thread (FAISS): NumPy's BLAS would wake its threads for this one
    product, and they spin for milliseconds after it (the CPU time of a two-sensor search was twice its wall
    time) on the cores the app's other searches and the browser need."""
    query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
    if not _readable_in_place(matrix, query):
        return np.asarray(matrix, dtype=np.float32) @ query
    scores = np.empty(len(matrix), dtype=np.float32)
    faiss.fvec_inner_products_ny(faiss.swig_ptr(scores), faiss.swig_ptr(query), faiss.swig_ptr(matrix),
                                 matrix.shape[1], len(matrix))
    return scores


def _readable_in_place(matrix: np.ndarray, query: np.ndarray) -> bool:
    """Whether FAISS can read `matrix` (M, D) as it is for a float32 `query` (D,); otherwise NumPy does."""
    return matrix.dtype == np.float32 and matrix.flags.c_contiguous and query.shape[0] == matrix.shape[1]


def exact_rerank(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate `rows` (-1 = none) re-scored exactly against `query` (D,) with the float32 `vectors`
    (N, D; memory-mapped is fine): (scores, rows), best first."""
    rows = rows[rows >= 0]
    scores = row_scores(vectors, query, rows)
    order = np.argsort(-scores, kind="stable")
    return scores[order], rows[order]


def candidate_depth(spec: IndexSpec, k: int) -> int:
    """How many candidates the index is asked for to return the top `k` (RERANKED kinds: rerank x k, at most
    MAX_CANDIDATES, or LARGE_K_FACTOR x k for a k that large: a page of hundreds of results still gets spare
    candidates for the re-rank to reorder)."""
    if spec.kind not in RERANKED or not spec.rerank:
        return k
    return max(k, min(k * spec.rerank, max(MAX_CANDIDATES, LARGE_K_FACTOR * k)))


def search_candidates(index: faiss.Index, spec: IndexSpec, vectors: np.ndarray, query: np.ndarray, k: int,
                      params=None, depth: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows), best first, of every candidate a search for the top `k` looks at: the index's own top
    k, or for RERANKED kinds all `spec.rerank` x k candidates (or `depth` of them) re-scored exactly."""
    depth = candidate_depth(spec, k) if depth is None or spec.kind not in RERANKED else max(k, depth)
    scores, rows = index.search(query, depth, params=params) if params else index.search(query, depth)
    # re-scored whenever the kind re-ranks, also when depth == k (k >= MAX_CANDIDATES): the quantised codes'
    # scores would otherwise be shown and merged as if they were exact
    if spec.kind not in RERANKED or (not spec.rerank and depth == k):
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep]
    return exact_rerank(vectors, query, rows[0])


def search_top(index: faiss.Index, spec: IndexSpec, vectors: np.ndarray, query: np.ndarray, k: int,
               params=None, depth: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the top `k` for one query (1, D): the index's own, or for RERANKED kinds the
    exact re-scoring of its `spec.rerank` x k best candidates (or of `depth` candidates, when given)."""
    scores, rows = search_candidates(index, spec, vectors, query, k, params, depth)
    return scores[:k], rows[:k]


def recall_at_k(index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, k: int = 10,
                spec: IndexSpec | None = None) -> float:
    """Share of the exact top-k found by searching `index` as the app does (with `spec`'s re-rank, if any);
    same queries, exact inner product as truth."""
    exact = faiss.IndexFlatIP(vectors.shape[1])
    for start in range(0, len(vectors), 65_536):
        exact.add(np.ascontiguousarray(vectors[start:start + 65_536], dtype=np.float32))
    _, truth = exact.search(queries, k)
    spec = spec or IndexSpec(kind="flat")
    found = [search_top(index, spec, vectors, query[None], k)[1] for query in queries]
    return float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found)]))


def index_bytes(index: faiss.Index) -> int:
    return int(faiss.serialize_index(index).nbytes)

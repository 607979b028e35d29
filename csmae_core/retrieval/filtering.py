"""Filtered search that stays fast and complete: which rows a filter admits, and which lists of an IVF index
a filtered query must visit.

A filter that admits few rows, or rows that sit in other parts of the space than the query (a country:
embeddings carry geography), leaves too few admitted rows in the lists an unfiltered query visits. So the
lists are visited until they hold enough admitted rows (`ListCoverage`), and a filter that admits only a few
thousand rows is answered exactly from the embeddings instead (`EXACT_SUBSET_LIMIT`).

In which order: an unfiltered query visits lists by its inner product with their centroids, the mean of
ALL their rows. A country's rows in a list dominated by other countries can sit far from that mean, so the
lists whose admitted rows are nearest come late, and the lists visited first fill the coverage target with
admitted rows far from the query. With the bundle's country centroids (per list and country, the mean of
that country's rows in that list: `country_centroids`, written with the index), a country filter visits
lists by the query's inner product with the centroid of their admitted countries' rows instead (at
549,488 pairs: recall@10 0.963 -> 0.983 for a country of 39 %, 0.968 -> 0.991 for one of 9 %, and faster,
as fewer lists are scanned; docs/BENCHMARKS.md). The mean, not a bound: it ranks a list by how near its
admitted rows are on average, with no assumption about how they spread.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import faiss
import numpy as np
import pandas as pd

from csmae_core.errors import BundleError
from csmae_core.retrieval.faiss_index import (RERANKED, IndexSpec, candidate_depth, exact_rerank, matrix_scores,
                                              row_scores)

EXACT_SUBSET_LIMIT = 4096  # up to this many admitted rows are scored exactly, in place (faiss_index.row_scores)
# A filtered query's true neighbours often score close together (a query from elsewhere than the filtered
# country): re-ranked kinds re-score more candidates, and lists are visited until they hold COVERAGE_FACTOR
# times that many admitted rows (measured in scripts/bench_search.py, docs/BENCHMARKS.md).
FILTERED_CANDIDATES = 2000
COVERAGE_FACTOR = 4
CENTROID_BLOCK = 65_536  # rows summed at a time (memory-mapped embeddings are read a block at a time)
CENTROID_ARRAYS = ("countries", "list", "country", "count", "mean")


@dataclass
class Selection:
    """The rows one filter combination admits: `mask` (N,) bool or None (all rows), `bitmap` for FAISS's
    IDSelectorBitmap, `count`, and per inverted list how many it admits (filled per index on demand)."""

    mask: np.ndarray | None
    bitmap: np.ndarray | None
    count: int
    per_list: dict[str, np.ndarray]

    @classmethod
    def of(cls, mask: np.ndarray | None, total: int) -> "Selection":
        if mask is None:
            return cls(None, None, total, {})
        return cls(mask, np.packbits(mask, bitorder="little"), int(mask.sum()), {})

    def rows(self) -> np.ndarray:
        return np.flatnonzero(self.mask)

    def selector(self, total: int):
        return None if self.bitmap is None else faiss.IDSelectorBitmap(total, faiss.swig_ptr(self.bitmap))


@dataclass
class Probes:
    """The inverted lists a filtered search visits: `count` of them, and `lists`, which ones in order (None:
    the `count` nearest to the query by the index's own centroids, FAISS's order)."""

    count: int
    lists: np.ndarray | None = None


def list_of_rows(index: faiss.Index) -> np.ndarray:
    """(N,) int32: the inverted list of every row of an IVF index."""
    ivf = faiss.extract_index_ivf(index)
    lists = np.full(index.ntotal, -1, dtype=np.int32)
    for number in range(ivf.nlist):
        size = ivf.invlists.list_size(number)
        if size:
            lists[faiss.rev_swig_ptr(ivf.invlists.get_ids(number), size)] = number
    return lists


def country_centroids(vectors: np.ndarray, lists: np.ndarray, countries: np.ndarray) -> dict[str, np.ndarray]:
    """Per (inverted list, country) that holds rows: the mean of those rows of `vectors` (N, D), from the
    list of every row (`list_of_rows`) and its country (N,) (None / NaN: no country, left out).

    Returns arrays {"countries": (C,) names, "list", "country" (index into countries), "count": (G,),
    "mean": (G, D) float32}: the bundle file `country_centroids_<sensor>.npz`. One pass over the vectors,
    summed with torch's index_add (at 549,488 x 768: 0.1-1 s; NumPy's reduceat over sorted rows: 2.7 s)."""
    import torch

    code, names = pd.factorize(countries, sort=True)  # missing countries: code -1
    names = np.asarray(names, dtype=str)
    group = np.where((code >= 0) & (lists >= 0), lists.astype(np.int64) * len(names) + code, -1)
    used = np.unique(group[group >= 0])
    slot = np.full(len(group), -1, dtype=np.int64)
    slot[group >= 0] = np.searchsorted(used, group[group >= 0])
    sums = torch.zeros((len(used), vectors.shape[1]), dtype=torch.float64)
    for start in range(0, len(vectors), CENTROID_BLOCK):
        block_slot = slot[start:start + CENTROID_BLOCK]
        keep = block_slot >= 0
        with warnings.catch_warnings():  # a read-only memory map: index_add only reads it
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            block = torch.from_numpy(np.asarray(vectors[start:start + CENTROID_BLOCK], dtype=np.float32))
        if not keep.all():
            block = block[torch.from_numpy(keep)]
        partial = torch.zeros((len(used), vectors.shape[1]), dtype=torch.float32)
        sums += partial.index_add_(0, torch.from_numpy(block_slot[keep]), block).double()
    count = np.bincount(slot[slot >= 0], minlength=len(used))
    return {"countries": names, "list": (used // max(len(names), 1)).astype(np.int32),
            "country": (used % max(len(names), 1)).astype(np.int32), "count": count.astype(np.int64),
            "mean": (sums.numpy() / np.maximum(count, 1)[:, None]).astype(np.float32)}


class ListCoverage:
    """The inverted list of every row of an IVF index, its list centroids, and (when the bundle has them)
    the centroids of each country's rows per list."""

    def __init__(self, index: faiss.Index, centroids: dict[str, np.ndarray] | None = None,
                 countries: np.ndarray | None = None, source: str = "the country centroids file"):
        """`centroids`: `country_centroids` of this index, checked against `countries` (N,), the country of
        every row (a BundleError naming `source` when they do not belong to this index and table)."""
        ivf = faiss.extract_index_ivf(index)
        self.nlist = ivf.nlist
        self.centroids = ivf.quantizer.reconstruct_n(0, ivf.nlist)  # (nlist, D)
        self.list_of_row = list_of_rows(index)
        self.groups = None if centroids is None else self._checked(centroids, countries, source)
        self._gathered: dict[frozenset[str], tuple[np.ndarray, np.ndarray]] = {}

    def _checked(self, centroids: dict, countries: np.ndarray | None, source: str) -> dict:
        missing = [name for name in CENTROID_ARRAYS if name not in centroids]
        if missing or countries is None:
            raise BundleError(f"{source} lacks {', '.join(missing) or 'the countries of the rows'}; rebuild the bundle")
        names = [str(c) for c in centroids["countries"]]
        position = {name: i for i, name in enumerate(names)}
        code = pd.Index(names).get_indexer(countries)
        rows = (code >= 0) & (self.list_of_row >= 0)
        width = max(len(names), 1)
        expected = np.bincount(self.list_of_row[rows].astype(np.int64) * width + code[rows],
                               minlength=self.nlist * width)
        stored = np.zeros_like(expected)
        lists, country = np.asarray(centroids["list"], np.int64), np.asarray(centroids["country"], np.int64)
        mean = np.asarray(centroids["mean"], dtype=np.float32)
        if not (len(lists) == len(country) == len(centroids["count"]) == len(mean)) or mean.ndim != 2 \
                or mean.shape[1] != self.centroids.shape[1] or (lists < 0).any() or (lists >= self.nlist).any() \
                or (country < 0).any() or (country >= width).any():
            raise BundleError(f"{source} does not fit this index ({self.nlist} lists of {self.centroids.shape[1]}-d "
                              "vectors); rebuild the bundle")
        stored[lists * width + country] = centroids["count"]
        if not np.array_equal(stored, expected) or ((code < 0) & np.asarray(pd.notna(countries))).any():
            raise BundleError(f"{source} does not match the bundle's index and table (other row counts per list "
                              "and country): the file belongs to another build; rebuild the bundle")
        return {"position": position, "list": lists, "country": country, "mean": mean}

    def admitted_per_list(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.list_of_row[mask], minlength=self.nlist)

    def probes(self, query: np.ndarray, admitted_per_list: np.ndarray, target: int, minimum: int) -> int:
        """Lists to visit, nearest first (inner product, as the index), until they hold `target` admitted
        rows; at least `minimum`, at most all."""
        order = np.argsort(-matrix_scores(self.centroids, query))
        covered = np.cumsum(admitted_per_list[order])
        needed = int(np.searchsorted(covered, min(target, covered[-1]))) + 1
        return int(min(self.nlist, max(minimum, needed)))

    def _country_groups(self, countries: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
        """(list, mean) of the groups of `countries`, gathered once per country set (not on every query)."""
        if countries not in self._gathered:
            codes = [self.groups["position"][c] for c in countries if c in self.groups["position"]]
            chosen = np.isin(self.groups["country"], codes)
            if len(self._gathered) >= 64:
                self._gathered.clear()
            self._gathered[countries] = (self.groups["list"][chosen], np.ascontiguousarray(self.groups["mean"][chosen]))
        return self._gathered[countries]

    def country_lists(self, query: np.ndarray, admitted_per_list: np.ndarray, countries, target: int,
                      minimum: int) -> np.ndarray | None:
        """The lists a filter of `countries` visits, in order: by the query's inner product with the centroid
        of those countries' rows in each list (the best of them), until the lists hold `target` admitted rows
        (counted from the whole filter), at least `minimum`; only lists that admit rows. None without country
        centroids (the caller keeps the rule of `probes`)."""
        if self.groups is None or not countries:
            return None
        lists, means = self._country_groups(frozenset(countries))
        score = np.full(self.nlist, -np.inf, dtype=np.float32)
        np.maximum.at(score, lists, matrix_scores(means, query))
        score[admitted_per_list == 0] = -np.inf
        order = np.argsort(-score, kind="stable")[:int(np.isfinite(score).sum())]
        if not len(order):
            return order
        covered = np.cumsum(admitted_per_list[order])
        needed = int(np.searchsorted(covered, min(target, covered[-1]))) + 1
        return order[:max(minimum, needed)]


def search_lists(index: faiss.Index, spec: IndexSpec, vectors: np.ndarray, query: np.ndarray, k: int,
                 lists: np.ndarray, selector, centroids: np.ndarray, depth: int | None = None):
    """(scores, rows), best first, of the candidates a search for the top `k` of `query` (1, D) finds in
    exactly these inverted `lists`, among the rows `selector` admits: the index's own scores, or for
    re-ranked kinds `depth` candidates (at least k) re-scored exactly from `vectors` (as
    faiss_index.search_candidates). `centroids`: the index's list centroids (nlist, D)."""
    reranked = spec.kind in RERANKED
    depth = (max(k, depth) if depth else candidate_depth(spec, k)) if reranked else k
    assign = np.ascontiguousarray(lists, dtype=np.int64).reshape(1, -1)
    query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
    to_centroids = row_scores(centroids, query[0], assign[0]).reshape(1, -1)
    params = faiss.SearchParametersIVF(sel=selector, nprobe=assign.shape[1])
    params.keep_selector = selector  # SWIG holds a raw pointer: keep the selector alive with the parameters
    scores, rows = np.empty((1, depth), dtype=np.float32), np.empty((1, depth), dtype=np.int64)
    index.search_preassigned_c(
        1, faiss.swig_ptr(query), depth, faiss.swig_ptr(assign), faiss.swig_ptr(to_centroids),
        faiss.swig_ptr(scores), faiss.swig_ptr(rows), False, params)
    if reranked and (spec.rerank or depth != k):  # as search_candidates: quantised scores are never shown
        return exact_rerank(vectors, query[0], rows[0])
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]


def preassigned_search_works(index: faiss.Index) -> bool:
    """Whether `index` is itself an IVF index (its lists can be chosen per query); wrapped kinds (a re-rank
    index around an IVF one) keep FAISS's own list order."""
    return isinstance(index, faiss.IndexIVF)


def exact_subset(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the top k of `rows`, scored exactly against `query` (1, D)."""
    scores = row_scores(vectors, query, rows)
    top = np.argsort(-scores, kind="stable")[:k]
    return scores[top], rows[top]

"""Filtered search that stays fast and complete: which rows a filter admits, and how much of an IVF index
a filtered query must visit.

A filter that admits few rows, or rows that sit in other parts of the space than the query (a country:
embeddings carry geography), leaves too few admitted rows in the lists an unfiltered query visits. So the
lists are visited nearest first until they hold enough admitted rows (`ListCoverage`), and a filter that
admits only a few thousand rows is answered exactly from the embeddings instead (`EXACT_SUBSET_LIMIT`).
"""
from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

EXACT_SUBSET_LIMIT = 4096  # admitted rows scored exactly (gathering 4096 x 768 floats costs ~2 ms)
# A filtered query's true neighbours often score close together (a query from elsewhere than the filtered
# country): re-ranked kinds re-score more candidates, and lists are visited until they hold COVERAGE_FACTOR
# times that many admitted rows (measured in scripts/bench_search.py, docs/BENCHMARKS.md).
FILTERED_CANDIDATES = 2000
COVERAGE_FACTOR = 4


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


class ListCoverage:
    """The inverted list of every row of an IVF index, and its list centroids."""

    def __init__(self, index: faiss.Index):
        ivf = faiss.extract_index_ivf(index)
        self.nlist = ivf.nlist
        self.centroids = ivf.quantizer.reconstruct_n(0, ivf.nlist)  # (nlist, D)
        self.list_of_row = np.full(index.ntotal, -1, dtype=np.int32)
        for number in range(ivf.nlist):
            size = ivf.invlists.list_size(number)
            if size:
                self.list_of_row[faiss.rev_swig_ptr(ivf.invlists.get_ids(number), size)] = number

    def admitted_per_list(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.list_of_row[mask], minlength=self.nlist)

    def probes(self, query: np.ndarray, admitted_per_list: np.ndarray, target: int, minimum: int) -> int:
        """Lists to visit, nearest first (inner product, as the index), until they hold `target` admitted
        rows; at least `minimum`, at most all."""
        order = np.argsort(-(self.centroids @ query.reshape(-1)))
        covered = np.cumsum(admitted_per_list[order])
        needed = int(np.searchsorted(covered, min(target, covered[-1]))) + 1
        return int(min(self.nlist, max(minimum, needed)))


def exact_subset(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the top k of `rows`, scored exactly against `query` (1, D)."""
    scores = np.asarray(vectors[rows], dtype=np.float32) @ query.reshape(-1)
    top = np.argsort(-scores, kind="stable")[:k]
    return scores[top], rows[top]

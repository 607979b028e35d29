"""Pure helpers behind the Evaluation page (NumPy only, no UI): a deterministic 2-D PCA of embeddings,
the worst queries of a committed evaluation, the rows of a protocol's splits, the most frequent label
confusions, and a deterministic subsample for plotting large archives.

`worst_queries` reads one direction entry of metrics.json (see csmae_core.evaluation.compare):
`query_rows` and `per_query_ap` are aligned one to one; `counterpart_ranks` (cross-sensor directions only)
holds one rank per query *whose pair is in the archive set*, in query order. When the archive set contains
every query's pair (e.g. queries == archive, as in the demo protocol) the ranks align with `query_rows`
directly; otherwise pass `archive_rows` (the bundle rows of the archive splits) and the ranks are aligned
with the query rows that are in it; queries whose pair is not in the archive get no rank (None).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from csmae_core.errors import InputError
from csmae_core.labels import LABELS_19

WORST_BY = ("ap", "rank")


def pca_2d(vectors) -> np.ndarray:
    """(N, D) -> (N, 2) float64 coordinates on the first two principal components.

    Deterministic: SVD of the centred data, each component's sign fixed so that its loading of largest
    magnitude is positive (the same data always gives the same picture, never a mirrored one). Missing
    components (N < 3 or rank < 2) are zeros."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"pca_2d needs an (N, D) array, got shape {x.shape}")
    out = np.zeros((x.shape[0], 2))
    if x.shape[0] < 2 or x.shape[1] == 0:
        return out
    centred = x - x.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    for i in range(min(2, len(singular))):
        if singular[i] <= 1e-12 * max(singular[0], 1e-300):
            break
        component = vt[i]
        if component[np.argmax(np.abs(component))] < 0:
            component = -component
        out[:, i] = centred @ component
    return out


def counterpart_rank_by_row(direction_entry: dict, archive_rows: Iterable[int] | None = None) -> dict[int, int]:
    """{query row: counterpart rank} of a cross-sensor direction entry ({} for uni-modal ones).

    The ranks belong to the query rows whose pair is in the archive set, in query order: with
    `archive_rows` those rows are selected explicitly; without, the ranks must be one per query."""
    ranks = direction_entry.get("counterpart_ranks")
    if not ranks:
        return {}
    query_rows = [int(r) for r in direction_entry.get("query_rows", [])]
    if archive_rows is not None:
        archive = {int(r) for r in archive_rows}
        ranked_rows = [r for r in query_rows if r in archive]
    else:
        ranked_rows = query_rows
    if len(ranked_rows) != len(ranks):
        raise InputError(f"{len(ranks)} counterpart ranks do not match the {len(ranked_rows)} queries whose pair "
                         "is in the archive set; was the evaluation run on this bundle?")
    return {row: int(rank) for row, rank in zip(ranked_rows, ranks)}


def worst_queries(direction_entry: dict, by: str = "ap", n: int = 10,
                  archive_rows: Iterable[int] | None = None) -> list[dict]:
    """The `n` worst queries of a metrics.json direction entry as [{"row", "ap", "rank"}, ...], worst first.

    by="ap": lowest AP@k first (ties: worse counterpart rank, then lower row).
    by="rank": highest counterpart rank first (ties: lower AP, then lower row); cross-sensor directions
    only, and only queries that have a rank. `rank` is None where a query has no counterpart rank."""
    if by not in WORST_BY:
        raise InputError(f"worst_queries: by must be one of {WORST_BY}, got {by!r}")
    rows = [int(r) for r in direction_entry.get("query_rows", [])]
    aps = [float(a) for a in direction_entry.get("per_query_ap", [])]
    if len(rows) != len(aps):
        raise InputError(f"{len(rows)} query rows but {len(aps)} per-query AP values")
    ranks = counterpart_rank_by_row(direction_entry, archive_rows)
    if by == "rank" and not ranks:
        raise InputError("this direction has no counterpart ranks (only cross-sensor directions have them)")
    queries = [{"row": row, "ap": ap, "rank": ranks.get(row)} for row, ap in zip(rows, aps)]
    if by == "ap":
        queries.sort(key=lambda q: (q["ap"], -(q["rank"] or 0), q["row"]))
    else:
        queries = [q for q in queries if q["rank"] is not None]
        queries.sort(key=lambda q: (-q["rank"], q["ap"], q["row"]))
    return queries[:max(0, int(n))]


def protocol_rows(splits: str, split_column: Sequence) -> np.ndarray:
    """Bundle rows of a protocol's comma-separated split names ("all": every row), as
    csmae_core.evaluation.compare selects them."""
    values = np.asarray(list(split_column), dtype=object)
    if str(splits).strip() == "all":
        return np.arange(len(values))
    wanted = [s.strip() for s in str(splits).split(",") if s.strip()]
    return np.flatnonzero(np.isin(values, wanted))


def top_confusions(matrix, labels: Sequence[str] = LABELS_19, n: int = 10) -> list[tuple[str, str, int]]:
    """The `n` most frequent (missing query label, label retrieved instead, count) of a label_confusion
    matrix ([m][e]), most frequent first, zero counts left out; ties in label order."""
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.shape != (len(labels), len(labels)):
        raise InputError(f"label confusion must be {len(labels)}x{len(labels)}, got {counts.shape}")
    order = np.argsort(-counts, axis=None, kind="stable")[:max(0, int(n))]
    pairs = [np.unravel_index(i, counts.shape) for i in order]
    return [(labels[m], labels[e], int(counts[m, e])) for m, e in pairs if counts[m, e] > 0]


def sample_rows(count: int, cap: int, keep: Iterable[int] = (), seed: int = 0) -> np.ndarray:
    """Sorted row indices to plot: all rows when count <= cap, else a seeded random `cap` of them plus
    every row in `keep` (e.g. the query and its results)."""
    if count <= cap:
        return np.arange(count)
    chosen = np.random.default_rng(seed).choice(count, size=cap, replace=False)
    extra = [r for r in keep if 0 <= int(r) < count]
    return np.union1d(chosen, np.asarray(extra, dtype=np.int64))

"""Query -> neighbours over a loaded bundle, with filters, label comparison and the counterpart rank.

All lookups are in memory (the bundle's indexes, embeddings and table), so a query does no disk I/O.
Filters become an ID selector of FAISS (the index only returns allowed rows): split, country, season,
snow/cloud exclusion, the query's own pair, and a minimum distance from the query's location.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import faiss
import numpy as np

from csmae_core.bands import SENSORS, check_sensor
from csmae_core.errors import InputError
from csmae_core.evaluation.metrics import average_precision, counterpart_ranks, retrieval_metrics
from csmae_core.geo import haversine_km
from csmae_core.labels import LABELS_19, multi_hot_matrix, to_19
from csmae_core.retrieval.area import Area, area_selection
from csmae_core.retrieval.bundle import Bundle, country_centroids_file
from csmae_core.retrieval.calibration import ScoreCalibrator
from csmae_core.retrieval.faiss_index import candidate_depth, search_candidates, search_parameters, search_top
from csmae_core.retrieval.filtering import (
    COVERAGE_FACTOR,
    EXACT_SUBSET_LIMIT,
    FILTERED_CANDIDATES,
    ListCoverage,
    Probes,
    Selection,
    exact_subset,
    preassigned_search_works,
    search_lists,
)

EXACT_RANK_LIMIT = 200_000  # above this, counterpart ranks come from the index's top RANK_DEPTH
RANK_DEPTH = 100           # (an extra search of that depth per query: kept small, it is not free)
RANK_CANDIDATES = 2 * RANK_DEPTH  # re-ranked kinds: candidates re-scored for the rank (exact ranks on 300 of
                                  # 549,488 synthetic pairs, as with 1000; scripts/bench_search.py)


@dataclass
class Filters:
    splits: frozenset[str] | None = None
    countries: frozenset[str] | None = None
    seasons: frozenset[str] | None = None
    exclude_snow: bool = False
    exclude_cloud: bool = False
    exclude_query_pair: bool = True   # the query's own patch and its counterpart
    min_distance_km: float = 0.0      # drop results closer than this to the query
    area: Area | None = None          # an area of interest (footprints inside it, or outside it)


@dataclass
class Query:
    embedding: np.ndarray             # (D,) unit norm
    sensor: str
    labels: list[str] | None = None   # 19-class names; None = unknown
    lonlat: tuple[float, float] | None = None
    pair_row: int | None = None       # bundle row when the query is an archive patch
    name: str = "query"


@dataclass
class Result:
    rank: int
    score: float
    id: str
    sensor: str
    pair_id: str
    row: int
    labels: list[str]
    lon: float
    lat: float
    bbox: tuple[float, float, float, float]
    distance_km: float | None
    shared: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    # both sensors searched: the score standardised against its sensor's scores for this query (the merge
    # order; retrieval/calibration.py); None when one sensor was searched (the raw score orders it)
    calibrated_score: float | None = None


@dataclass
class SearchResponse:
    results: list[Result]
    metrics: dict[str, float] | None      # P@k, R@k, F1@k, AP@k when the query has labels
    counterpart_rank: int | None          # rank of the query's own other-sensor patch (None: unknown)
    counterpart_rank_bounded: bool        # True: the rank is only known to exceed RANK_DEPTH
    elapsed_ms: float


def compare_labels(query: list[str], result: list[str]) -> dict:
    """shared / missing (query has, result lacks) / extra labels, and prec/rec/F1 of the result."""
    q, r = set(query), set(result)
    shared = q & r
    precision = len(shared) / len(r) if r else 0.0
    recall = len(shared) / len(q) if q else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    order = {name: i for i, name in enumerate(LABELS_19)}
    sort = lambda s: sorted(s, key=order.get)  # noqa: E731
    return {"shared": sort(shared), "missing": sort(q - r), "extra": sort(r - q),
            "precision": precision, "recall": recall, "f1": f1}


class SearchEngine:
    """Search over one bundle; build once per server, call `search` per query."""

    def __init__(self, bundle: Bundle, threads: int | None = 1):
        # One query is too small to share between threads, and FAISS's OpenMP threads spin-wait: on a
        # busy 2-core server, single-threaded search measured 6x faster (p50 2.6 ms vs 16 ms, 20k x 768).
        # OpenMP keeps the setting per calling thread, and a server calls from a new thread per request
        # (Streamlit: per script run), so `search` applies it again.
        self.threads = threads
        self._apply_threads()
        self.bundle = bundle
        table = bundle.table
        self.count = len(table)
        self.labels = multi_hot_matrix(table["labels"]).astype(bool)
        self.lon, self.lat = table["lon"].to_numpy(float), table["lat"].to_numpy(float)
        self.columns = {c: table[c].astype(object).where(table[c].notna(), None).to_numpy()
                        for c in ("split", "country", "season")}
        self.snow = table["contains_seasonal_snow"].fillna(False).to_numpy(bool)
        self.cloud = table["contains_cloud_or_shadow"].fillna(False).to_numpy(bool)
        self.names = {"s1": table["s1_name"].to_numpy(object), "s2": table["pair_id"].to_numpy(object)}
        # plain arrays: building a result must not cost pandas lookups (they dominated at 550k scale)
        self.label_lists = table["labels"].tolist()
        self.bboxes = table[["west", "south", "east", "north"]].to_numpy(float)
        self._masks: dict = {}
        self._coverage: dict[str, ListCoverage] = {}  # per sensor, built at the first filtered search
        self.calibrator = ScoreCalibrator(bundle.embeddings)

    def _apply_threads(self) -> None:
        if self.threads is not None:
            faiss.omp_set_num_threads(self.threads)

    def values(self, column: str) -> list[str]:
        return sorted({v for v in self.columns[column] if v is not None})

    def _column_mask(self, column: str, allowed: frozenset[str] | None) -> np.ndarray | None:
        if not allowed:
            return None
        return np.isin(self.columns[column], list(allowed))

    def _selection(self, filters: Filters) -> Selection:
        """The rows the column filters admit (cached per filter combination)."""
        area = None if filters.area is None else (filters.area.polygon.wkb, filters.area.inside)
        key = (filters.splits, filters.countries, filters.seasons, filters.exclude_snow, filters.exclude_cloud, area)
        if key not in self._masks:
            masks = [self._column_mask("split", filters.splits), self._column_mask("country", filters.countries),
                     self._column_mask("season", filters.seasons),
                     ~self.snow if filters.exclude_snow else None, ~self.cloud if filters.exclude_cloud else None,
                     None if filters.area is None else area_selection(filters.area, self.bboxes).mask]
            masks = [m for m in masks if m is not None]
            if len(self._masks) >= 64:  # areas make every key new: keep the cache bounded
                self._masks.clear()
            self._masks[key] = Selection.of(np.logical_and.reduce(masks) if masks else None, self.count)
        return self._masks[key]

    def _probes(self, sensor: str, selection: Selection, vector: np.ndarray, depth: int,
                countries: frozenset[str] | None = None) -> Probes | None:
        """Lists a filtered IVF search visits, until they hold as many admitted rows as an unfiltered search
        would meet in proportion (and at least `depth`): with a country filter and the bundle's country
        centroids, which lists in the order of those countries' centroids; otherwise how many, nearest first by
        the index's own centroids. None for other kinds or without a filter."""
        spec = self.bundle.spec
        if not spec.kind.startswith("ivf") or selection.mask is None:
            return None
        if sensor not in self._coverage:
            index = self.bundle.indexes[sensor]
            centroids = self.bundle.country_centroids.get(sensor) if preassigned_search_works(index) else None
            self._coverage[sensor] = ListCoverage(index, centroids, self.columns["country"],
                                                  str(self.bundle.path / country_centroids_file(sensor)))
        coverage = self._coverage[sensor]
        if sensor not in selection.per_list:
            selection.per_list[sensor] = coverage.admitted_per_list(selection.mask)
        target = max(depth, int(selection.count * spec.nprobe / coverage.nlist))
        lists = coverage.country_lists(vector, selection.per_list[sensor], countries, target, spec.nprobe)
        if lists is not None:
            return Probes(len(lists), lists)
        return Probes(coverage.probes(vector, selection.per_list[sensor], target, spec.nprobe))

    def _admissible(self, rows: np.ndarray, filters: Filters, query: Query) -> np.ndarray:
        """Post-filter of candidate rows: the query's own pair and results too close to the query (cheap
        on a few candidates, unlike a mask over the whole archive)."""
        keep = rows >= 0
        if filters.exclude_query_pair and query.pair_row is not None:
            keep &= rows != query.pair_row
        if filters.min_distance_km > 0 and query.lonlat is not None:
            distance = haversine_km(query.lonlat[0], query.lonlat[1], self.lon[rows], self.lat[rows])
            keep &= ~(distance < filters.min_distance_km)
        return keep

    def _search_sensor(self, vector: np.ndarray, sensor: str, k: int, filters: Filters, query: Query,
                       unfiltered: dict | None = None):
        """Top-k admissible (scores, rows) of one sensor: column filters as a FAISS ID selector (or exactly,
        when they admit few rows; a country filter visits the lists its own rows' centroids choose), the rest
        post-filtered, fetching more candidates until k are left or the selection is exhausted. `unfiltered`:
        receives ["rows"], the first search's candidates best first, when no column filter applied (what the
        counterpart rank needs)."""
        index, spec, vectors = self.bundle.indexes[sensor], self.bundle.spec, self.bundle.embeddings[sensor]
        selection = self._selection(filters)
        if selection.count == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        fetch = min(selection.count, k + 1)
        while True:
            if selection.mask is not None and selection.count <= EXACT_SUBSET_LIMIT:
                scores, rows = exact_subset(vectors, vector, selection.rows(), fetch)
            else:
                depth = None if selection.mask is None else max(candidate_depth(spec, fetch), FILTERED_CANDIDATES)
                probes = self._probes(sensor, selection, vector, COVERAGE_FACTOR * (depth or fetch),
                                      filters.countries)
                if probes is not None and probes.lists is not None:
                    scores, rows = search_lists(index, spec, vectors, vector, fetch, probes.lists,
                                                selection.selector(self.count), self._coverage[sensor].centroids,
                                                depth)
                else:
                    params = search_parameters(spec, selection.selector(self.count), probes and probes.count)
                    scores, rows = search_candidates(index, spec, vectors, vector, fetch, params, depth)
                if unfiltered is not None and selection.mask is None:
                    unfiltered.setdefault("rows", rows)
                scores, rows = scores[:fetch], rows[:fetch]
            keep = self._admissible(rows, filters, query)
            if keep.sum() >= k or fetch >= selection.count:
                return scores[keep][:k], rows[keep][:k]
            fetch = min(selection.count, fetch * 4)

    def counterpart_rank(self, query: Query, candidates: np.ndarray | None = None) -> tuple[int | None, bool]:
        """Rank of the query's own other-sensor patch among all patches of that sensor (unfiltered). Ties
        count against the query (the evaluation's rule, one function: metrics.counterpart_ranks).
        `candidates`: that sensor's unfiltered candidates for this query, best first, from a search just made
        (large archives: they replace a search of their own when they reach RANK_CANDIDATES)."""
        if query.pair_row is None:
            return None, False
        other = "s2" if query.sensor == "s1" else "s1"
        if other not in self.bundle.embeddings or not self.bundle.cross_sensor:
            return None, False  # no other sensor, or one in a separate space: the rank would mean nothing
        vector = query.embedding.astype(np.float32)
        if self.count <= EXACT_RANK_LIMIT:
            scores = self.bundle.embeddings[other] @ vector
            return int(counterpart_ranks(scores[None], np.array([query.pair_row]))[0]), False
        if candidates is not None and len(candidates) >= RANK_CANDIDATES:
            rows = candidates[:RANK_DEPTH]
        else:
            _, rows = search_top(self.bundle.indexes[other], self.bundle.spec, self.bundle.embeddings[other],
                                 vector[None], RANK_DEPTH, depth=RANK_CANDIDATES)
        hits = np.flatnonzero(rows == query.pair_row)
        return (int(hits[0]) + 1, False) if len(hits) else (None, True)

    def search(self, query: Query, targets=SENSORS, k: int = 10, filters: Filters | None = None,
               counterpart: bool = True, calibrate: bool = True) -> SearchResponse:
        """Top-k of the target sensors; `counterpart=False` skips the counterpart rank (one search less).
        Both sensors: each sensor's top-k, merged by calibrated score (`calibrate=False`: by raw score, which
        favours the query's own sensor whenever the two sensors' embeddings sit apart)."""
        started = time.perf_counter()
        self._apply_threads()
        check_sensor(query.sensor)
        if k < 1:
            raise InputError("k must be at least 1")
        targets = [check_sensor(t) for t in targets]
        missing = [t for t in targets if t not in self.bundle.indexes]
        if missing:
            raise InputError(f"this bundle has no {', '.join(missing).upper()} index")
        vector = np.ascontiguousarray(query.embedding, dtype=np.float32).reshape(1, -1)
        if vector.shape[1] != self.bundle.dim:
            raise InputError(f"query embedding has {vector.shape[1]} dimensions; the bundle holds {self.bundle.dim}")
        filters = filters or Filters()
        candidates = []
        merge_calibrated = calibrate and len(set(targets)) > 1
        other = "s2" if query.sensor == "s1" else "s1"
        unfiltered: dict = {}
        for target in targets:
            scores, rows = self._search_sensor(vector, target, k, filters, query,
                                               unfiltered if target == other else None)
            calibrated = (self.calibrator.calibrate(scores, vector, target) if merge_calibrated
                          else [None] * len(scores))
            candidates += [(float(s), int(r), target, None if c is None else float(c))
                           for s, r, c in zip(scores, rows, calibrated)]
        candidates.sort(key=lambda c: -(c[3] if merge_calibrated else c[0]))
        results = [self._result(rank, *c, query) for rank, c in enumerate(candidates[:k], start=1)]
        rank, bounded = self.counterpart_rank(query, unfiltered.get("rows")) if counterpart else (None, False)
        return SearchResponse(results, self._query_metrics(query, results), rank, bounded,
                              (time.perf_counter() - started) * 1000)

    def _result(self, rank: int, score: float, row: int, sensor: str, calibrated: float | None,
                query: Query) -> Result:
        labels = list(self.label_lists[row])
        distance = None
        if query.lonlat is not None and np.isfinite(self.lon[row]):
            distance = float(haversine_km(query.lonlat[0], query.lonlat[1], self.lon[row], self.lat[row]))
        result = Result(rank, score, str(self.names[sensor][row]), sensor, str(self.names["s2"][row]), row,
                        labels, float(self.lon[row]), float(self.lat[row]), tuple(map(float, self.bboxes[row])),
                        distance, calibrated_score=calibrated)
        if query.labels is not None:
            for key, value in compare_labels(query.labels, labels).items():
                setattr(result, key, value)
        return result

    @staticmethod
    def _query_metrics(query: Query, results: list[Result]) -> dict[str, float] | None:
        if query.labels is None or not results:
            return None
        q = multi_hot_matrix([to_19(query.labels)])
        r = multi_hot_matrix([res.labels for res in results])[None]
        metrics = retrieval_metrics(q, r)
        return {"P@k": metrics["precision"], "R@k": metrics["recall"], "F1@k": metrics["f1"],
                "AP@k": float(average_precision(q, r)[0]), "k": len(results)}


def row_footprint(table, row: int):
    """The UTM footprint of bundle row `row` (None when its location is unknown)."""
    from csmae_core.geo import Footprint

    epsg = table.at[row, "epsg"]
    if not epsg or not np.isfinite(table.at[row, "ulx"]):
        return None
    return Footprint(int(epsg), *(float(table.at[row, c]) for c in ("ulx", "uly", "lrx", "lry")))

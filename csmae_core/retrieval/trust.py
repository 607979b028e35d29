"""How far a query is from the archive it searches, so that a meaningless query is said, not just answered.

Two yardsticks, both computed from the archive and the bundle themselves (never hard-coded):
* per band, the archive patches' medians: where the query's median sits among them (an offset product
  not declared as such puts every S2 band above nearly all of the archive; linear S1 read as dB sits
  far outside it);
* the archive's usual nearest-neighbour scores: the best score of archive patches searched against the
  rest of the archive (own pair excluded). A query whose best match scores below nearly all of them
  resembles nothing in the archive.
`archive_profile` computes both once per archive and bundle (a sample of `sample` patches); `assess`
judges one query against them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from csmae_core.bands import STORED_BANDS
from csmae_core.retrieval.bundle import Bundle

SAMPLE = 500  # archive patches the profile is computed from (all of them in a smaller archive)
EXTREME_SHARE = 0.1  # percent of the archive: a query beyond 99.9 % of it is out of distribution
_CHUNK = 65536  # archive vectors scored at once


@dataclass
class ArchiveProfile:
    """band -> sorted per-patch medians; (query sensor, target sensor) -> each sampled archive patch's
    best score against the target sensor's other patches (its own pair excluded); the S2 darkest levels
    (an offset product lifts them all to about 1000, which a median cannot tell from a bright scene)."""

    band_medians: dict[str, np.ndarray]
    top_scores: dict[tuple[str, str], np.ndarray]
    patches: int
    darkest: np.ndarray | None = None  # sorted per-patch S2 darkest level: the lowest 1st percentile of its bands

    def usual_top_scores(self, sensor: str, targets: Sequence[str]) -> np.ndarray | None:
        """Sorted best scores of archive queries of `sensor` searching `targets` (None: not computed)."""
        columns = [self.top_scores[(sensor, t)] for t in targets if (sensor, t) in self.top_scores]
        return np.sort(np.max(np.stack(columns), axis=0)) if columns else None


@dataclass
class BandPosition:
    band: str
    median: float
    share_below: float  # percent of archive patches whose median is below the query's
    low: float  # the archive's lowest and highest patch median
    high: float


@dataclass
class TrustReport:
    bands: list[BandPosition]
    top_score: float | None = None
    score_share_below: float | None = None  # percent of archive queries whose best score is below the query's
    usual_scores: tuple[float, float, float] | None = None  # 5th, 50th, 95th percentile of the usual top scores
    warnings: list[str] = field(default_factory=list)


def archive_profile(bundle: Bundle, archive=None, sample: int = SAMPLE, seed: int = 0) -> ArchiveProfile:
    """Band medians of (a sample of) `archive` (a PairArchive with pixels; None: none) and the usual
    nearest-neighbour scores of (a sample of) the bundle."""
    rng = np.random.default_rng(seed)
    band_medians: dict[str, list[float]] = {}
    darkest = []
    if archive is not None and len(archive):
        rows = np.sort(rng.choice(len(archive), min(sample, len(archive)), replace=False))
        for row in rows:
            pair = archive[int(row)]
            for sensor in ("s1", "s2"):
                for band, array in pair.record(sensor).bands.items():
                    band_medians.setdefault(band, []).append(float(np.median(array)))
            darkest.append(darkest_level(pair.s2.bands))
    n = len(bundle.table)
    rows = np.sort(rng.choice(n, min(sample, n), replace=False))
    sensors = list(bundle.embeddings)
    top_scores = {}
    for sensor in sensors:
        queries = np.asarray(bundle.embeddings[sensor][rows], dtype=np.float32)
        targets = sensors if bundle.cross_sensor else [sensor]
        for target in targets:
            top_scores[(sensor, target)] = _best_other(queries, rows, bundle.embeddings[target])
    return ArchiveProfile({b: np.sort(v) for b, v in band_medians.items()}, top_scores, len(rows),
                          np.sort(darkest) if darkest else None)


def darkest_level(bands: Mapping[str, np.ndarray]) -> float:
    """The lowest 1st percentile of an S2 patch's bands (about 1000 and up in an offset product)."""
    return float(min(np.percentile(array, 1) for array in bands.values()))


def _best_other(queries: np.ndarray, rows: np.ndarray, vectors) -> np.ndarray:
    """Best inner product of each query with `vectors`, its own row (its pair) excluded."""
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    for start in range(0, len(vectors), _CHUNK):
        block = np.asarray(vectors[start:start + _CHUNK], dtype=np.float32)
        scores = queries @ block.T
        own = (rows >= start) & (rows < start + len(block))
        scores[np.flatnonzero(own), rows[own] - start] = -np.inf
        best = np.maximum(best, scores.max(axis=1))
    return best


def assess(profile: ArchiveProfile, sensor: str, bands: Mapping[str, np.ndarray] | None = None,
           top_score: float | None = None, targets: Sequence[str] = ("s1", "s2")) -> TrustReport:
    """Where a query of `sensor` (its `bands`, None when its pixels are unknown; the best score of its
    search of `targets`) sits in the archive, with a warning for each out-of-distribution finding."""
    report = TrustReport([])
    for band in STORED_BANDS[sensor]:
        archive = profile.band_medians.get(band)
        if bands is None or band not in bands or archive is None or not len(archive):
            continue
        median = float(np.median(bands[band]))
        report.bands.append(BandPosition(band, median, _share_below(archive, median), float(archive[0]),
                                         float(archive[-1])))
    count = len(next(iter(profile.band_medians.values()))) if profile.band_medians else 0
    if sensor == "s2" and bands and profile.darkest is not None and len(profile.darkest):
        level = darkest_level({b: a for b, a in bands.items() if b in STORED_BANDS["s2"]})
        if _share_below(profile.darkest, level) >= 100 - EXTREME_SHARE:
            report.warnings.append(
                f"every band's darkest pixels are at {level:.0f} or above, brighter than in "
                f"{_share_below(profile.darkest, level):.1f} % of the archive's patches (their darkest level: "
                f"{profile.darkest[0]:.0f}..{profile.darkest[-1]:.0f}): an offset product (+1000, processing "
                "baseline 04.00+) not declared as such?")
    report.warnings += _band_warnings(report.bands, sensor, count)
    usual = profile.usual_top_scores(sensor, targets)
    if top_score is not None and usual is not None:
        report.top_score, report.score_share_below = float(top_score), _share_below(usual, top_score)
        report.usual_scores = tuple(float(np.percentile(usual, q)) for q in (5, 50, 95))
        if report.score_share_below <= EXTREME_SHARE and top_score < usual[0] - 1e-4:  # below all, beyond rounding
            report.warnings.append(
                f"the best match scores {top_score:.3f}, lower than the nearest neighbour of "
                f"{100 - report.score_share_below:.1f} % of the archive's patches (usually "
                f"{report.usual_scores[0]:.2f}..{report.usual_scores[2]:.2f}): nothing in the archive resembles "
                "this query; check the notes on how it was read")
    return report


def _share_below(sorted_values: np.ndarray, value: float) -> float:
    return 100.0 * float(np.searchsorted(sorted_values, value, side="left")) / len(sorted_values)


def _band_warnings(positions: list[BandPosition], sensor: str, patches: int) -> list[str]:
    high = [p for p in positions if p.share_below >= 100 - EXTREME_SHARE]
    low = [p for p in positions if p.share_below <= EXTREME_SHARE and p.median < p.low]
    warnings = []
    for position in high:
        hint = ""
        if sensor == "s2" and len(high) >= len(positions) / 2:
            hint = ": an offset product (+1000, processing baseline 04.00+) not declared as such?"
        elif sensor == "s1":
            hint = ": linear or amplitude values read as dB?"
        share = "all of" if position.share_below == 100 else f"{position.share_below:.1f} % of"
        warnings.append(f"{position.band} is above {share} the archive (median {position.median:.4g}; the "
                        f"archive's {patches} patches: {position.low:.4g}..{position.high:.4g}){hint}")
    for position in low:
        warnings.append(f"{position.band} is below every archive patch (median {position.median:.4g}; the "
                        f"archive's {patches} patches: {position.low:.4g}..{position.high:.4g})"
                        + (": reflectance scaled wrongly?" if sensor == "s2" else ": fill values or wrong unit?"))
    return warnings

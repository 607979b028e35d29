"""Queries built from the archive: one place that turns a bundle row into a search query and into the
facts a page shows about it (pages never read bundle columns themselves)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from csmae_core.geo import Footprint
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.search import Query, row_footprint


@dataclass
class PatchFacts:
    """What a page shows about one archive patch (or an upload): name, labels, where it is."""

    name: str
    sensor: str
    labels: list[str]
    footprint: Footprint | None
    bbox: tuple[float, float, float, float] | None  # WGS84 west, south, east, north
    facts: str  # e.g. "Austria · Summer · split test"


def patch_name(bundle: Bundle, row: int, sensor: str) -> str:
    """The archive's name of the `sensor` patch of pair `row` (S2: the pair id, S1: its S1 name)."""
    return str(bundle.table.at[row, "s1_name" if sensor == "s1" else "pair_id"])


def row_lonlat(bundle: Bundle, row: int) -> tuple[float, float] | None:
    lon, lat = float(bundle.table.at[row, "lon"]), float(bundle.table.at[row, "lat"])
    return (lon, lat) if np.isfinite([lon, lat]).all() else None


def archive_query(bundle: Bundle, row: int, sensor: str) -> Query:
    """Archive patch `row` of `sensor` as a query: the bundle's own embedding, labels and location."""
    row = int(row)
    return Query(bundle.embeddings[sensor][row], sensor, list(bundle.table.at[row, "labels"]),
                 row_lonlat(bundle, row), row, patch_name(bundle, row, sensor))


def pair_embedding(s1_embedding: np.ndarray, s2_embedding: np.ndarray) -> np.ndarray:
    """Both sensors of one place as one query vector: the normalised mean of their unit embeddings
    (meaningful only in a shared space: `bundle.cross_sensor`)."""
    mean = np.asarray(s1_embedding, np.float32) + np.asarray(s2_embedding, np.float32)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def pair_query(s1: Query, s2: Query) -> Query:
    """The S1 and S2 queries of one pair as one query (searched as the S2 side: filters, labels and place
    are the pair's; the counterpart rank means nothing for it: search with counterpart=False)."""
    return Query(pair_embedding(s1.embedding, s2.embedding), "s2", s2.labels if s2.labels is not None else s1.labels,
                 s2.lonlat or s1.lonlat, s2.pair_row, f"{s2.name} + {s1.name} (S1+S2)")


def archive_pair_query(bundle: Bundle, row: int) -> Query:
    """Archive pair `row` with both sensors' embeddings together (see `pair_query`)."""
    return pair_query(archive_query(bundle, row, "s1"), archive_query(bundle, row, "s2"))


def archive_facts(bundle: Bundle, row: int, sensor: str) -> PatchFacts:
    table, row = bundle.table, int(row)
    bbox = tuple(float(table.at[row, c]) for c in ("west", "south", "east", "north"))
    return PatchFacts(patch_name(bundle, row, sensor), sensor, list(table.at[row, "labels"]),
                      row_footprint(table, row), bbox if np.isfinite(bbox).all() else None,
                      f"{table.at[row, 'country']} · {table.at[row, 'season']} · split {table.at[row, 'split']}")


def rows_named(bundle: Bundle, pair_id: str) -> np.ndarray:
    """Bundle rows whose pair id is `pair_id` (empty when the archive does not hold it)."""
    return np.flatnonzero(bundle.table["pair_id"].to_numpy() == pair_id)

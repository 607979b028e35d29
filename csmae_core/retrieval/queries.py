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


def archive_facts(bundle: Bundle, row: int, sensor: str) -> PatchFacts:
    table, row = bundle.table, int(row)
    bbox = tuple(float(table.at[row, c]) for c in ("west", "south", "east", "north"))
    return PatchFacts(patch_name(bundle, row, sensor), sensor, list(table.at[row, "labels"]),
                      row_footprint(table, row), bbox if np.isfinite(bbox).all() else None,
                      f"{table.at[row, 'country']} · {table.at[row, 'season']} · split {table.at[row, 'split']}")


def rows_named(bundle: Bundle, pair_id: str) -> np.ndarray:
    """Bundle rows whose pair id is `pair_id` (empty when the archive does not hold it)."""
    return np.flatnonzero(bundle.table["pair_id"].to_numpy() == pair_id)

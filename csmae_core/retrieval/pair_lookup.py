"""Finding an archive pair by hand to query with: the pair nearest a clicked point, pairs whose name,
country or labels hold a text, and the rows a page lists or marks on a map (pages never read bundle
columns themselves)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from csmae_core.geo import haversine_km
from csmae_core.retrieval.bundle import Bundle


def archive_centre(bundle: Bundle) -> tuple[float, float]:
    """(lat, lon): the mean location of the archive's pairs, where a map of them starts."""
    return float(bundle.table["lat"].mean()), float(bundle.table["lon"].mean())


def map_markers(bundle: Bundle, limit: int) -> pd.DataFrame:
    """The first `limit` pairs as map markers: columns lat, lon, tooltip ("<pair id> · <labels>")."""
    shown = bundle.table.head(limit)
    tooltips = shown["pair_id"] + " · " + shown["labels"].map(", ".join)
    return pd.DataFrame({"lat": shown["lat"], "lon": shown["lon"], "tooltip": tooltips})


def nearest_pair(bundle: Bundle, lon: float, lat: float) -> int:
    """Row of the pair whose centre is nearest to (lon, lat) on the sphere (pairs without a location
    are never nearest)."""
    table = bundle.table
    distance = haversine_km(lon, lat, table["lon"].to_numpy(), table["lat"].to_numpy())
    return int(np.nanargmin(distance))


def pairs_matching(bundle: Bundle, text: str) -> np.ndarray:
    """Rows whose pair id, country or labels hold `text` (case-insensitive; every row for no text)."""
    table, text = bundle.table, text.strip().lower()
    if not text:
        return np.arange(len(table))
    haystack = (table["pair_id"] + " " + table["country"].fillna("") + " " + table["labels"].map(" ".join)).str.lower()
    return np.flatnonzero(haystack.str.contains(text, regex=False).to_numpy())


def pair_listing(bundle: Bundle, rows: np.ndarray) -> pd.DataFrame:
    """Pairs `rows` as a table to show: pair_id, country, season, split, labels (comma-joined); the
    index is the bundle row."""
    shown = bundle.table.iloc[rows]
    return shown[["pair_id", "country", "season", "split"]].assign(labels=shown["labels"].map(", ".join))

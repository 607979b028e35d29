"""Browsing an archive table, the core of the archive explorer page: the facts computed once per table
(label matrix, filter choices, coordinates) and, on every rerun, the filtered rows, the label statistics,
what the map view shows, what a click on it hit, and a pair's summary and patch GeoJSON.

The vectorised filtering and grid aggregation are aggregate.py's; nothing here knows about Streamlit or
Leaflet. The table is a bundle table (csmae_core.retrieval.bundle.TABLE_COLUMNS).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from csmae_core.labels import LABELS_19
from csmae_core.retrieval.aggregate import (
    Bounds,
    data_bounds,
    filter_rows,
    in_bounds,
    label_counts,
    label_matrix,
    nearest_cell,
    nearest_row,
    viewport_points,
)

SEASON_ORDER = ("Spring", "Summer", "Fall", "Autumn", "Winter")
SPLIT_ORDER = ("train", "validation", "test")
EUROPE: Bounds = (-10.0, 35.0, 35.0, 70.0)
FLAG_COLUMNS = (("seasonal snow", "contains_seasonal_snow"), ("cloud or shadow", "contains_cloud_or_shadow"))


def ordered(values: pd.Series, order: tuple[str, ...] = ()) -> list[str]:
    """The distinct values, those named in `order` first (in that order), then the others sorted."""
    present = sorted({str(v) for v in values.dropna().unique()})
    return [v for v in order if v in present] + [v for v in present if v not in order]


@dataclass(frozen=True)
class Click:
    """What a click on the map hit: a patch (its table row) or a grid cell (its circle's lat, lon)."""

    row: int | None = None
    cell: tuple[float, float] | None = None


@dataclass
class TableFacts:
    """An archive table with what browsing it needs, computed once per table (see `table_facts`).

    matrix: (N, 19) bool, pair i has label j of LABELS_19; totals: pairs per label; choices: the filter
    values present ("labels", "country", "season", "split"); pair_ids, lon, lat: (N,) columns as arrays;
    home: the bounds of all pairs with coordinates (Europe when none)."""

    table: pd.DataFrame
    matrix: np.ndarray
    totals: pd.Series
    choices: dict[str, list[str]]
    pair_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    home: Bounds

    def filter(self, labels=None, countries=None, seasons=None, splits=None) -> np.ndarray:
        """(N,) bool mask of the pairs passing the filters (see aggregate.filter_rows: empty keeps all)."""
        return filter_rows(self.table, labels, countries, seasons, splits, matrix=self.matrix)

    def fitted_bounds(self, mask: np.ndarray) -> Bounds:
        """The bounds of the selected pairs, or `home` when none of them has coordinates."""
        return data_bounds(self.lon, self.lat, mask) or self.home

    def viewport(self, mask: np.ndarray, bounds: Bounds, zoom: float, max_points: int,
                 values: np.ndarray | None = None) -> dict:
        """What to draw in the view (see aggregate.viewport_points: patches, or counts per grid cell, with
        the max and mean of `values` per cell when given)."""
        return viewport_points(self.lon, self.lat, mask, bounds, zoom, max_points, values)

    def rows_in_view(self, mask: np.ndarray, shown: dict, bounds: Bounds) -> np.ndarray:
        """Table rows of the selected pairs in view (the shown patches, or all those inside the cells)."""
        if shown["mode"] == "points":
            return shown["rows"]
        return np.flatnonzero(in_bounds(self.lon, self.lat, bounds)[0] & mask)

    def centre(self, row: int) -> tuple[float, float] | None:
        """(lat, lon) of pair `row`'s centroid, None when unknown."""
        lat, lon = float(self.lat[row]), float(self.lon[row])
        return (lat, lon) if np.isfinite([lat, lon]).all() else None

    def clicked(self, shown: dict, click_lon: float, click_lat: float) -> Click:
        """The shown patch nearest to a click, or the shown cell nearest to it (empty Click: nothing)."""
        if shown["mode"] == "points":
            return Click(row=nearest_row(self.lon, self.lat, shown["rows"], click_lon, click_lat))
        return Click(cell=nearest_cell(shown["cells"], click_lon, click_lat))

    def label_shares(self, mask: np.ndarray) -> pd.DataFrame:
        """One row per label of LABELS_19: "label", "pairs" (selected pairs having it) and "share" of the
        selected pairs (a pair has several labels: the shares add up to more than 1)."""
        counts = label_counts(self.table, mask, self.matrix)
        return pd.DataFrame({"label": counts.index, "pairs": counts.to_numpy(),
                             "share": counts.to_numpy() / max(int(np.sum(mask)), 1)})


def table_facts(table: pd.DataFrame) -> TableFacts:
    """The facts of a bundle table (seconds on 550k pairs: keep them, e.g. once per server)."""
    matrix = label_matrix(table["labels"])
    totals = label_counts(table, None, matrix)
    choices = {"labels": [label for label in LABELS_19 if totals[label] > 0],
               "country": ordered(table["country"]), "season": ordered(table["season"], SEASON_ORDER),
               "split": ordered(table["split"], SPLIT_ORDER)}
    lon, lat = table["lon"].to_numpy(dtype=np.float64), table["lat"].to_numpy(dtype=np.float64)
    return TableFacts(table, matrix, totals, choices, table["pair_id"].to_numpy(dtype=object), lon, lat,
                      data_bounds(lon, lat) or EUROPE)


def is_true(value) -> bool:
    """A flag column's value is set (None, NaN and non-booleans are not)."""
    return isinstance(value, (bool, np.bool_)) and bool(value)


def pair_summary(table: pd.DataFrame, row: int) -> str:
    """One line about pair `row`: split · country · season, its snow/cloud flags, then its S1 name on a
    markdown line of its own (parts the table does not know are left out)."""
    pair = table.iloc[int(row)]
    flags = [name for name, column in FLAG_COLUMNS if is_true(pair[column])]
    return (" · ".join(v for v in (pair["split"], pair["country"], pair["season"]) if isinstance(v, str))
            + (f" · contains {', '.join(flags)}" if flags else "")
            + (f"  \nS1: {pair['s1_name']}" if isinstance(pair["s1_name"], str) else ""))


def patch_features(table: pd.DataFrame, rows: np.ndarray, footprints: bool) -> dict:
    """GeoJSON FeatureCollection of the patches `rows` with properties "pair" and "labels": footprint
    polygons, or centroid points when `footprints` is False (or the bounds are unknown). Coordinates are
    rounded to 1e-5 degrees (~1 m) to keep what is sent to the browser small."""
    part = table.iloc[rows].round({c: 5 for c in ("lon", "lat", "west", "south", "east", "north")})
    features = []
    for pair_id, labels, lon, lat, west, south, east, north in zip(
            part["pair_id"], part["labels"], part["lon"], part["lat"], part["west"], part["south"],
            part["east"], part["north"]):
        if footprints and np.isfinite([west, south, east, north]).all():
            geometry = {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north],
                                                             [west, north], [west, south]]]}
        else:
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {"pair": pair_id, "labels": ", ".join(labels) or "(none)"}})
    return {"type": "FeatureCollection", "features": features}

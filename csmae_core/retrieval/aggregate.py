"""Filtering and spatial aggregation of an archive table for the archive explorer (pure NumPy/pandas).

A browser cannot draw half a million Leaflet layers, and serialising them on every rerun would take
seconds. So the explorer only ever sends what lies in the current viewport: the individual patches
when there are few of them (`max_points`), otherwise one circle per grid cell whose size follows the
zoom level, so that the number of drawn objects is bounded by the screen size, not the archive size.
Everything here is vectorised (np.floor + np.unique + np.bincount) and takes tens of milliseconds for
the ~550k pairs of reBEN (480k + the snow/cloud patches); nothing here knows about Streamlit or Leaflet.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from csmae_core.labels import LABELS_19

Bounds = tuple[float, float, float, float]  # west, south, east, north in degrees (WGS84)
CELLS_PER_TILE = 4  # grid cells per 256-px web-map tile side: ~64-px cells at every zoom
MAX_ZOOM = 18
DENSE_CELLS = 1 << 20  # grids up to this many cells are counted densely (see cell_keys)
CELL_COLUMNS = ("lon", "lat", "count", "west", "south", "east", "north")
VALUE_COLUMNS = ("best", "mean")  # with per-pair values (e.g. similarity to a query): their max and mean per cell


def label_matrix(labels: Sequence[Iterable[str]]) -> np.ndarray:
    """(N, 19) bool matrix: pair i has label j of LABELS_19. Labels outside the 19 classes are ignored.

    Built once per table (the label lists flattened and looked up in one vectorised step) so that label
    filters and label statistics are then plain boolean-matrix operations, not Python loops."""
    lengths = np.fromiter((len(v) for v in labels), dtype=np.int64, count=len(labels))
    flat = list(itertools.chain.from_iterable(labels))
    codes = pd.Index(LABELS_19).get_indexer(flat).astype(np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    matrix = np.zeros((len(lengths), len(LABELS_19)), dtype=bool)
    known = codes >= 0
    matrix[rows[known], codes[known]] = True
    return matrix


def filter_rows(table: pd.DataFrame, labels: Iterable[str] | None = None, countries: Iterable[str] | None = None,
                seasons: Iterable[str] | None = None, splits: Iterable[str] | None = None,
                matrix: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask over the table's rows.

    A filter that is None or empty does not restrict (an empty multiselect means "all"). `labels`
    keeps the pairs having ANY of the chosen labels (a pair has several labels; "all of them" would
    empty the map after two picks). `matrix` is `label_matrix(table["labels"])`, passed in when the
    caller keeps it between calls (it is the only costly part on a large table)."""
    mask = np.ones(len(table), dtype=bool)
    for column, values in (("country", countries), ("season", seasons), ("split", splits)):
        values = list(values or [])
        if values:
            mask &= table[column].isin(values).to_numpy()
    labels = list(labels or [])
    chosen = [LABELS_19.index(label) for label in labels if label in LABELS_19]
    if labels and not chosen:  # only unknown labels: nothing has them
        return np.zeros(len(table), dtype=bool)
    if chosen:
        matrix = label_matrix(table["labels"]) if matrix is None else matrix
        mask &= matrix[:, chosen].any(axis=1)
    return mask


def label_counts(table: pd.DataFrame, mask: np.ndarray | None = None, matrix: np.ndarray | None = None) -> pd.Series:
    """Number of selected pairs having each of the 19 labels (index: LABELS_19 order, zeros included,
    so that charts keep the same bars whatever the filter)."""
    matrix = label_matrix(table["labels"]) if matrix is None else matrix
    selected = matrix if mask is None else matrix[np.asarray(mask, dtype=bool)]
    return pd.Series(selected.sum(axis=0).astype(np.int64), index=list(LABELS_19), name="pairs")


def cell_size(zoom: float) -> float:
    """Grid cell side in degrees at a web-map zoom level: a quarter of a tile (360 / 2**zoom / 4)."""
    zoom = min(max(float(zoom), 0.0), MAX_ZOOM)
    return 360.0 / 2.0 ** zoom / CELLS_PER_TILE


def in_bounds(lon: np.ndarray, lat: np.ndarray, bounds: Bounds | None) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the points inside `bounds`, their longitudes shifted into the view's range).

    Leaflet reports longitudes beyond +-180 once the map is panned around the globe (e.g. west=170,
    east=200); the points are compared after shifting them by multiples of 360 into [west, west+360),
    so such views and views across the antimeridian work. None means the whole world. NaN is outside."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    if bounds is None:
        return np.isfinite(lon) & np.isfinite(lat), lon
    west, south, east, north = (float(b) for b in bounds)
    if south > north:
        south, north = north, south
    if east - west >= 360.0:
        shifted = lon
        inside_lon = np.isfinite(lon)
    else:
        if east < west:  # a view given as west=170, east=-170 (crossing the antimeridian)
            east += 360.0
        shifted = np.mod(lon - west, 360.0) + west
        inside_lon = shifted <= east
    with np.errstate(invalid="ignore"):
        inside = inside_lon & (lat >= south) & (lat <= north)
    return inside, shifted


def viewport_points(lon: np.ndarray, lat: np.ndarray, mask: np.ndarray | None, bounds: Bounds | None,
                    zoom: float, max_points: int = 2000, values: np.ndarray | None = None) -> dict:
    """What to draw for the current map view.

    Returns {"mode": "points", "rows": table rows in view, "n_in_view", "cells": empty frame} when at
    most `max_points` selected pairs lie inside `bounds`; otherwise {"mode": "cells", "rows": empty,
    "n_in_view", "cells": DataFrame with CELL_COLUMNS, "cell_size"}: one row per occupied grid cell of
    `cell_size(zoom)` degrees, with its number of pairs, the mean position of those pairs (where the
    circle is drawn, so it sits on the data rather than on the grid) and the cell's bounds.
    The cell counts sum to n_in_view. `values`: (N,) a number per pair (e.g. its similarity to a query);
    the cells then also hold VALUE_COLUMNS, the max and mean of their pairs' values."""
    inside, shifted = in_bounds(lon, lat, bounds)
    if mask is not None:
        inside &= np.asarray(mask, dtype=bool)
    rows = np.flatnonzero(inside)
    size = cell_size(zoom)
    result = {"mode": "points", "rows": rows, "n_in_view": int(len(rows)), "cell_size": size,
              "cells": empty_cells()}
    if len(rows) <= max_points:
        return result
    in_view_values = None if values is None else np.asarray(values)[rows]
    result.update(mode="cells", rows=np.zeros(0, dtype=np.int64),
                  cells=grid_cells(shifted[rows], lat[rows], size, in_view_values))
    return result


def empty_cells(with_values: bool = False) -> pd.DataFrame:
    columns = CELL_COLUMNS + (VALUE_COLUMNS if with_values else ())
    return pd.DataFrame({c: np.zeros(0, dtype=np.int64 if c == "count" else np.float64) for c in columns})


def grid_cells(lon: np.ndarray, lat: np.ndarray, size: float, values: np.ndarray | None = None) -> pd.DataFrame:
    """Occupied cells of a regular lon/lat grid of `size` degrees (see viewport_points); with `values`
    (one per point), also their max ("best") and mean per cell (NaN values are left out of both)."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    ix = np.floor(lon / size).astype(np.int64)
    iy = np.floor(lat / size).astype(np.int64)
    if len(ix) == 0:
        return empty_cells(values is not None)
    keys, inverse, counts, span = cell_keys(ix - ix.min(), iy - iy.min())
    cx, cy = keys // span + ix.min(), keys % span + iy.min()
    cells = pd.DataFrame({
        "lon": np.bincount(inverse, weights=lon, minlength=len(keys)) / counts,
        "lat": np.bincount(inverse, weights=lat, minlength=len(keys)) / counts,
        "count": counts.astype(np.int64),
        "west": cx * size, "south": cy * size, "east": (cx + 1) * size, "north": (cy + 1) * size,
    }, columns=list(CELL_COLUMNS))
    if values is not None:
        cells["best"], cells["mean"] = cell_statistics(inverse, np.asarray(values, dtype=np.float64), len(keys))
    return cells


def cell_keys(ix: np.ndarray, iy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(occupied cell keys ascending, each point's index into them, points per cell, column span) of points
    in grid cells (ix, iy >= 0); key = ix * span + iy. A view spans a few hundred cells, so they are counted
    with one bincount over the dense grid (~10 ms for 550k points; np.unique's sort took ~60 ms); a sparse
    grid (the whole world at a fine zoom) falls back to np.unique."""
    span = int(iy.max()) + 1
    keys = ix * span + iy
    dense = (int(ix.max()) + 1) * span
    if dense > DENSE_CELLS:
        unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        return unique, inverse.reshape(-1), counts, span
    every = np.bincount(keys, minlength=dense)
    occupied = np.flatnonzero(every)
    position = np.zeros(dense, dtype=np.int64)
    position[occupied] = np.arange(len(occupied))
    return occupied, position[keys], every[occupied], span


def cell_statistics(inverse: np.ndarray, values: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """(max, mean) of `values` per cell (`inverse`: each value's cell); NaN for a cell without a finite value.
    np.maximum.at: ~1 ms for 550k values (unbuffered ufuncs are fast since NumPy 1.25)."""
    finite = np.isfinite(values)
    inverse, values = inverse[finite], values[finite]
    best = np.full(cells, -np.inf)
    np.maximum.at(best, inverse, values)
    counted = np.bincount(inverse, minlength=cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(inverse, weights=values, minlength=cells) / counted
    return np.where(counted > 0, best, np.nan), np.where(counted > 0, mean, np.nan)


def data_bounds(lon: np.ndarray, lat: np.ndarray, mask: np.ndarray | None = None) -> Bounds | None:
    """Bounding box (west, south, east, north) of the selected points with coordinates; None if none."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    keep = np.isfinite(lon) & np.isfinite(lat)
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    if not keep.any():
        return None
    return float(lon[keep].min()), float(lat[keep].min()), float(lon[keep].max()), float(lat[keep].max())


def fit_view(bounds: Bounds, width_px: int = 900, height_px: int = 560, max_zoom: int = 14) -> tuple[float, float, int]:
    """(centre lat, centre lon, integer zoom) of a web-Mercator view of `width_px` x `height_px` pixels
    that shows all of `bounds` (what Leaflet's fitBounds does, computed here so that the server knows
    the viewport, and thus what to draw, before the browser reports it)."""
    west, south, east, north = bounds
    south, north = max(south, -85.0), min(north, 85.0)

    def mercator_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    lon_span = max(east - west, 1e-6) / 360.0
    lat_span = max(mercator_y(north) - mercator_y(south), 1e-6) / (2 * math.pi)
    zoom = math.floor(min(math.log2(width_px / 256 / lon_span), math.log2(height_px / 256 / lat_span)))
    return (south + north) / 2, (west + east) / 2, int(min(max(zoom, 1), max_zoom))


def view_bounds(lat: float, lon: float, zoom: float, width_px: int = 900, height_px: int = 560) -> Bounds:
    """Approximate bounds of a `width_px` x `height_px` view centred on (lat, lon) at `zoom` (the inverse
    of fit_view): what the server aggregates for until the browser reports the real bounds."""
    half_lon = width_px / 2 / 256 * 360 / 2 ** zoom
    half_lat = height_px / 2 / 256 * 360 / 2 ** zoom * max(math.cos(math.radians(lat)), 0.05)
    return lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat


def nearest_cell(cells: pd.DataFrame, click_lon: float, click_lat: float) -> tuple[float, float] | None:
    """(lat, lon) of the cell circle (a `grid_cells` row) nearest to the clicked point; None without cells."""
    if len(cells) == 0:
        return None
    nearest = int(np.argmin((cells["lon"] - click_lon) ** 2 + (cells["lat"] - click_lat) ** 2))
    return float(cells["lat"].iloc[nearest]), float(cells["lon"].iloc[nearest])


def nearest_row(lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, click_lon: float, click_lat: float) -> int | None:
    """The row among `rows` whose centroid is nearest to the clicked point (equirectangular distance,
    fine at patch scale); None when `rows` is empty. Longitudes are compared modulo 360."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return None
    dlon = (np.asarray(lon, dtype=np.float64)[rows] - click_lon + 180.0) % 360.0 - 180.0
    dlat = np.asarray(lat, dtype=np.float64)[rows] - click_lat
    distance = (dlon * math.cos(math.radians(click_lat))) ** 2 + dlat ** 2
    distance = np.where(np.isfinite(distance), distance, np.inf)
    return int(rows[int(np.argmin(distance))])

"""Where a patch is: footprints from a GeoTIFF transform, a labels_metadata.json or a patch name.

BigEarthNet cuts every Sentinel-2 tile into 1200 m squares from the tile's upper-left corner; in a
patch name `..._<x>_<y>` x is the column (east) and y the row (south). The corners of the 56 tiles
ship in `data/ben_tiles.csv`. All projection maths is pyproj's.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

from csmae_core.bands import PATCH_METRES
from csmae_core.errors import InputError

WGS84 = "EPSG:4326"
_XY_RE = re.compile(r"_(\d+)_(\d+)$")
_S2V2_TILE_RE = re.compile(r"_T(\d{2}[C-X][A-Z]{2})_\d+_\d+$")
_S1_TILE_RE = re.compile(r"^S1[AB]_IW_GRDH_\w+?_(\d{2}[C-X][A-Z]{2})_\d+_\d+$")


@dataclass(frozen=True)
class Tile:
    name: str
    epsg: int
    ulx: float
    uly: float


@lru_cache(maxsize=1)
def tiles() -> dict[str, Tile]:
    """The BigEarthNet tile table: tile name -> EPSG code and upper-left UTM corner."""
    text = resources.files("csmae_core").joinpath("data/ben_tiles.csv").read_text()
    rows = csv.DictReader(text.splitlines())
    return {r["tile"]: Tile(r["tile"], int(r["epsg"]), float(r["ulx"]), float(r["uly"])) for r in rows}


@lru_cache(maxsize=64)
def _to_wgs84(epsg: int) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(epsg), WGS84, always_xy=True)


@lru_cache(maxsize=64)
def _from_wgs84(epsg: int) -> Transformer:
    return Transformer.from_crs(WGS84, CRS.from_epsg(epsg), always_xy=True)


@dataclass(frozen=True)
class Footprint:
    """Axis-aligned square in a projected CRS (UTM for BigEarthNet): upper-left and lower-right."""

    epsg: int
    ulx: float
    uly: float
    lrx: float
    lry: float

    def polygon_utm(self) -> list[tuple[float, float]]:
        """Closed ring UL, UR, LR, LL, UL in the footprint's CRS."""
        return [(self.ulx, self.uly), (self.lrx, self.uly), (self.lrx, self.lry),
                (self.ulx, self.lry), (self.ulx, self.uly)]

    def polygon_wgs84(self) -> list[tuple[float, float]]:
        """The same ring as (lon, lat)."""
        xs, ys = zip(*self.polygon_utm())
        lons, lats = _to_wgs84(self.epsg).transform(xs, ys)
        return list(zip(lons, lats))

    def bounds_wgs84(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) enclosing the projected square."""
        lons, lats = zip(*self.polygon_wgs84())
        return min(lons), min(lats), max(lons), max(lats)

    def centroid_wgs84(self) -> tuple[float, float]:
        lon, lat = _to_wgs84(self.epsg).transform((self.ulx + self.lrx) / 2, (self.uly + self.lry) / 2)
        return float(lon), float(lat)

    def summary(self) -> dict[str, Any]:
        lon, lat = self.centroid_wgs84()
        return {
            "epsg": self.epsg,
            "utm": {"ulx": self.ulx, "uly": self.uly, "lrx": self.lrx, "lry": self.lry},
            "wgs84_polygon": [[round(x, 7), round(y, 7)] for x, y in self.polygon_wgs84()],
            "wgs84_centroid": [round(lon, 7), round(lat, 7)],
        }


def footprint_from_transform(transform: Any, crs: Any, width: int, height: int) -> Footprint:
    """Footprint of a north-up raster from its affine transform and CRS (rasterio objects)."""
    if crs is None:
        raise InputError("the raster has no coordinate reference system, so its location is unknown")
    epsg = CRS.from_user_input(crs).to_epsg()
    if epsg is None:
        raise InputError(f"the raster's coordinate system has no EPSG code: {crs}")
    ulx, uly = transform.c, transform.f
    return Footprint(epsg, ulx, uly, ulx + transform.a * width, uly + transform.e * height)


def footprint_from_labels_metadata(meta: dict[str, Any]) -> Footprint:
    """Footprint from a BigEarthNet v1 labels_metadata.json (S1 files say `lly` where S2 says `lry`)."""
    try:
        coords = meta["coordinates"]
        lry = coords["lry"] if "lry" in coords else coords["lly"]
        epsg = CRS.from_wkt(meta["projection"]).to_epsg()
        return Footprint(int(epsg), float(coords["ulx"]), float(coords["uly"]), float(coords["lrx"]),
                         float(lry))
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"labels_metadata.json has no usable coordinates/projection ({error})") from error


def patch_xy(name: str) -> tuple[int, int]:
    """(column x, row y) of a patch inside its tile, from the name's `_<x>_<y>` suffix."""
    match = _XY_RE.search(name)
    if not match:
        raise InputError(f"{name!r} does not end in _<x>_<y> like a BigEarthNet patch name")
    return int(match.group(1)), int(match.group(2))


def tile_of_name(name: str) -> str | None:
    """Tile of a v2 S2 name (`_T33UUP_x_y`) or an S1 name (`_33UUP_x_y`); None for v1 S2 names."""
    for pattern in (_S2V2_TILE_RE, _S1_TILE_RE):
        match = pattern.search(name)
        if match:
            return match.group(1)
    return None


def footprint_from_name(name: str, tile: str | None = None) -> Footprint:
    """Footprint from the tile grid. v1 S2 names carry no tile: pass it (e.g. from the S1 name)."""
    tile = tile or tile_of_name(name)
    if tile is None:
        raise InputError(
            f"{name!r} names no tile (v1 S2 names do not); pass the tile or the paired S1 name")
    if tile not in tiles():
        raise InputError(f"tile {tile!r} is not one of the {len(tiles())} BigEarthNet tiles")
    x, y = patch_xy(name)
    t = tiles()[tile]
    ulx, uly = t.ulx + PATCH_METRES * x, t.uly - PATCH_METRES * y
    return Footprint(t.epsg, ulx, uly, ulx + PATCH_METRES, uly - PATCH_METRES)


def centroids_wgs84(epsg: np.ndarray, ulx: np.ndarray, uly: np.ndarray,
                    size: float = PATCH_METRES) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised (lon, lat) of many square footprints' centres (one transform per EPSG code)."""
    lon = np.empty(len(epsg))
    lat = np.empty(len(epsg))
    for code in np.unique(epsg):
        rows = epsg == code
        lon[rows], lat[rows] = _to_wgs84(int(code)).transform(ulx[rows] + size / 2, uly[rows] - size / 2)
    return lon, lat


def utm_epsg_for(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 / UTM zone containing (lon, lat)."""
    zone = int(math.floor((lon + 180) / 6)) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def haversine_km(lon1, lat1, lon2, lat2):
    """Great-circle distance in km (NumPy-broadcasting)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 6371.0088 * 2 * np.arcsin(np.sqrt(a))


def lonlat_to_utm(lon: float, lat: float, epsg: int) -> tuple[float, float]:
    x, y = _from_wgs84(epsg).transform(lon, lat)
    return float(x), float(y)


def footprints_wgs84(epsg: np.ndarray, ulx: np.ndarray, uly: np.ndarray, lrx: np.ndarray,
                     lry: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised centroid (lon, lat) and bbox (west, south, east, north) of many UTM squares."""
    out = {name: np.full(len(epsg), np.nan) for name in ("lon", "lat", "west", "south", "east", "north")}
    for code in np.unique(epsg[epsg > 0]):
        rows = epsg == code
        transform = _to_wgs84(int(code)).transform
        out["lon"][rows], out["lat"][rows] = transform((ulx[rows] + lrx[rows]) / 2, (uly[rows] + lry[rows]) / 2)
        corners = [transform(x, y) for x, y in ((ulx[rows], uly[rows]), (lrx[rows], uly[rows]),
                                                (ulx[rows], lry[rows]), (lrx[rows], lry[rows]))]
        lons, lats = np.stack([c[0] for c in corners]), np.stack([c[1] for c in corners])
        out["west"][rows], out["east"][rows] = lons.min(0), lons.max(0)
        out["south"][rows], out["north"][rows] = lats.min(0), lats.max(0)
    return out

"""An area of interest: a polygon (drawn on the map, or a GeoJSON file) that limits a search to the patches
whose footprint touches it, or to those whose footprint lies wholly outside it.

Decided on each patch's WGS84 footprint box (the bundle's west/south/east/north columns) with shapely, after
a cheap numpy pre-selection by the polygon's bounds, so a country-sized polygon over the 549,488 reBEN
patches costs tens of milliseconds (scripts/measure_area.py). Patches of unknown location belong to neither
side: they are left out either way, and `AreaSelection.unknown` says how many.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity

from csmae_core.errors import InputError
from csmae_core.retrieval.json_input import json_object

MAX_AREA_BYTES = 5 * 2**20  # a GeoJSON area larger than this is not a hand-made area of interest
MAX_VERTICES = 100_000
POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class Area:
    """A valid WGS84 (multi)polygon and which side of it a search keeps."""

    polygon: Any  # shapely Polygon or MultiPolygon, lon/lat degrees
    inside: bool = True

    def to_geojson(self) -> dict:
        return {"type": "Feature", "properties": {"keep": "inside" if self.inside else "outside"},
                "geometry": shapely.geometry.mapping(self.polygon)}


@dataclass(frozen=True)
class AreaSelection:
    mask: np.ndarray  # (N,) bool: rows the area keeps
    unknown: int      # rows left out because their location is unknown


def read_area(source: str | bytes | dict, inside: bool = True, name: str = "the area") -> Area:
    """The polygon of a GeoJSON text/dict: a Polygon or MultiPolygon geometry, or a Feature or a
    FeatureCollection of such (several polygons are merged). Anything else is refused with the reason."""
    data = _parsed(source, name)
    geometries = _geometries(data, name)
    try:
        shapes = [shape(g) for g in geometries]
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise InputError(f"{name} holds a polygon shapely cannot read ({exc}); export it again as GeoJSON") from None
    polygon = shapes[0] if len(shapes) == 1 else shapely.union_all(shapes)
    _check_polygon(polygon, name)
    return Area(polygon, inside)


def _parsed(source: str | bytes | dict, name: str) -> dict:
    if isinstance(source, dict):
        return source
    return json_object(source, name, MAX_AREA_BYTES, "GeoJSON",
                       "upload a .geojson file holding one polygon (simplify the polygon if it is large)")


def _geometries(data: dict, name: str) -> list[dict]:
    kind = data.get("type")
    if kind == "FeatureCollection":
        features = data.get("features") or []
        geometries = [f.get("geometry") if isinstance(f, dict) else None for f in features]
    elif kind == "Feature":
        geometries = [data.get("geometry")]
    else:
        geometries = [data]
    if not geometries:
        raise InputError(f"{name} holds no feature; draw or upload a polygon")
    kinds = sorted({g.get("type") if isinstance(g, dict) else "no geometry" for g in geometries})
    if any(k not in POLYGONAL for k in kinds):
        raise InputError(f"{name} holds {', '.join(str(k) for k in kinds)}, not a polygon; an area of interest "
                         "is a Polygon or MultiPolygon (draw a rectangle or polygon on the map)")
    return geometries


def _check_polygon(polygon, name: str) -> None:
    if polygon.is_empty:
        raise InputError(f"{name} is an empty polygon; draw or upload a polygon with an inside")
    if shapely.get_num_coordinates(polygon) > MAX_VERTICES:
        raise InputError(f"{name} has {shapely.get_num_coordinates(polygon):,} vertices, more than "
                         f"{MAX_VERTICES:,}; simplify it (e.g. ogr2ogr -simplify)")
    if not polygon.is_valid:
        raise InputError(f"{name} is not a valid polygon ({explain_validity(polygon)}): its edges must not cross "
                         "or touch; redraw it, or repair it (e.g. shapely.make_valid, QGIS 'Fix geometries')")
    west, south, east, north = polygon.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InputError(f"{name} has coordinates outside longitude -180..180 / latitude -90..90 "
                         f"(bounds {west:.6g}, {south:.6g}, {east:.6g}, {north:.6g}); GeoJSON is WGS84 "
                         "longitude, latitude: export it in EPSG:4326")


def area_selection(area: Area, bboxes: np.ndarray) -> AreaSelection:
    """Rows whose footprint box ((N, 4) west, south, east, north in degrees) touches the polygon, or (for
    `inside=False`) lies wholly outside it."""
    known = np.isfinite(bboxes).all(axis=1)
    touching = np.zeros(len(bboxes), dtype=bool)
    rows = _near_bounds(area.polygon, bboxes, known)
    if len(rows):
        touching[rows] = _touching(area.polygon, bboxes[rows])
    mask = touching if area.inside else known & ~touching
    return AreaSelection(mask, int((~known).sum()))


def _near_bounds(polygon, bboxes: np.ndarray, known: np.ndarray) -> np.ndarray:
    west, south, east, north = polygon.bounds
    return np.flatnonzero(known & (bboxes[:, 0] <= east) & (bboxes[:, 2] >= west) & (bboxes[:, 1] <= north)
                          & (bboxes[:, 3] >= south))


def _touching(polygon, boxes: np.ndarray) -> np.ndarray:
    """Exact box-polygon intersection, paid only near the boundary: a box whose centre is inside touches; a
    box whose centre is farther from the polygon than its half-diagonal does not; the boxes in between (a
    narrow band along the edges) are tested as boxes."""
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    shapely.prepare(polygon)
    touching = shapely.contains_xy(polygon, centre_x, centre_y)
    reach = float(np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]).max()) / 2
    # 8 segments per circle inscribe a polygon of radius 1.5 x 0.92 > 1 x reach: a superset of the true band
    band = polygon.buffer(1.5 * reach, quad_segs=2)
    shapely.prepare(band)
    outside = np.flatnonzero(~touching)
    doubtful = outside[shapely.contains_xy(band, centre_x[outside], centre_y[outside])]
    if len(doubtful):
        near = boxes[doubtful]
        touching[doubtful] = shapely.intersects(polygon, shapely.box(near[:, 0], near[:, 1], near[:, 2], near[:, 3]))
    return touching

"""Search results as GeoJSON (footprint polygons with properties) and CSV, for download.

CSV cells that are text starting with `=`, `+`, `-`, `@`, a tab or a carriage return get a leading `'`
(OWASP's advice against CSV injection: a spreadsheet would run such a cell as a formula; a custom
archive's ids and labels are anyone's text). Numbers stay numbers; GeoJSON keeps every value exact."""
from __future__ import annotations

import csv
import io
import json

from csmae_core.geo import Footprint
from csmae_core.retrieval.search import Result, SearchResponse

FIELDS = ("rank", "score", "id", "sensor", "pair_id", "calibrated_score", "lon", "lat", "distance_km", "labels",
          "shared", "missing", "extra", "precision", "recall", "f1")


def result_row(result: Result) -> dict:
    row = {name: getattr(result, name) for name in FIELDS}
    for name in ("labels", "shared", "missing", "extra"):
        row[name] = "; ".join(row[name] or [])
    return row


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A text cell that a spreadsheet would read as a formula, prefixed with `'`; anything else as is."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def results_csv(response: SearchResponse) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    for result in response.results:
        writer.writerow({name: spreadsheet_safe(value) for name, value in result_row(result).items()})
    return buffer.getvalue()


def footprint_rings(footprint: Footprint | None, bbox) -> list:
    if footprint is not None:
        return [[list(point) for point in footprint.polygon_wgs84()]]
    west, south, east, north = bbox
    return [[[west, north], [east, north], [east, south], [west, south], [west, north]]]


def results_geojson(response: SearchResponse, footprints: dict[int, Footprint | None],
                    query: dict | None = None) -> str:
    """FeatureCollection: one polygon per result (its UTM square in WGS84), the query's footprint first
    when known. `footprints` maps bundle rows to footprints; `query` = {"name", "sensor", "footprint"}."""
    features = []
    if query and query.get("footprint") is not None:
        rings = footprint_rings(query["footprint"], None)
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": rings},
                         "properties": {"role": "query", "name": query.get("name"), "sensor": query.get("sensor")}})
    for result in response.results:
        properties = {"role": "result", **{k: v for k, v in result_row(result).items()}}
        geometry = {"type": "Polygon", "coordinates": footprint_rings(footprints.get(result.row), result.bbox)}
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1)

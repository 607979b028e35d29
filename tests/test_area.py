"""Area of interest: the fast footprint test equals the plain shapely test box by box; GeoJSON that is not an
area is refused with its reason."""
from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from csmae_core.errors import InputError
from csmae_core.retrieval.area import area_selection, read_area

# a concave "C" shape with a hole-free notch: boxes near its inner edges are the doubtful ones
C_SHAPE = {"type": "Polygon", "coordinates": [[[10, 45], [14, 45], [14, 46], [11, 46], [11, 48], [14, 48],
                                                [14, 49], [10, 49], [10, 45]]]}


def random_boxes(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    west = rng.uniform(9, 15, count)
    south = rng.uniform(44, 50, count)
    size = rng.uniform(0.005, 0.03, count)
    boxes = np.stack([west, south, west + size, south + size * 0.7], axis=1)
    boxes[:5] = np.nan  # patches of unknown location
    return boxes


def brute_force(polygon, boxes: np.ndarray) -> np.ndarray:
    known = np.isfinite(boxes).all(axis=1)
    result = np.zeros(len(boxes), dtype=bool)
    result[known] = shapely.intersects(polygon, shapely.box(*boxes[known].T))
    return result


@pytest.mark.parametrize("geometry", [C_SHAPE, {"type": "Feature", "properties": {}, "geometry": C_SHAPE}])
def test_inside_equals_box_by_box_intersection(geometry):
    boxes = random_boxes(20_000)
    area = read_area(json.dumps(geometry))
    selection = area_selection(area, boxes)
    expected = brute_force(area.polygon, boxes)
    assert selection.unknown == 5
    assert 0 < expected.sum() < len(boxes)
    np.testing.assert_array_equal(selection.mask, expected)


def test_outside_is_the_known_rest():
    boxes = random_boxes(5_000, seed=1)
    area = read_area(C_SHAPE, inside=False)
    expected = brute_force(area.polygon, boxes)
    selection = area_selection(area, boxes)
    known = np.isfinite(boxes).all(axis=1)
    np.testing.assert_array_equal(selection.mask, known & ~expected)
    assert not selection.mask[:5].any()  # unknown locations are on neither side


def test_boxes_straddling_the_edge_count_as_inside():
    boxes = np.array([[13.99, 45.5, 14.01, 45.51],   # straddles the east edge of the lower bar
                      [14.001, 45.5, 14.02, 45.51],  # just outside it
                      [11.5, 46.5, 11.6, 46.6]])     # in the notch: outside
    np.testing.assert_array_equal(area_selection(read_area(C_SHAPE), boxes).mask, [True, False, False])


def test_feature_collection_of_polygons_is_merged():
    second = {"type": "Polygon", "coordinates": [[[20, 50], [21, 50], [21, 51], [20, 51], [20, 50]]]}
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": C_SHAPE},
        {"type": "Feature", "properties": {}, "geometry": second}]}
    boxes = np.array([[20.5, 50.5, 20.51, 50.51], [10.5, 45.5, 10.51, 45.51], [30, 30, 30.01, 30.01]])
    np.testing.assert_array_equal(area_selection(read_area(collection), boxes).mask, [True, True, False])


@pytest.mark.parametrize("source, message", [
    ("{not json", "is not GeoJSON"),
    ("[1, 2]", "not a GeoJSON object"),
    (json.dumps({"type": "LineString", "coordinates": [[10, 45], [11, 46]]}), "holds LineString, not a polygon"),
    (json.dumps({"type": "Point", "coordinates": [10, 45]}), "holds Point, not a polygon"),
    (json.dumps({"type": "FeatureCollection", "features": []}), "holds no feature"),
    (json.dumps({"type": "Feature", "geometry": None}), "no geometry"),
    (json.dumps({"type": "Polygon", "coordinates": [[[10, 45], [12, 47], [12, 45], [10, 47], [10, 45]]]}),
     "not a valid polygon (Self-intersection"),
    (json.dumps({"type": "Polygon", "coordinates": [[[500000, 5000000], [510000, 5000000], [510000, 5010000],
                                                     [500000, 5000000]]]}), "export it in EPSG:4326"),
    (json.dumps({"type": "Polygon", "coordinates": "oops"}), "shapely cannot read"),
])
def test_bad_areas_are_refused_with_the_reason(source, message):
    with pytest.raises(InputError, match=None) as error:
        read_area(source, name="area.geojson")
    assert message in str(error.value) and "area.geojson" in str(error.value)


def test_an_oversized_area_file_is_refused_before_parsing():
    with pytest.raises(InputError, match="simplify the polygon"):
        read_area(" " * (5 * 2**20 + 1))


def test_area_round_trips_through_geojson():
    area = read_area(C_SHAPE, inside=False)
    again = read_area(area.to_geojson(), inside=False)
    assert again.polygon.equals(area.polygon) and area.to_geojson()["properties"]["keep"] == "outside"


def test_a_search_with_an_area_returns_only_patches_inside_or_outside_it():
    from pathlib import Path

    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.queries import archive_query
    from csmae_core.retrieval.search import Filters, SearchEngine

    bundle = Bundle(Path(__file__).resolve().parents[1] / "assets" / "bundles" / "demo")
    engine = SearchEngine(bundle)
    boxes = bundle.table[["west", "south", "east", "north"]].to_numpy(float)
    area = read_area({"type": "Polygon", "coordinates": [[[5, 45], [17, 45], [17, 49], [5, 49], [5, 45]]]})
    inside = area_selection(area, boxes).mask
    assert 0 < inside.sum() < len(inside)
    query = archive_query(bundle, int(np.flatnonzero(~inside)[0]), "s2")
    for keep, expected in ((True, inside), (False, ~inside)):
        response = engine.search(query, ["s1", "s2"], 50, Filters(area=read_area(area.to_geojson(), inside=keep)),
                                 counterpart=False)
        rows = {r.row for r in response.results}
        assert rows and all(expected[row] for row in rows)
        admitted = int(expected.sum()) - (0 if keep else 1)  # the query's own pair is never a result
        assert len(response.results) == min(50, 2 * admitted)  # both sensors of every admitted pair

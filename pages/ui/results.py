"""Rendering of a search response on the results map (footprints with image overlays; many results: clustered
markers beyond the best), and the cached result images the gallery (pages/ui/results_gallery.py) shares."""
from __future__ import annotations

import functools
import math

import folium
import streamlit as st

from csmae_core.preview import preview
from csmae_core.retrieval.aggregate import fit_view
from csmae_core.retrieval.search import Result
from pages.ui.maps import ClusterAssets, ClusteredPoints, Footprints, offline_map, show_map
from pages.ui.resources import Backend
from pages.ui.safe_text import shown
from pages.ui.widgets import data_url

RANK_COLOURS = ["#d62728", "#ff7f0e", "#bcbd22", "#2ca02c", "#17becf", "#1f77b4", "#9467bd", "#e377c2",
                "#8c564b", "#7f7f7f"]
SENSOR_NAMES = {"s1": "Sentinel-1", "s2": "Sentinel-2"}
SENSOR_COLOURS = {"s1": "#1f77b4", "s2": "#2ca02c"}  # clustered result markers
CLUSTER_FROM = 50   # more results than this: clustered markers beyond the best OVERLAY_RANKS
OVERLAY_RANKS = 10  # with many results, the best this many keep their image overlays on the map


@st.cache_data(max_entries=4096, show_spinner=False)
def result_image(entry_json: str, row: int, sensor: str) -> str | None:
    """JPEG data URL of an archive patch's preview (cached per server)."""
    from pages.ui.resources import load_backend

    backend = load_backend(entry_json)
    if backend.archive is None:
        return None
    return data_url(preview(sensor, backend.archive[int(row)].record(sensor).bands))


def colour(rank: int) -> str:
    return RANK_COLOURS[(rank - 1) % len(RANK_COLOURS)]


def popup_html(result) -> str:
    """A result's popup text (the map puts its image above)."""
    return (f"<b>#{result.rank}</b> {SENSOR_NAMES[result.sensor]} · score {result.score:.3f}<br>"
            f"<small>{shown(result.pair_id, context='html')}</small><br>{labels_html(tuple(result.labels))}")


@functools.lru_cache(maxsize=4096)
def labels_html(labels: tuple[str, ...]) -> str:
    """A result's labels as safe HTML (cached: hundreds of results share a few label sets, and making text
    safe checks it character by character)."""
    return shown(", ".join(labels), 400, context="html")


def results_map(backend: Backend, entry_json: str, results: list[Result], query_bbox, query_image) -> None:
    """The results on a map. The base map never changes (so the browser keeps its frame and Leaflet);
    each search only sends a new feature group (results_layer) and the view that fits it."""
    group, bounds, clustered = results_layer(entry_json, results, query_bbox, query_image)
    lat, lon, zoom = fit_view(envelope(bounds), width_px=900, height_px=420) if bounds else (50.0, 10.0, 4)
    with st.container(key="results_map_box"):
        show_map(base_map(), feature_group_to_add=group, center=(lat, lon), zoom=zoom, height=460,
                 use_container_width=True, returned_objects=[], key="results_map")
    if clustered:
        st.caption(f"The best {len(results) - clustered} results are drawn with their images; the other "
                   f"{clustered:,} as markers, clustered where they lie close together (zoom in to split a "
                   "cluster; click a marker for its result).")


def results_layer(entry_json: str, results: list[Result], query_bbox, query_image, image_of=None
                  ) -> tuple[folium.FeatureGroup, list, int]:
    """The feature group of a search (one Footprints element: folium would render a template per overlay,
    outline, popup and badge), the boxes to fit, and how many results are clustered markers: more than
    CLUSTER_FROM results, the best OVERLAY_RANKS keep their images and footprints, the others are clustered
    (hundreds of image overlays would load and draw for seconds, and cover one another). `image_of(entry_json,
    row, sensor)`: a result's image URL (default result_image)."""
    image_of = image_of or result_image
    footprints, bounds = [], []
    if query_bbox is not None:
        footprints.append(footprint(query_bbox, query_image, "#000", "query", dash="6"))
        bounds.append(query_bbox)
    drawn = results if len(results) <= CLUSTER_FROM else results[:OVERLAY_RANKS]
    for result in drawn:
        footprints.append(result_footprint(result, image_of(entry_json, result.row, result.sensor)))
    bounds += [result.bbox for result in results]
    group = folium.FeatureGroup(name="query and results")
    Footprints(footprints).add_to(group)
    rest = [r for r in results[len(drawn):] if math.isfinite(r.lat) and math.isfinite(r.lon)]
    if rest:
        ClusteredPoints(*clustered_payload(rest)).add_to(group)
    return group, bounds, len(results) - len(drawn)


def clustered_payload(results: list[Result]) -> tuple[list, list, list]:
    """pages.ui.maps.ClusteredPoints' compact form of `results` (a label set is sent once, not per point:
    1,000 points stay ~100 kB): the points [lat, lon, sensor index, rank, score, pair id as safe HTML, label
    set index], the sensors [(name, colour)] and the label sets as safe HTML."""
    sensors = list(SENSOR_NAMES)
    label_sets: dict[tuple[str, ...], int] = {}
    points = [[round(r.lat, 5), round(r.lon, 5), sensors.index(r.sensor), r.rank, round(r.score, 3),
               shown(r.pair_id, context="html"), label_sets.setdefault(tuple(r.labels), len(label_sets))]
              for r in results]
    return points, [(SENSOR_NAMES[s], SENSOR_COLOURS[s]) for s in sensors], [labels_html(k) for k in label_sets]


def envelope(boxes) -> tuple[float, float, float, float]:
    west, south, east, north = zip(*boxes)
    return min(west), min(south), max(east), max(north)


def footprint(bbox, image: str | None, colour_code: str, tooltip: str, popup: str | None = None,
              badge: str | None = None, dash: str | None = None) -> dict:
    """One entry of pages.ui.maps.Footprints: a (west, south, east, north) box and what is drawn on it."""
    west, south, east, north = bbox
    return {"bounds": [[south, west], [north, east]], "image": image, "colour": colour_code, "dash": dash,
            "tooltip": tooltip, "popup": popup, "badge": badge}


def result_footprint(result, image: str | None) -> dict:
    badge = (f'<div class="rank-badge" style="background:{colour(result.rank)};color:#fff;border-radius:8px;'
             f'padding:0 4px;font-size:11px;font-weight:bold;width:fit-content">{result.rank}</div>')
    return footprint(result.bbox, image, colour(result.rank), f"#{result.rank} {result.sensor.upper()} "
                     f"{result.score:.3f}", popup_html(result), badge)


def base_map() -> folium.Map:
    fmap = offline_map(location=(50.0, 10.0), zoom_start=4)
    ClusterAssets().add_to(fmap)  # loaded with the frame, once: a search with many results only sends its points
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap

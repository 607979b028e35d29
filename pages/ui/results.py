"""Rendering of a search response: the results map (footprints with image overlays) and the gallery."""
from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from csmae_core.preview import preview
from csmae_core.retrieval.aggregate import fit_view
from csmae_core.retrieval.search import SearchResponse
from pages.ui.maps import offline_map
from pages.ui.resources import Backend
from pages.ui.safe_text import shown
from pages.ui.widgets import data_url, label_chips

RANK_COLOURS = ["#d62728", "#ff7f0e", "#bcbd22", "#2ca02c", "#17becf", "#1f77b4", "#9467bd", "#e377c2",
                "#8c564b", "#7f7f7f"]
SENSOR_NAMES = {"s1": "Sentinel-1", "s2": "Sentinel-2"}


@st.cache_data(max_entries=4096, show_spinner=False)
def result_image(entry_json: str, row: int, sensor: str) -> str | None:
    """PNG data URL of an archive patch's preview (cached per server)."""
    from pages.ui.resources import load_backend

    backend = load_backend(entry_json)
    if backend.archive is None:
        return None
    return data_url(preview(sensor, backend.archive[int(row)].record(sensor).bands))


def colour(rank: int) -> str:
    return RANK_COLOURS[(rank - 1) % len(RANK_COLOURS)]


def popup_html(result, image: str | None) -> str:
    picture = f'<img src="{image}" width="120"><br>' if image else ""
    return (f"{picture}<b>#{result.rank}</b> {SENSOR_NAMES[result.sensor]} · score {result.score:.3f}<br>"
            f"<small>{shown(result.pair_id, context='html')}</small><br>"
            f"{shown(', '.join(result.labels), 400, context='html')}")


def results_map(backend: Backend, entry_json: str, response: SearchResponse, query_bbox, query_image) -> None:
    """The results on a map. The base map never changes (so the browser keeps its frame and Leaflet);
    each search only sends a new feature group and the view that fits it."""
    group = folium.FeatureGroup(name="query and results")
    bounds = []
    if query_bbox is not None:
        west, south, east, north = query_bbox
        if query_image:
            folium.raster_layers.ImageOverlay(query_image, [[south, west], [north, east]], opacity=0.95).add_to(group)
        folium.Rectangle([[south, west], [north, east]], color="#000", weight=3, dash_array="6",
                         tooltip="query").add_to(group)
        bounds.append(query_bbox)
    for result in response.results:
        add_result(group, result, result_image(entry_json, result.row, result.sensor))
        bounds.append(result.bbox)
    lat, lon, zoom = fit_view(envelope(bounds), width_px=900, height_px=420) if bounds else (50.0, 10.0, 4)
    with st.container(key="results_map_box"):
        st_folium(base_map(), feature_group_to_add=group, center=(lat, lon), zoom=zoom, height=460,
                  use_container_width=True, returned_objects=[], key="results_map")


def envelope(boxes) -> tuple[float, float, float, float]:
    west, south, east, north = zip(*boxes)
    return min(west), min(south), max(east), max(north)


def add_result(group, result, image: str | None) -> None:
    west, south, east, north = result.bbox
    if image:
        folium.raster_layers.ImageOverlay(image, [[south, west], [north, east]], opacity=0.95).add_to(group)
    folium.Rectangle([[south, west], [north, east]], color=colour(result.rank), weight=3,
                     popup=folium.Popup(popup_html(result, image), max_width=220),
                     tooltip=f"#{result.rank} {result.sensor.upper()} {result.score:.3f}").add_to(group)
    folium.Marker([north, west], icon=folium.DivIcon(
        html=f'<div class="rank-badge" style="background:{colour(result.rank)};color:#fff;border-radius:8px;'
             f'padding:0 4px;font-size:11px;font-weight:bold;width:fit-content">{result.rank}</div>')).add_to(group)


def base_map() -> folium.Map:
    fmap = offline_map(location=(50.0, 10.0), zoom_start=4)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def gallery(entry_json: str, response: SearchResponse, columns: int = 5, query_name: str = "") -> None:
    cells = st.columns(columns)
    for index, result in enumerate(response.results):
        with cells[index % columns]:
            with st.container(border=True):
                st.markdown(f'<span class="result-card" data-rank="{result.rank}" '
                            f'data-query="{shown(query_name, context="attribute")}"></span>**#{result.rank}** · '
                            f"{SENSOR_NAMES[result.sensor]} · score **{result.score:.3f}**", unsafe_allow_html=True)
                image = result_image(entry_json, result.row, result.sensor)
                if image:
                    st.image(image, width="stretch")
                distance = f" · {result.distance_km:,.1f} km away" if result.distance_km is not None else ""
                st.caption(f"{shown(result.pair_id)}{distance}")
                if result.precision is not None:
                    st.markdown(label_chips(result.shared, result.missing, result.extra), unsafe_allow_html=True)
                    st.caption(f"prec {result.precision:.2f} · rec {result.recall:.2f} · F1 {result.f1:.2f}")
                else:
                    st.markdown(label_chips(plain=result.labels), unsafe_allow_html=True)

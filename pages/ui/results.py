"""Rendering of a search response: the results map (footprints with image overlays) and the gallery."""
from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from csmae_core.preview import preview
from csmae_core.retrieval.aggregate import fit_view
from csmae_core.retrieval.search import SearchResponse
from pages.ui.maps import Footprints, offline_map
from pages.ui.resources import Backend
from pages.ui.safe_text import shown
from pages.ui.widgets import data_url, label_chips

RANK_COLOURS = ["#d62728", "#ff7f0e", "#bcbd22", "#2ca02c", "#17becf", "#1f77b4", "#9467bd", "#e377c2",
                "#8c564b", "#7f7f7f"]
SENSOR_NAMES = {"s1": "Sentinel-1", "s2": "Sentinel-2"}
SCORES = ('<span class="result-scores" style="display:block;font-size:0.8rem;color:rgba(49,51,63,0.6);'
          'margin-top:0.25rem">prec {:.2f} · rec {:.2f} · F1 {:.2f}</span>')


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


def popup_html(result) -> str:
    """A result's popup text (the map puts its image above)."""
    return (f"<b>#{result.rank}</b> {SENSOR_NAMES[result.sensor]} · score {result.score:.3f}<br>"
            f"<small>{shown(result.pair_id, context='html')}</small><br>"
            f"{shown(', '.join(result.labels), 400, context='html')}")


def results_map(backend: Backend, entry_json: str, response: SearchResponse, query_bbox, query_image) -> None:
    """The results on a map. The base map never changes (so the browser keeps its frame and Leaflet);
    each search only sends a new feature group (one Footprints element: folium would render a template
    per overlay, outline, popup and badge) and the view that fits it."""
    footprints, bounds = [], []
    if query_bbox is not None:
        footprints.append(footprint(query_bbox, query_image, "#000", "query", dash="6"))
        bounds.append(query_bbox)
    for result in response.results:
        footprints.append(result_footprint(result, result_image(entry_json, result.row, result.sensor)))
        bounds.append(result.bbox)
    group = folium.FeatureGroup(name="query and results")
    Footprints(footprints).add_to(group)
    lat, lon, zoom = fit_view(envelope(bounds), width_px=900, height_px=420) if bounds else (50.0, 10.0, 4)
    with st.container(key="results_map_box"):
        st_folium(base_map(), feature_group_to_add=group, center=(lat, lon), zoom=zoom, height=460,
                  use_container_width=True, returned_objects=[], key="results_map")


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
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def calibrated(result) -> str:
    """Both sensors searched: how exceptional the score is among its sensor's patches for this query (the
    merge order), in standard deviations."""
    if result.calibrated_score is None:
        return ""
    return (f' · <span title="calibrated: the score in standard deviations above this query\'s mean score '
            f'over {SENSOR_NAMES[result.sensor]} patches (both sensors are merged by it)">'
            f"{result.calibrated_score:+.1f} σ</span>")


def gallery(entry_json: str, response: SearchResponse, columns: int = 5, query_name: str = "") -> None:
    cells = st.columns(columns)
    for index, result in enumerate(response.results):
        with cells[index % columns]:
            with st.container(border=True):
                st.markdown(f'<span class="result-card" data-rank="{result.rank}" '
                            f'data-query="{shown(query_name, context="attribute")}"></span>**#{result.rank}** · '
                            f"{SENSOR_NAMES[result.sensor]} · score **{result.score:.3f}**{calibrated(result)}",
                            unsafe_allow_html=True)
                image = result_image(entry_json, result.row, result.sensor)
                if image:
                    st.image(image, width="stretch")
                distance = f" · {result.distance_km:,.1f} km away" if result.distance_km is not None else ""
                st.caption(f"{shown(result.pair_id)}{distance}")
                if result.precision is not None:  # chips and scores in one element: fewer for the browser to draw
                    st.markdown(label_chips(result.shared, result.missing, result.extra) + SCORES.format(
                        result.precision, result.recall, result.f1), unsafe_allow_html=True)
                else:
                    st.markdown(label_chips(plain=result.labels), unsafe_allow_html=True)

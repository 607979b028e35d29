"""The archive explorer's map: the patches or grid cells in view (csmae_core.retrieval.browse decides
which) drawn as one feature group on a map that stays the same for a table, so that the browser keeps
the map, and its view, across reruns."""
from __future__ import annotations

import folium
import numpy as np
import streamlit as st
from streamlit_folium import st_folium

from csmae_core.retrieval.aggregate import fit_view
from csmae_core.retrieval.browse import TableFacts, patch_features
from csmae_core.retrieval.queries import PatchFacts
from pages.ui.explorer_view import KEY_MAP, MAP_HEIGHT, MAP_WIDTH_GUESS, requested_center_zoom
from pages.ui.maps import offline_map
from pages.ui.safe_text import shown

BBOX_ZOOM = 10  # from this zoom on a patch is drawn as its footprint (>= ~10 px wide)
POINT_COLOUR, SELECTED_COLOUR, CELL_COLOUR = "#1f77b4", "#d62728", "#ff7f0e"
Selected = tuple[int, PatchFacts]  # the picked pair: its table row and csmae_core.retrieval.queries.archive_facts


def patch_layer(facts: TableFacts, rows: np.ndarray, zoom: int, selected: Selected | None
                ) -> folium.FeatureGroup:
    """The patches `rows` as one GeoJson layer (thousands of folium objects would slow every rerun),
    and the selected pair (table row, facts) outlined."""
    group = folium.FeatureGroup(name="patches")
    if len(rows):
        style = {"color": POINT_COLOUR, "weight": 1.5, "fillColor": POINT_COLOUR, "fillOpacity": 0.45, "radius": 5}
        folium.GeoJson(shown_properties(patch_features(facts.table, rows, zoom >= BBOX_ZOOM)), name="patches",
                       marker=folium.CircleMarker(radius=5, fill=True),
                       style_function=lambda _feature: style, highlight_function=lambda _f: {"weight": 3},
                       tooltip=folium.GeoJsonTooltip(fields=["pair", "labels"], aliases=["pair", "labels"]),
                       ).add_to(group)
    centre = facts.centre(selected[0]) if selected is not None else None
    if centre is not None:
        pair = selected[1]
        if pair.bbox is not None:
            west, south, east, north = pair.bbox
            folium.Rectangle([[south, west], [north, east]], color=SELECTED_COLOUR, weight=3, fill=False,
                             tooltip=f"selected: {shown(pair.name, context='html')}").add_to(group)
        folium.CircleMarker(list(centre), radius=7, color=SELECTED_COLOUR, weight=2, fill=False).add_to(group)
    return group


def shown_properties(collection: dict) -> dict:
    """The features' text properties escaped for HTML: folium's GeoJsonTooltip puts them into innerHTML."""
    for feature in collection["features"]:
        properties = feature["properties"]
        for name, value in properties.items():
            if isinstance(value, str):
                properties[name] = shown(value, 400, context="html")
    return collection


def short_count(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count >= 1e6 else f"{count / 1e3:.1f}k" if count >= 1e4 else f"{count:,}"


def cell_layer(cells) -> folium.FeatureGroup:
    """One circle per occupied grid cell (a `grid_cells` frame), its area growing with the number of
    pairs, labelled with it."""
    group = folium.FeatureGroup(name="cells")
    largest = max(int(cells["count"].max()), 1) if len(cells) else 1
    for lon, lat, count in zip(cells["lon"], cells["lat"], cells["count"]):
        radius = 8 + 16 * float(np.sqrt(count / largest))
        tooltip = f"{count:,} patches · click to zoom in"
        folium.CircleMarker([lat, lon], radius=radius, color=CELL_COLOUR, weight=1, fill=True, fill_opacity=0.55,
                            tooltip=tooltip).add_to(group)
        folium.Marker([lat, lon], tooltip=tooltip, icon=folium.DivIcon(
            icon_size=(48, 16), icon_anchor=(24, 8), class_name="explorer-count",
            html=f'<div style="text-align:center;font:bold 11px sans-serif;color:#222">{short_count(count)}</div>',
        )).add_to(group)
    return group


def base_map(facts: TableFacts) -> folium.Map:
    """The map itself never changes for a table; what is drawn on it comes as st_folium's
    feature_group_to_add."""
    lat, lon, zoom = fit_view(facts.home, MAP_WIDTH_GUESS, MAP_HEIGHT)
    fmap = offline_map(location=(lat, lon), zoom_start=zoom, prefer_canvas=True)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def draw_map(facts: TableFacts, shown: dict, zoom: int, selected: Selected | None) -> None:
    """The map with what `shown` (browse.TableFacts.viewport) holds, captioned, at the requested view."""
    if shown["mode"] == "points":
        layer = patch_layer(facts, shown["rows"], zoom, selected)
        st.caption(f"{shown['n_in_view']:,} pairs in view · click one to see it")
    else:
        layer = cell_layer(shown["cells"])
        st.caption(f"{shown['n_in_view']:,} pairs in view, counted in cells of {shown['cell_size']:.2g}° · "
                   "zoom in (or click a cell) to see single patches")
    center, zoom_request = requested_center_zoom()
    st_folium(base_map(facts), key=KEY_MAP, height=MAP_HEIGHT, use_container_width=True,
              returned_objects=["bounds", "zoom", "last_object_clicked"], center=center, zoom=zoom_request,
              feature_group_to_add=layer)

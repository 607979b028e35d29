"""Archive explorer: every pair of the archive on an offline map (individual patches when few are in
view, otherwise counts per grid cell, so that 500k pairs stay responsive), filters by label, country,
season and split, label statistics, and a pair's S1/S2 previews with "search with this".
All the counting and aggregation is csmae_core.retrieval.aggregate; this page only draws."""
from __future__ import annotations

import html
import json
from dataclasses import dataclass

import folium
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from csmae_core.retrieval.aggregate import (Bounds, data_bounds, filter_rows, fit_view, in_bounds, label_counts, label_matrix, nearest_row, viewport_points)
from csmae_core.labels import LABELS_19
from pages.ui.maps import offline_map
from pages.ui.resources import Backend, current_backend, pair_images
from pages.ui.state import set_archive_query
from pages.ui.widgets import label_chips

KEY_LABELS, KEY_COUNTRIES = "explorer_labels", "explorer_countries"
KEY_SEASONS, KEY_SPLITS = "explorer_seasons", "explorer_splits"
KEY_PAIR, KEY_MAP, KEY_VIEW, KEY_CLICK = "explorer_pair", "explorer_map", "explorer_view", "explorer_click"
KEY_SEARCH = {"s2": "explorer_search_s2", "s1": "explorer_search_s1"}
SENSOR_NAMES = {"s2": "Sentinel-2", "s1": "Sentinel-1"}
MAX_POINTS = 2000      # more pairs than this in view: draw grid cells instead of patches
MAX_OPTIONS = 2000     # pair ids offered in the picker (any other id can be typed)
BBOX_ZOOM = 10         # from this zoom on a patch is drawn as its footprint (>= ~10 px wide)
MAP_HEIGHT, MAP_WIDTH_GUESS = 560, 900
SEASON_ORDER = ("Spring", "Summer", "Fall", "Autumn", "Winter")
SPLIT_ORDER = ("train", "validation", "test")
POINT_COLOUR, SELECTED_COLOUR, CELL_COLOUR = "#1f77b4", "#d62728", "#ff7f0e"
EUROPE: Bounds = (-10.0, 35.0, 35.0, 70.0)


@dataclass
class TableFacts:
    """Per-table data computed once per server: label matrix, filter choices, pair id -> row."""

    matrix: np.ndarray
    totals: pd.Series
    choices: dict[str, list[str]]
    row_of: dict[str, int]
    pair_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    home: Bounds  # all pairs with coordinates (Europe when none)


def ordered(values: pd.Series, order: tuple[str, ...] = ()) -> list[str]:
    present = sorted({str(v) for v in values.dropna().unique()})
    return [v for v in order if v in present] + [v for v in present if v not in order]


@st.cache_resource(show_spinner="Indexing the archive's labels ...", max_entries=4)
def table_facts(cache_key: str, _table: pd.DataFrame) -> TableFacts:
    matrix = label_matrix(_table["labels"])
    totals = label_counts(_table, None, matrix)
    choices = {"labels": [label for label in LABELS_19 if totals[label] > 0],
               "country": ordered(_table["country"]), "season": ordered(_table["season"], SEASON_ORDER),
               "split": ordered(_table["split"], SPLIT_ORDER)}
    row_of = {pair_id: row for row, pair_id in enumerate(_table["pair_id"])}
    lon, lat = _table["lon"].to_numpy(dtype=np.float64), _table["lat"].to_numpy(dtype=np.float64)
    return TableFacts(matrix, totals, choices, row_of, _table["pair_id"].to_numpy(dtype=object), lon, lat,
                      data_bounds(lon, lat) or EUROPE)


def facts_of(backend: Backend) -> TableFacts:
    manifest = backend.bundle.manifest
    key = f"{backend.bundle.path}|{manifest.get('created')}|{len(backend.bundle.table)}"
    return table_facts(key, backend.bundle.table)


# ---------------------------------------------------------------- filters
def sidebar_filters(facts: TableFacts) -> dict[str, list[str]]:
    st.sidebar.subheader("Filters")
    st.sidebar.caption("An empty filter keeps everything; a pair passes the label filter when it has any "
                       "of the chosen labels.")
    chosen = {
        "labels": st.sidebar.multiselect("Label", facts.choices["labels"], key=KEY_LABELS,
                                         format_func=lambda label: f"{label} ({facts.totals[label]:,})"),
        "countries": st.sidebar.multiselect("Country", facts.choices["country"], key=KEY_COUNTRIES),
        "seasons": st.sidebar.multiselect("Season", facts.choices["season"], key=KEY_SEASONS),
        "splits": st.sidebar.multiselect("Split", facts.choices["split"], key=KEY_SPLITS),
    }
    return chosen


# ---------------------------------------------------------------- the map view
def map_state() -> dict:
    """The last value the map reported (bounds, zoom, last_object_clicked), {} before it reported."""
    return st.session_state.get(KEY_MAP) or {}


def reported_bounds(state: dict) -> Bounds | None:
    try:
        south_west, north_east = state["bounds"]["_southWest"], state["bounds"]["_northEast"]
        bounds = (south_west["lng"], south_west["lat"], north_east["lng"], north_east["lat"])
    except (KeyError, TypeError):
        return None
    return bounds if all(isinstance(b, (int, float)) for b in bounds) else None


def view_bounds(lat: float, lon: float, zoom: int) -> Bounds:
    """Approximate bounds of a view the server asked for, until the browser reports the real ones."""
    half_lon = MAP_WIDTH_GUESS / 2 / 256 * 360 / 2 ** zoom
    half_lat = MAP_HEIGHT / 2 / 256 * 360 / 2 ** zoom * max(np.cos(np.radians(lat)), 0.05)
    return lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat


def request_view(lat: float, lon: float, zoom: int, signature: str) -> None:
    """Move the map (st_folium's center/zoom) and use this view until the browser reports a new one.
    The browser only moves when center/zoom differ from the previous request, so each request is made
    unique by a nonce far below a pixel (Leaflet snaps the zoom back to an integer)."""
    nonce = (st.session_state.get(KEY_VIEW) or {}).get("nonce", 0) + 1
    st.session_state[KEY_VIEW] = {"signature": signature, "center": [lat, lon], "zoom": int(zoom), "nonce": nonce,
                                  "reported_at_request": json.dumps(map_state().get("bounds"), sort_keys=True)}


def requested_center_zoom() -> tuple[list[float], float]:
    view = st.session_state[KEY_VIEW]
    jitter = (view["nonce"] % 1000) * 1e-9
    return [view["center"][0], view["center"][1] + jitter], view["zoom"] + jitter * 1e3


def current_view(facts: TableFacts, mask: np.ndarray, signature: str) -> tuple[Bounds, int]:
    """(bounds, zoom) to aggregate for: the view fitted to the filtered pairs right after the filter
    changed, else the one the map last reported."""
    view = st.session_state.get(KEY_VIEW)
    if view is None or view["signature"] != signature:
        box = data_bounds(facts.lon, facts.lat, mask) or facts.home
        request_view(*fit_view(box, MAP_WIDTH_GUESS, MAP_HEIGHT), signature)
        view = st.session_state[KEY_VIEW]
    state = map_state()
    reported = reported_bounds(state)
    if reported is None or json.dumps(state.get("bounds"), sort_keys=True) == view["reported_at_request"]:
        return view_bounds(*view["center"], view["zoom"]), view["zoom"]
    return reported, int(state.get("zoom") or view["zoom"])


def handle_click(facts: TableFacts, shown: dict, zoom: int, signature: str) -> bool:
    """A new click on the map: on a patch, select it (the picker shows it); on a cell, zoom into it.
    Returns whether the view was moved."""
    clicked = map_state().get("last_object_clicked")
    if not clicked or clicked == st.session_state.get(KEY_CLICK):
        return False
    st.session_state[KEY_CLICK] = clicked
    lat, lon = float(clicked["lat"]), float(clicked["lng"])
    if shown["mode"] == "points":
        row = nearest_row(facts.lon, facts.lat, shown["rows"], lon, lat)
        if row is not None:
            st.session_state[KEY_PAIR] = facts.pair_ids[row]
        return False
    cells = shown["cells"]
    if len(cells) == 0:
        return False
    nearest = int(np.argmin((cells["lon"] - lon) ** 2 + (cells["lat"] - lat) ** 2))
    request_view(float(cells["lat"].iloc[nearest]), float(cells["lon"].iloc[nearest]), min(zoom + 2, 14), signature)
    return True


# ---------------------------------------------------------------- map layers
def patch_features(table: pd.DataFrame, rows: np.ndarray, footprints: bool) -> dict:
    """GeoJSON of the patches `rows`: footprint polygons, or centroid points when zoomed out.
    One GeoJson layer instead of thousands of folium objects keeps the rerun fast."""
    part = table.iloc[rows].round({c: 5 for c in ("lon", "lat", "west", "south", "east", "north")})  # ~1 m
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


def patch_layer(table: pd.DataFrame, rows: np.ndarray, zoom: int, selected: int | None) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="patches")
    if len(rows):
        style = {"color": POINT_COLOUR, "weight": 1.5, "fillColor": POINT_COLOUR, "fillOpacity": 0.45, "radius": 5}
        folium.GeoJson(patch_features(table, rows, zoom >= BBOX_ZOOM), name="patches",
                       marker=folium.CircleMarker(radius=5, fill=True),
                       style_function=lambda _feature: style, highlight_function=lambda _f: {"weight": 3},
                       tooltip=folium.GeoJsonTooltip(fields=["pair", "labels"], aliases=["pair", "labels"]),
                       ).add_to(group)
    if selected is not None and np.isfinite(table["lon"].iloc[selected]):
        row = table.iloc[selected]
        folium.Rectangle([[row["south"], row["west"]], [row["north"], row["east"]]], color=SELECTED_COLOUR,
                         weight=3, fill=False, tooltip=f"selected: {html.escape(row['pair_id'])}").add_to(group)
        folium.CircleMarker([row["lat"], row["lon"]], radius=7, color=SELECTED_COLOUR, weight=2,
                            fill=False).add_to(group)
    return group


def short_count(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count >= 1e6 else f"{count / 1e3:.1f}k" if count >= 1e4 else f"{count:,}"


def cell_layer(cells: pd.DataFrame) -> folium.FeatureGroup:
    """One circle per occupied grid cell, its area growing with the number of pairs, labelled with it."""
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
    """The map itself never changes for a table (so the browser keeps it, and its view, across reruns);
    what is drawn on it comes as st_folium's feature_group_to_add."""
    lat, lon, zoom = fit_view(facts.home, MAP_WIDTH_GUESS, MAP_HEIGHT)
    fmap = offline_map(location=(lat, lon), zoom_start=zoom, prefer_canvas=True)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def draw_map(facts: TableFacts, table: pd.DataFrame, shown: dict, zoom: int, selected: int | None) -> None:
    if shown["mode"] == "points":
        layer = patch_layer(table, shown["rows"], zoom, selected)
        st.caption(f"{shown['n_in_view']:,} pairs in view · click one to see it")
    else:
        layer = cell_layer(shown["cells"])
        st.caption(f"{shown['n_in_view']:,} pairs in view, counted in cells of {shown['cell_size']:.2g}° · "
                   "zoom in (or click a cell) to see single patches")
    center, zoom_request = requested_center_zoom()
    st_folium(base_map(facts), key=KEY_MAP, height=MAP_HEIGHT, use_container_width=True,
              returned_objects=["bounds", "zoom", "last_object_clicked"], center=center, zoom=zoom_request,
              feature_group_to_add=layer)


# ---------------------------------------------------------------- one pair
def pair_picker(facts: TableFacts, mask: np.ndarray, shown: dict, bounds: Bounds) -> int | None:
    """Pick a pair by id (the map's clicks land here too); returns its table row, or None."""
    rows = shown["rows"]
    if shown["mode"] == "cells":
        rows = np.flatnonzero(in_bounds(facts.lon, facts.lat, bounds)[0] & mask)
    options = list(facts.pair_ids[rows[:MAX_OPTIONS]])
    current = st.session_state.get(KEY_PAIR)
    if current and current not in options:
        options.insert(0, current)
    picked = st.selectbox("Pair", options, index=None, key=KEY_PAIR, accept_new_options=True,
                          placeholder="click a patch on the map, or pick / type a pair id",
                          help=f"the pairs in view (the first {MAX_OPTIONS:,}); any pair id of the archive "
                               "can be typed")
    if not picked:
        return None
    row = facts.row_of.get(str(picked).strip())
    if row is None:
        st.warning(f"This archive holds no pair {picked!r}.")
    return row


def is_true(value) -> bool:
    return isinstance(value, (bool, np.bool_)) and bool(value)


def pair_detail(backend: Backend, row: int) -> None:
    pair = backend.bundle.table.iloc[row]
    st.markdown(f"**{html.escape(pair['pair_id'])}**")
    st.markdown(label_chips(plain=pair["labels"]) or "*no labels*", unsafe_allow_html=True)
    flags = [name for name, column in (("seasonal snow", "contains_seasonal_snow"),
                                       ("cloud or shadow", "contains_cloud_or_shadow")) if is_true(pair[column])]
    st.caption(" · ".join(v for v in (pair["split"], pair["country"], pair["season"]) if isinstance(v, str))
               + (f" · contains {', '.join(flags)}" if flags else "")
               + (f"  \nS1: {pair['s1_name']}" if isinstance(pair["s1_name"], str) else ""))
    images = pair_images(backend, row)
    if images is None:
        st.info("This archive is metadata-only: no pixels to preview. You can still search with the pair, "
                "its embeddings are in the index.")
    else:
        columns = st.columns(2)
        for column, sensor in zip(columns, ("s1", "s2")):
            column.image(images[sensor], caption=SENSOR_NAMES[sensor], width="stretch")
    for sensor in ("s2", "s1"):
        if st.button(f"Search with the {sensor.upper()} image", key=KEY_SEARCH[sensor], width="stretch",
                     icon=":material/search:", type="primary" if sensor == "s2" else "secondary"):
            set_archive_query(row, sensor)
            st.switch_page("pages/search.py")


# ---------------------------------------------------------------- statistics
def label_chart(backend: Backend, facts: TableFacts, mask: np.ndarray) -> None:
    """Horizontal bars (19 long class names), most frequent first; static, so scrolling the page over it
    does not zoom it."""
    import altair as alt

    counts = label_counts(backend.bundle.table, mask, facts.matrix)
    frame = pd.DataFrame({"label": counts.index, "pairs": counts.to_numpy(),
                          "share": counts.to_numpy() / max(int(mask.sum()), 1)})
    st.subheader("Label statistics")
    st.caption(f"pairs of the current filter ({int(mask.sum()):,}) having each label; a pair has several labels, "
               "so the shares add up to more than 100 %")
    chart = alt.Chart(frame).mark_bar(color=POINT_COLOUR).encode(
        x=alt.X("pairs:Q", title="pairs"),
        y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=420)),
        tooltip=[alt.Tooltip("label:N"), alt.Tooltip("pairs:Q", format=","), alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=alt.Step(22))
    st.altair_chart(chart, width="stretch")


def show_metrics(mask: np.ndarray, shown: dict) -> None:
    columns = st.columns(3)
    columns[0].metric("Pairs shown", f"{int(mask.sum()):,}")
    columns[1].metric("Archive pairs", f"{len(mask):,}")
    columns[2].metric("In view", f"{shown['n_in_view']:,}")


# ---------------------------------------------------------------- page
def main() -> None:
    backend = current_backend()
    if backend is None:
        st.stop()
    st.title("Archive explorer")
    facts = facts_of(backend)
    table = backend.bundle.table
    chosen = sidebar_filters(facts)
    mask = filter_rows(table, matrix=facts.matrix, **chosen)
    signature = json.dumps([backend.name, chosen], sort_keys=True)
    bounds, zoom = current_view(facts, mask, signature)
    shown = viewport_points(facts.lon, facts.lat, mask, bounds, zoom, MAX_POINTS)
    if handle_click(facts, shown, zoom, signature):
        bounds, zoom = current_view(facts, mask, signature)
        shown = viewport_points(facts.lon, facts.lat, mask, bounds, zoom, MAX_POINTS)
    show_metrics(mask, shown)
    if not mask.any():
        st.warning("No pair matches these filters; empty a filter in the sidebar to see more.")
    map_column, detail_column = st.columns([3, 2], gap="medium")
    with detail_column:
        st.subheader("Pair")
        row = pair_picker(facts, mask, shown, bounds)
        if row is not None:
            pair_detail(backend, row)
    with map_column:
        draw_map(facts, table, shown, zoom, row)
    label_chart(backend, facts, mask)


main()

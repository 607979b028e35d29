"""The search page's area of interest: a rectangle or polygon drawn on a small map (Leaflet.draw, served by
this server like Leaflet), or a GeoJSON polygon file, searched inside or outside. Parsing and checking is
the core's (csmae_core.retrieval.area.read_area: not a polygon, self-intersecting, too large, not JSON each
get their message); the area is applied by the search engine (Filters.area) on the patches' footprints."""
from __future__ import annotations

import json

import folium
import streamlit as st
from folium.plugins import Draw

from csmae_core.errors import CsmaeError
from csmae_core.retrieval.area import Area, area_selection, read_area
from csmae_core.retrieval.pair_lookup import archive_centre, map_markers
from pages.ui.maps import STATIC, Points, offline_map, show_map
from pages.ui.resources import Backend
from pages.ui.safe_text import shown, shown_message

KEY_AREA = "area_polygon"          # the active Area (its `inside` is the side widget's); None: no area
KEY_AREA_SOURCE = "area_source"    # what made it: "drawn", a file name, "session", "link"
KEY_AREA_SIDE = "area_side"        # "Inside the area" / "Outside the area"
KEY_AREA_DRAWING = "area_drawing"  # the drawing map is shown
KEY_AREA_ROUND = "area_round"      # bumped by "Clear": a fresh map and uploader (their browser state goes)
KEY_AREA_DRAWN = "area_drawn_seen"  # the drawings last followed (the map repeats its last report)
KEY_AREA_FILE = "area_file_seen"   # the uploaded file last followed
KEY_AREA_ERROR = "area_error"
SIDES = ("Inside the area", "Outside the area")
AREA_CHOICES = {KEY_AREA_SIDE: SIDES[0], KEY_AREA_DRAWING: False}  # its widgets' values (pages.ui.state.hold)
MAX_MAP_POINTS = 3000


def area_input(backend: Backend) -> Area | None:
    """The area-of-interest control; the Area the search keeps (None: the whole archive). No expander of its
    own (the page may put it in one); the drawing map is built only while "Draw on a map" is on."""
    round_ = st.session_state.setdefault(KEY_AREA_ROUND, 0)
    with st.container(key="area_input_box"):
        st.markdown("**Area of interest**")
        left, right = st.columns([2, 1])
        left.radio("Keep the patches", SIDES, horizontal=True, key=KEY_AREA_SIDE)
        drawing = right.toggle("Draw on a map", key=KEY_AREA_DRAWING,
                               help="rectangle and polygon tools at the map's top left")
        if drawing:
            draw_map(backend, round_)
        file = st.file_uploader("Or upload a GeoJSON polygon", type=["geojson", "json"], key=f"area_file_{round_}")
        if file is not None and file.file_id != st.session_state.get(KEY_AREA_FILE):
            st.session_state[KEY_AREA_FILE] = file.file_id
            set_area_from(file.getvalue(), file.name, f"the file {shown(file.name, context='plain')}")
        error = st.session_state.pop(KEY_AREA_ERROR, None)
        if error:
            st.error(error)
        area = current_area()
        if area is not None:
            area_summary(backend, area)
            st.button("Clear the area", key="clear_area", on_click=clear_area, icon=":material/clear:")
    return area


def current_area() -> Area | None:
    """The active polygon with the side chosen in the widget."""
    area = st.session_state.get(KEY_AREA)
    if area is None:
        return None
    inside = st.session_state.get(KEY_AREA_SIDE, SIDES[0]) != SIDES[1]
    return Area(area.polygon, inside)


def set_area(area: Area | None, source: str = "") -> None:
    """Make `area` the active one, its side in the widget (a loaded session, a followed link); call before
    the widget is drawn in this run (or from a callback)."""
    st.session_state[KEY_AREA] = area
    st.session_state[KEY_AREA_SOURCE] = source
    if area is not None:
        st.session_state[KEY_AREA_SIDE] = SIDES[0] if area.inside else SIDES[1]


def set_area_from(source: str | bytes | dict, source_name: str, name: str) -> None:
    """The polygon of `source` made active, or its problem shown (the previous area stays)."""
    try:
        area = read_area(source, name=name)
    except CsmaeError as error:
        st.session_state[KEY_AREA_ERROR] = f"The area of interest cannot be used: {shown_message(error)}"
        return
    # the side widget is drawn already in this run: it keeps its choice
    st.session_state[KEY_AREA], st.session_state[KEY_AREA_SOURCE] = area, source_name


def clear_area() -> None:
    st.session_state[KEY_AREA] = None
    st.session_state[KEY_AREA_ROUND] = st.session_state.get(KEY_AREA_ROUND, 0) + 1
    for key in (KEY_AREA_DRAWN, KEY_AREA_FILE, KEY_AREA_SOURCE):
        st.session_state.pop(key, None)


def area_summary(backend: Backend, area: Area) -> None:
    selection = area_selection(area, backend.engine.bboxes)
    total, kept = len(selection.mask), int(selection.mask.sum())
    west, south, east, north = area.polygon.bounds
    side = "inside" if area.inside else "outside"
    unknown = f"; {selection.unknown:,} of unknown location left out" if selection.unknown else ""
    source = st.session_state.get(KEY_AREA_SOURCE) or "drawn"
    st.markdown(f'<span class="area-summary" data-kept="{kept}"></span>Searching **{side}** the area '
                f"({shown(source, context='html')}; {south:.3f}..{north:.3f} N, {west:.3f}..{east:.3f} E): "
                f"**{kept:,} of {total:,}** archive pairs{unknown}.", unsafe_allow_html=True)
    if kept == 0:
        st.warning(f"No archive patch lies {side} the area: the search will find nothing. Draw another area or "
                   "switch the side.")


# ---------------------------------------------------------------- the map with drawing tools
def local_draw() -> Draw:
    """Leaflet.draw's rectangle and polygon tools, its JS and CSS from this server (static/leaflet.draw)."""
    draw = Draw(draw_options={"polyline": False, "circle": False, "marker": False, "circlemarker": False,
                              "polygon": {"allowIntersection": False, "showArea": False},
                              # showArea off: Leaflet.draw 1.0.4 throws while measuring (an undeclared
                              # variable in readableArea) under Leaflet 1.9, and no rectangle is made
                              "rectangle": {"showArea": False}},
                edit_options={"edit": False}, show_geometry_on_click=False)
    draw.default_js = [("leaflet_draw_js", f"{STATIC}/leaflet.draw/leaflet.draw.js")]
    draw.default_css = [("leaflet_draw_css", f"{STATIC}/leaflet.draw/leaflet.draw.css")]
    return draw


def draw_map(backend: Backend, round_: int) -> None:
    """The archive's patches and the active area on a map with the drawing tools; a new drawing (or the
    deletion of every drawing) changes the area."""
    bundle = backend.bundle
    fmap = offline_map(location=archive_centre(bundle), zoom_start=4, base_layers=False)
    markers = map_markers(bundle, MAX_MAP_POINTS)
    Points(markers["lat"], markers["lon"], [shown(t, context="html") for t in markers["tooltip"]],
           colour="#7f7f7f", radius=3).add_to(fmap)
    if len(markers):
        fmap.fit_bounds([[markers["lat"].min(), markers["lon"].min()], [markers["lat"].max(), markers["lon"].max()]])
    local_draw().add_to(fmap)
    # the active area is sent as a feature group: the map itself (and what is drawn on it) stays in the browser
    group = folium.FeatureGroup(name="area of interest")
    area = st.session_state.get(KEY_AREA)
    if area is not None:
        folium.GeoJson(area.to_geojson()["geometry"], style_function=lambda _: {
            "color": "#d62728", "weight": 2, "fillOpacity": 0.08}).add_to(group)
    with st.container(key="area_map_box"):
        report = show_map(fmap, feature_group_to_add=group, height=320, use_container_width=True,
                          returned_objects=["all_drawings"], key=f"area_map_{round_}")
    follow_drawings((report or {}).get("all_drawings"))


def follow_drawings(drawings) -> None:
    """The drawn shapes as the area when they changed; all deleted: the drawn area is gone."""
    if drawings is None:
        return
    seen = json.dumps(drawings, sort_keys=True)
    if seen == st.session_state.get(KEY_AREA_DRAWN):
        return
    st.session_state[KEY_AREA_DRAWN] = seen
    if drawings:
        set_area_from({"type": "FeatureCollection", "features": drawings}, "drawn on the map", "the drawn area")
    elif st.session_state.get(KEY_AREA_SOURCE) == "drawn on the map":
        st.session_state[KEY_AREA] = None

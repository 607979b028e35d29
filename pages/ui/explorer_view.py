"""The archive explorer's map view, kept in session state: which bounds and zoom the server aggregates
for, moving the map, and the clicks it reports. The map itself is drawn by explorer_map.py.

The browser reports its view only after it has drawn it, so right after the filters change the server
fits the view to the filtered pairs itself (csmae_core.retrieval.aggregate.fit_view) and uses that
until the browser reports a different one."""
from __future__ import annotations

import json

import numpy as np
import streamlit as st

from csmae_core.retrieval.aggregate import Bounds, fit_view, view_bounds
from csmae_core.retrieval.browse import TableFacts

KEY_MAP, KEY_VIEW, KEY_CLICK = "explorer_map", "explorer_view", "explorer_click"
MAP_HEIGHT, MAP_WIDTH_GUESS = 560, 900


def map_state() -> dict:
    """The last value the map reported (bounds, zoom, last_object_clicked), {} before it reported."""
    return st.session_state.get(KEY_MAP) or {}


def reported_bounds(state: dict) -> Bounds | None:
    """Leaflet's reported bounds as (west, south, east, north); None when absent or malformed."""
    try:
        south_west, north_east = state["bounds"]["_southWest"], state["bounds"]["_northEast"]
        bounds = (south_west["lng"], south_west["lat"], north_east["lng"], north_east["lat"])
    except (KeyError, TypeError):
        return None
    return bounds if all(isinstance(b, (int, float)) for b in bounds) else None


def request_view(lat: float, lon: float, zoom: int, signature: str) -> None:
    """Move the map (st_folium's center/zoom) and use this view until the browser reports a new one.
    The browser only moves when center/zoom differ from the previous request, so each request is made
    unique by a nonce far below a pixel (Leaflet snaps the zoom back to an integer)."""
    nonce = (st.session_state.get(KEY_VIEW) or {}).get("nonce", 0) + 1
    st.session_state[KEY_VIEW] = {"signature": signature, "center": [lat, lon], "zoom": int(zoom), "nonce": nonce,
                                  "reported_at_request": json.dumps(map_state().get("bounds"), sort_keys=True)}


def requested_center_zoom() -> tuple[list[float], float]:
    """The center and zoom to hand st_folium: the last requested view, made unique by its nonce."""
    view = st.session_state[KEY_VIEW]
    jitter = (view["nonce"] % 1000) * 1e-9
    return [view["center"][0], view["center"][1] + jitter], view["zoom"] + jitter * 1e3


def current_view(facts: TableFacts, mask: np.ndarray, signature: str) -> tuple[Bounds, int]:
    """(bounds, zoom) to aggregate for: the view fitted to the filtered pairs right after the filters
    (`signature`) changed, else the one the map last reported."""
    view = st.session_state.get(KEY_VIEW)
    if view is None or view["signature"] != signature:
        request_view(*fit_view(facts.fitted_bounds(mask), MAP_WIDTH_GUESS, MAP_HEIGHT), signature)
        view = st.session_state[KEY_VIEW]
    state = map_state()
    reported = reported_bounds(state)
    if reported is None or json.dumps(state.get("bounds"), sort_keys=True) == view["reported_at_request"]:
        return view_bounds(*view["center"], view["zoom"], MAP_WIDTH_GUESS, MAP_HEIGHT), view["zoom"]
    return reported, int(state.get("zoom") or view["zoom"])


def new_click() -> tuple[float, float] | None:
    """(lon, lat) of a click on the map not handled yet (each click is handled on one rerun only)."""
    clicked = map_state().get("last_object_clicked")
    if not clicked or clicked == st.session_state.get(KEY_CLICK):
        return None
    st.session_state[KEY_CLICK] = clicked
    return float(clicked["lng"]), float(clicked["lat"])

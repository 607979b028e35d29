"""The archive explorer's map view, kept in session state: which bounds and zoom the server aggregates
for, moving the map, the clicks it reports, and the similarity scores it is coloured by (the last search's
query checked against the model in use, scored once). The map itself is drawn by explorer_map.py.

The browser reports its view only after it has drawn it, so right after the filters change the server
fits the view to the filtered pairs itself (csmae_core.retrieval.aggregate.fit_view) and uses that
until the browser reports a different one."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import streamlit as st

from csmae_core.retrieval.aggregate import Bounds, fit_view, view_bounds
from csmae_core.retrieval.browse import TableFacts
from csmae_core.retrieval.similarity_map import SimilarityScores, query_is_archive_pair, score_archive
from pages.ui.state import KEY_LAST_QUERY_MODEL

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


# ---------------------------------------------------------------- colouring by similarity to the last query
KEY_SCORES = "explorer_similarity_scores"


def query_problem(backend, query) -> str | None:
    """Why the last search's `query` cannot colour this backend's archive (None: it can). A vector made by
    another model of the same width would colour the map with numbers that mean nothing, so it is refused."""
    bundle, again = backend.bundle, "run the search again with the model chosen in the sidebar"
    width = int(np.asarray(query.embedding).reshape(-1).shape[0])
    if width != bundle.dim:
        return f"The last search's query is a {width}-d vector but this model's are {bundle.dim}-d: {again}."
    made_by = st.session_state.get(KEY_LAST_QUERY_MODEL)
    if made_by is not None:
        return None if made_by == backend.name else f"The last search used another model: {again}."
    if query.pair_row is not None:
        if query_is_archive_pair(bundle.embeddings, int(query.pair_row), query.embedding):
            return None
        return f"The last search's query was made by another model than the one chosen: {again}."
    return f"The search page did not record which model made the last (uploaded) query: {again}."


def similarity_scores(backend, query, sensor: str) -> SimilarityScores:
    """The query's SimilarityScores over `sensor`'s patches, computed once per query, bundle and sensor
    (moving or filtering the map reruns the page; scoring 550k vectors again each time would not do)."""
    vector = np.ascontiguousarray(query.embedding, dtype=np.float32)
    key = (str(backend.bundle.path), backend.bundle.created, sensor, hashlib.sha1(vector.tobytes()).hexdigest())
    kept = st.session_state.get(KEY_SCORES) or {}
    if key not in kept:
        kept = {k: v for k, v in kept.items() if k[:2] == key[:2] and k[3] == key[3]}  # the other sensor stays
        kept[key] = score_archive(backend.bundle.embeddings[sensor], vector, sensor, query.pair_row)
        st.session_state[KEY_SCORES] = kept
    return kept[key]

"""Rendering of "where in the patches the match is": the query's and one result's previews under their token
similarity maps (csmae_core.retrieval.explain), side by side, each with its colour scale."""
from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from csmae_core.errors import CsmaeError
from csmae_core.preview import preview
from csmae_core.record import PatchRecord
from csmae_core.retrieval.explain import MatchMaps, archive_record, colour_scale, heat_overlay, match_maps
from csmae_core.retrieval.search import Result
from pages.ui.resources import Backend
from pages.ui.safe_text import shown, shown_message

SENSOR_NAMES = {"s1": "Sentinel-1", "s2": "Sentinel-2"}
# (model, query content, result sensor, row), the result's record and the maps of the open detail view: the
# page reruns for every click while it stays open (feedback, pages, options), and computing the maps again
# (two encoder passes) made such a rerun cost 422 ms of CPU instead of 69 (AppTest, median of 8)
KEY_MATCH = "match_view_maps"
EXPLANATION = ("Each cell of the {grid} grid is one token of the encoder (after its last blocks, in the space "
               "of the pooled embedding the index searches with). Left: how similar each of the query's tokens is "
               "to the result's whole-patch embedding; right: each of the result's tokens against the query's. "
               "Bright = high cosine, on each image's own scale (below it). {share:.0%} of the query's tokens find "
               "their most similar result token at the same grid position (chance {chance:.0%}).")


def match_panel(backend: Backend, query_record: PatchRecord | None, result: Result) -> None:
    """Both previews with the heat overlay, a colour scale and one sentence saying what is shown; an info box
    saying why instead when no map is possible (no query pixels, no archive pixels, no model, separate spaces)."""
    if query_record is None:
        st.info("No map: the query has no pixels here (it was given as a vector or a metadata-only archive row); "
                "query with an image or an archive patch that has pixels to see where the match is.")
        return
    try:
        result_record, maps = session_maps(backend, query_record, result)
    except CsmaeError as error:
        st.info(f"No map: {shown_message(error)}")
        return
    query_column, result_column = st.columns(2)
    with query_column:
        heat_image(query_record, maps.query_map,
                   f"query ({SENSOR_NAMES[query_record.sensor]}): tokens vs the result")
    with result_column:
        heat_image(result_record, maps.result_map,
                   f"#{result.rank} {SENSOR_NAMES[result.sensor]} {shown(result.pair_id)}: tokens vs the query")
    rows, cols = maps.grid
    st.caption(EXPLANATION.format(grid=f"{rows}x{cols}", share=maps.same_position_share(), chance=1 / (rows * cols)))


def session_maps(backend: Backend, query_record: PatchRecord, result: Result):
    """(the result's record, MatchMaps), computed once per query, result and model and kept in the session."""
    key = (backend.name, record_digest(query_record), result.sensor, result.row)
    held = st.session_state.get(KEY_MATCH)
    if held is not None and held[0] == key:
        return held[1], held[2]
    result_record = archive_record(backend.archive, result.row, result.sensor)
    maps = match_maps(backend.encoder, query_record, result_record)
    st.session_state[KEY_MATCH] = (key, result_record, maps)
    return result_record, maps


def record_digest(record: PatchRecord) -> str:
    """A digest of a record's sensor and pixels (an archive query's record is read again on every run)."""
    digest = hashlib.blake2b(record.sensor.encode(), digest_size=16)
    for name in sorted(record.bands):
        band = np.ascontiguousarray(record.bands[name])
        digest.update(f"{name}|{band.dtype}|{band.shape}".encode())
        digest.update(band.data)
    return digest.hexdigest()


def heat_image(record: PatchRecord, heat, caption: str) -> None:
    """One preview under its map, and the map's colour scale below it."""
    low, high = MatchMaps.value_range(heat)
    st.image(heat_overlay(preview(record.sensor, record.bands), heat, low, high), caption=caption, width="stretch")
    st.image(colour_scale(low, high), caption=f"cosine {low:.2f} (dark) to {high:.2f} (bright)", width=256)

"""Session-state keys shared by several pages, and the current query of the search page."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

KEY_ENTRY = "catalogue_entry"
KEY_QUERY = "query"
KEY_RESPONSE = "response"
KEY_UPLOAD_QUERY = "upload_query"  # the query of the upload held in the uploader (an empty address shows it)
KEY_HANDED_OVER = "query_handed_over"  # another page chose the query: the search page writes its address
KEY_TARGETS, KEY_K = "targets", "k"  # the search page's sensor choice (display names) and number of results
KEY_PAGE, KEY_CAME_FROM = "page_now", "page_before"  # the page script of this run and of the run before
# the search page's filter widgets (a loaded session sets them)
KEY_SPLITS, KEY_COUNTRIES, KEY_SEASONS = "filter_splits", "filter_countries", "filter_seasons"
KEY_SNOW, KEY_CLOUD, KEY_OWN, KEY_RADIUS = "filter_snow", "filter_cloud", "filter_own", "filter_radius"
KEY_LAST_QUERY = "last_query"  # the csmae_core Query of the search page's last search (other pages reuse it)
KEY_LAST_QUERY_MODEL = "last_query_model"  # the catalogue entry (name) whose model made that Query's vector


@dataclass
class QuerySpec:
    """What the search page searches with; stored in st.session_state[KEY_QUERY].
    kind "archive": bundle row `row`, image of `sensor`; kind "upload": `record` (a PatchRecord) read from
    the upload whose content, window and sensor choice are `upload_key`."""

    kind: str
    sensor: str
    row: int | None = None
    record: object | None = None
    upload_key: tuple | None = None


def set_archive_query(row: int, sensor: str) -> None:
    """Make archive pair `row` (its `sensor` image) the query of the search page."""
    st.session_state[KEY_QUERY] = QuerySpec("archive", sensor, int(row))
    st.session_state.pop(KEY_RESPONSE, None)


def hand_over_archive_query(row: int, sensor: str) -> None:
    """From another page, before st.switch_page("pages/search.py"): archive pair `row` becomes the query,
    whatever address the search page last had (it writes this search's address)."""
    set_archive_query(row, sensor)
    st.session_state[KEY_HANDED_OVER] = True

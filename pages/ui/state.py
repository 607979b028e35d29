"""Session-state keys shared by several pages, and the current query of the search page."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from csmae_core.retrieval.search import Filters

KEY_ENTRY = "catalogue_entry"
KEY_QUERY = "query"
KEY_RESPONSE = "response"
KEY_UPLOAD_QUERY = "upload_query"  # the query of the upload held in the uploader (an empty address shows it)
KEY_HANDED_OVER = "query_handed_over"  # another page chose the query: the search page writes its address
KEY_TARGETS, KEY_K = "targets", "k"  # the search page's sensor choice (display names) and number of results
KEY_PAGE, KEY_CAME_FROM = "page_now", "page_before"  # the page script of this run and of the run before
# the search page's filter widgets (a loaded session sets them), drawn only while their expander is open
KEY_SPLITS, KEY_COUNTRIES, KEY_SEASONS = "filter_splits", "filter_countries", "filter_seasons"
KEY_SNOW, KEY_CLOUD, KEY_OWN, KEY_RADIUS = "filter_snow", "filter_cloud", "filter_own", "filter_radius"
KEY_FILTERS_OPEN = "filters_open"
FILTER_DEFAULTS = {KEY_SPLITS: [], KEY_COUNTRIES: [], KEY_SEASONS: [], KEY_SNOW: False, KEY_CLOUD: False,
                   KEY_OWN: True, KEY_RADIUS: 0.0}
KEY_LAST_QUERY = "last_query"  # the csmae_core Query of the search page's last search (other pages reuse it)
KEY_LAST_QUERY_MODEL = "last_query_model"  # the catalogue entry (name) whose model made that Query's vector


def hold(defaults: dict) -> None:
    """Keep the values of widgets that a run may not draw: Streamlit drops a widget's value at the end of a run
    that did not draw it, a value written back as plain session state stays (and the widget, drawn again,
    shows it). Call before those widgets would be drawn."""
    for key, default in defaults.items():
        st.session_state[key] = st.session_state.get(key, default)


def held_filters(area=None) -> Filters:
    """The search page's filters as the session holds them (drawn or not), with `area`."""
    def value(key: str):
        return st.session_state.get(key, FILTER_DEFAULTS[key])

    def names(key: str) -> frozenset[str] | None:
        return frozenset(value(key) or []) or None

    return Filters(names(KEY_SPLITS), names(KEY_COUNTRIES), names(KEY_SEASONS), bool(value(KEY_SNOW)),
                   bool(value(KEY_CLOUD)), bool(value(KEY_OWN)), float(value(KEY_RADIUS) or 0.0), area=area)


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

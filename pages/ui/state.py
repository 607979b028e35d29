"""Session-state keys shared by several pages, and the current query of the search page."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

KEY_ENTRY = "catalogue_entry"
KEY_QUERY = "query"
KEY_RESPONSE = "response"


@dataclass
class QuerySpec:
    """What the search page searches with; stored in st.session_state[KEY_QUERY].
    kind "archive": bundle row `row`, image of `sensor`; kind "upload": `record` (a PatchRecord)."""

    kind: str
    sensor: str
    row: int | None = None
    record: object | None = None


def set_archive_query(row: int, sensor: str) -> None:
    """Make archive pair `row` (its `sensor` image) the query, e.g. from another page before
    st.switch_page("pages/search.py")."""
    st.session_state[KEY_QUERY] = QuerySpec("archive", sensor, int(row))
    st.session_state.pop(KEY_RESPONSE, None)

"""The search page's address is its state: each archive search writes `?pair=...&sensor=...&k=...&targets=...`
plus its archive examples, their weight and a small area of interest (pages/ui/address.py); Streamlit's
st.query_params pushes one browser-history entry per change. An upload search writes an
empty address, and an address the page did not write itself (a shared link, a reload, Back or Forward:
the browser reruns the page with that entry's address) is followed: its search becomes the query.

Streamlit 1.67: a change of st.query_params during a script run sends `page_info_changed`; the browser
pushes a history entry when the query string differs from its address (replaces it while handling
Back/Forward); on popstate it reruns the page with the entry's query string (`is_history_navigation`)."""
from __future__ import annotations

import streamlit as st

from csmae_core.retrieval.queries import patch_name, rows_named
from pages.ui.address import (Address, AddressExample, address_of, known_parameters, parse_address,
                              query_sensors)
from pages.ui.area_input import current_area, set_area
from pages.ui.examples import archive_example, current_examples, negative_weight, set_examples
from pages.ui.resources import Backend
from pages.ui.results import SENSOR_NAMES
from pages.ui.safe_text import shown_value
from pages.ui.state import (
    KEY_CAME_FROM,
    KEY_HANDED_OVER,
    KEY_K,
    KEY_PAGE,
    KEY_QUERY,
    KEY_TARGETS,
    KEY_UPLOAD_QUERY,
    QuerySpec,
    set_archive_query,
)

KEY_WRITTEN = "address_written"  # the parameters the page last wrote or followed
KEY_ADDRESS_NOTE = "address_note"  # what of the search the address does not hold (uploads, a large area)


def follow_address(backend: Backend) -> None:
    """Make the address's search the query when the address is not the one the page last wrote or
    followed; say once, plainly, what was wrong with it. Reached from another page (the menu, "search
    with this") with an address that names no search, the page keeps its query."""
    params = known_parameters(st.query_params.to_dict())
    previous = st.session_state.get(KEY_WRITTEN)
    came_from = st.session_state.get(KEY_CAME_FROM)
    from_another_page = came_from is not None and came_from != st.session_state.get(KEY_PAGE)
    if st.session_state.pop(KEY_HANDED_OVER, False) or (from_another_page and "pair" not in params):
        # the query another page chose, or the one this page had, stays, with the k and targets of the
        # last search (the other page dropped the widgets' state); the search writes its address
        st.session_state[KEY_WRITTEN] = params
        if previous:
            _apply(backend, previous, query=False)
        return
    if previous == params:
        return
    st.session_state[KEY_WRITTEN] = params
    address = _apply(backend, params, query=True)
    if address.problems:
        st.warning("The link could not be followed as given: "
                   + "; ".join(f"{what} {shown_value(value)}" for what, value in address.problems) + ".")
    if address.search is None and "pair" not in params and previous:
        # back from a search to an address without one: the upload's search, if one is held
        st.session_state[KEY_QUERY] = st.session_state.get(KEY_UPLOAD_QUERY)


def _apply(backend: Backend, params: dict[str, str], query: bool) -> Address:
    """The search `params` name (when it names one) set in the widgets (k, targets) and, with `query`,
    made the query."""
    bundle = backend.bundle
    address = parse_address(params, bundle.sensors, lambda pair: _first_row(bundle, pair),
                            query_sensors(bundle.sensors, bundle.cross_sensor))
    search = address.search
    if search is not None:
        if query:
            set_archive_query(search.row, search.sensor)
            set_examples([archive_example(backend, e.row, e.sensor, e.positive, patch_name(bundle, e.row, e.sensor))
                          for e in search.examples], search.weight)
            set_area(search.area, "from the link")
        st.session_state[KEY_K] = search.k
        st.session_state[KEY_TARGETS] = [SENSOR_NAMES[t] for t in search.targets]
    return address


def _first_row(bundle, pair_id: str) -> int | None:
    rows = rows_named(bundle, pair_id)
    return int(rows[0]) if len(rows) else None


def write_address(backend: Backend, spec: QuerySpec, k: int, targets: list[str]) -> None:
    """The address of the search just made (empty for an upload); a new history entry when it changed."""
    if spec.kind == "archive":  # an S2 patch's name is its pair's id
        params = address_of(patch_name(backend.bundle, spec.row, "s2"), spec.sensor, k, targets,
                            address_examples(backend), negative_weight(), current_area())
    else:
        params = {}
    st.session_state[KEY_ADDRESS_NOTE] = address_note(spec, params)
    if params != known_parameters(st.query_params.to_dict()):
        st.query_params.from_dict(params)
    st.session_state[KEY_WRITTEN] = params


def address_examples(backend: Backend) -> list[AddressExample]:
    """The archive examples, by pair id and sensor (an upload's embedding is no address)."""
    return [AddressExample(patch_name(backend.bundle, e.row, "s2"), e.row, e.sensor, e.positive)
            for e in current_examples() if e.row is not None]


def address_note(spec: QuerySpec, params: dict[str, str]) -> str | None:
    """What a shared link of this search (its address `params`) would miss (None: nothing)."""
    if spec.kind != "archive":
        return "An upload's search has no address: save the session to keep it."
    missing = []
    if any(e.row is None for e in current_examples()):
        missing.append("examples that are no single archive patch (uploads, S1+S2 pairs)")
    if current_area() is not None and "area" not in params:  # address_of leaves out what area_parameter cannot fit
        missing.append("the area of interest (too large for an address)")
    return f"The address does not hold {' and '.join(missing)}: save the session to keep them." if missing else None

"""The gallery of a search's results: PAGE_SIZE cards a page (only the shown page's images are built), one
paged section, or one per sensor on request. A card is two elements: one HTML element (its image inline, its
text and labels) and one row of toggles: the feedback choices (pages/ui/examples.py) and "Inspect", which
opens the detail view of that one result (pages/ui/match_view.py) above the gallery. The browser's time of a
search grows with the elements a run sends and with the Markdown it parses (scripts/bench_browser.py,
docs/BENCHMARKS.md): cards of six elements each (text, image, caption, chips, feedback, Inspect button) cost
the first search of a page ~0.2 s; an image and a Markdown element per card another ~0.25 s of an upload."""
from __future__ import annotations

import math

import streamlit as st

from csmae_core.record import PatchRecord
from csmae_core.retrieval.search import Result
from pages.ui.examples import CHOICE_ICONS, FEEDBACK_CHOICES, apply_feedback, feedback_state
from pages.ui.match_view import match_panel
from pages.ui.resources import Backend
from pages.ui.results import SENSOR_NAMES, result_image
from pages.ui.safe_text import shown
from pages.ui.widgets import label_chips

PAGE_SIZE = 25  # cards a page: 5 rows of 5 (hundreds of cards and images would take seconds to draw)
COLUMNS = 5
KEY_GROUP = "group_by_sensor"      # the toggle: one gallery section per sensor
KEY_INSPECT = "inspect_result"     # (sensor, row) of the result whose detail view is open
KEY_GALLERY_FOR = "gallery_for"    # the results the page numbers belong to (new results: back to page 1)
PAGE_KEY = "gallery_page_{}"       # the page number of a section ("all", "s1", "s2")
SCORES = '<span class="result-scores">prec {:.2f} · rec {:.2f} · F1 {:.2f}</span>'  # styled by widgets.PAGE_CSS
CAPTION = '<span class="result-caption">{}</span>'
INSPECT = "Inspect"
ACTIONS = (*FEEDBACK_CHOICES, INSPECT)
ACTION_ICONS = {**CHOICE_ICONS, INSPECT: ":material/zoom_in:"}


def results_gallery(backend: Backend, entry_json: str, results: list[Result], query_name: str,
                    query_record: PatchRecord | None) -> None:
    """The detail view of the inspected result (when one is), then the paged gallery of `results` (those
    the minimum score shows), grouped by sensor when the toggle is on."""
    reset_pages_for(results, query_name)
    inspected(backend, results, query_record)
    sensors = [s for s in SENSOR_NAMES if any(r.sensor == s for r in results)]
    grouped = len(sensors) > 1 and st.toggle("Group by sensor", key=KEY_GROUP,
                                             help="the Sentinel-1 and the Sentinel-2 results in two tabs, each paged")
    if not grouped:
        paged_section(backend, entry_json, results, "all", query_name)
        return
    by_sensor = {s: [r for r in results if r.sensor == s] for s in sensors}
    tabs = st.tabs([f"{SENSOR_NAMES[s]} ({len(by_sensor[s]):,})" for s in sensors])
    for tab, sensor in zip(tabs, sensors):
        with tab:
            paged_section(backend, entry_json, by_sensor[sensor], sensor, query_name)


def reset_pages_for(results: list[Result], query_name: str) -> None:
    """Other results than the pages were turned for (a new search, another minimum score): page 1 again."""
    identity = (query_name, len(results), results[0].id if results else None, results[-1].id if results else None)
    if st.session_state.get(KEY_GALLERY_FOR) != identity:
        st.session_state[KEY_GALLERY_FOR] = identity
        for section in ("all", *SENSOR_NAMES):
            st.session_state.pop(PAGE_KEY.format(section), None)


def paged_section(backend: Backend, entry_json: str, results: list[Result], section: str, query_name: str) -> None:
    first = pager(section, len(results))
    shown_page = results[first:first + PAGE_SIZE]
    cells = st.columns(COLUMNS)
    for index, result in enumerate(shown_page):
        with cells[index % COLUMNS]:
            result_card(backend, entry_json, result, query_name, section)


def pager(section: str, count: int) -> int:
    """Page navigation of one section (nothing when one page holds all); the index of the page's first result."""
    pages = max(1, math.ceil(count / PAGE_SIZE))
    key = PAGE_KEY.format(section)
    page = min(max(int(st.session_state.get(key) or 1), 1), pages)
    st.session_state[key] = page
    if pages == 1:
        return 0
    back, where, number, forward = st.columns([1, 3, 1, 1], vertical_alignment="center")
    back.button("‹ Previous", key=f"{key}_previous", on_click=turn, args=(key, -1, pages), disabled=page == 1)
    first, last = (page - 1) * PAGE_SIZE, min(page * PAGE_SIZE, count)
    where.markdown(f'<span class="gallery-page" data-section="{section}" data-page="{page}"></span>'
                   f"Page {page} of {pages} · results {first + 1:,}–{last:,} of {count:,}", unsafe_allow_html=True)
    number.number_input("Page", 1, pages, key=key, label_visibility="collapsed")
    forward.button("Next ›", key=f"{key}_next", on_click=turn, args=(key, 1, pages), disabled=page == pages)
    return first


def turn(key: str, step: int, pages: int) -> None:
    st.session_state[key] = min(max(int(st.session_state.get(key) or 1) + step, 1), pages)


def result_card(backend: Backend, entry_json: str, result: Result, query_name: str, section: str) -> None:
    with st.container(border=True):
        st.html(card_html(result, query_name, result_image(entry_json, result.row, result.sensor)))
        card_actions(backend, result, key=f"feedback_{section}_{result.rank}")


def card_html(result: Result, query_name: str, image: str | None) -> str:
    """The card's image (a JPEG data URL the page made, or none), heading, pair id and distance, and labels
    (compared with the query's when it has labels) as one HTML element: HTML is not parsed as Markdown in the
    browser, and the image comes with it (no second request). Names are escaped (pages/ui/safe_text.py); the
    browser sanitises the element too (DOMPurify). It starts with a tag, so st.html never reads it as a path."""
    picture = f'<img class="result-image" src="{image}" alt="">' if image else ""
    heading = (f'<div class="result-card" data-rank="{result.rank}" '
               f'data-query="{shown(query_name, context="attribute")}"><b>#{result.rank}</b> · '
               f"{SENSOR_NAMES[result.sensor]} · score <b>{result.score:.3f}</b>{calibrated(result)}</div>")
    distance = f" · {result.distance_km:,.1f} km away" if result.distance_km is not None else ""
    if result.precision is not None:
        labels = label_chips(result.shared, result.missing, result.extra) + SCORES.format(
            result.precision, result.recall, result.f1)
    else:
        labels = label_chips(plain=result.labels)
    return picture + heading + CAPTION.format(shown(result.pair_id, context="html") + distance) + labels


def card_actions(backend: Backend, result: Result, key: str) -> None:
    """One row of toggles: "More like this" / "Less like this" (one or neither), "Accept" (into the training
    set) and "Inspect" (this result's detail view; one result at a time). The row follows the session: a
    strip's remove, another card's Inspect or the detail view's Close show here."""
    chosen = feedback_state(result) + ([INSPECT] if st.session_state.get(KEY_INSPECT) == (result.sensor, result.row)
                                       else [])
    st.session_state[key] = chosen
    st.pills("Feedback", ACTIONS, selection_mode="multi", key=key, label_visibility="collapsed",
             format_func=lambda c: f"{ACTION_ICONS[c]} {c}", on_change=actions_changed,
             args=(backend, result, key, tuple(chosen)))


def actions_changed(backend: Backend, result: Result, key: str, before: tuple[str, ...]) -> None:
    now = set(st.session_state.get(key) or [])
    added, removed = now - set(before), set(before) - now
    if INSPECT in added:
        inspect((result.sensor, result.row))
    elif INSPECT in removed:
        inspect(None)
    apply_feedback(backend, result, added - {INSPECT}, removed - {INSPECT})


def calibrated(result: Result) -> str:
    """Both sensors searched: how exceptional the score is among its sensor's patches for this query (the
    merge order), in standard deviations."""
    if result.calibrated_score is None:
        return ""
    return (f' · <span title="calibrated: the score in standard deviations above this query\'s mean score '
            f'over {SENSOR_NAMES[result.sensor]} patches (both sensors are merged by it)">'
            f"{result.calibrated_score:+.1f} σ</span>")


def inspect(which: tuple[str, int] | None) -> None:
    st.session_state[KEY_INSPECT] = which


def inspected(backend: Backend, results: list[Result], query_record: PatchRecord | None) -> None:
    """The detail view of the result the session inspects, while it is among the shown results."""
    which = st.session_state.get(KEY_INSPECT)
    result = next((r for r in results if (r.sensor, r.row) == which), None)
    if result is None:
        st.session_state.pop(KEY_INSPECT, None)  # another search, or hidden by the minimum score
        return
    with st.container(border=True, key="result_detail"):
        heading, close = st.columns([5, 1], vertical_alignment="center")
        heading.markdown(f"**Inspecting #{result.rank}** · {SENSOR_NAMES[result.sensor]} · "
                         f"{shown(result.id)} · score {result.score:.3f}")
        close.button("Close", key="inspect_close", icon=":material/close:", on_click=inspect, args=(None,))
        match_panel(backend, query_record, result)

"""Compare encoders: one archive query searched by two catalogue models side by side, each in its own bundle,
with their top results, label precision (P@k, AP@k) and counterpart rank. The query is the search page's
current archive query when there is one, else any pair picked here. The two bundles must index the same
archive; csmae_core.retrieval.encoder_comparison checks that and runs the searches, pages/ui/compare_view.py
draws the columns."""
from __future__ import annotations

import json
import logging

import streamlit as st

from csmae_core import CsmaeError
from csmae_core.catalogue import catalogue_path
from csmae_core.retrieval.encoder_comparison import check_same_archive, compare_on_pair, shared_results
from csmae_core.retrieval.queries import rows_named
from pages.ui.compare_view import agreement_caption, answer_column
from pages.ui.results import SENSOR_NAMES, result_image
from pages.ui.resources import Backend, current_backend, load_backend, load_catalogue
from pages.ui.safe_text import shown, shown_message, shown_value
from pages.ui.state import KEY_QUERY
from pages.ui.widgets import label_chips

KEY_FIRST, KEY_SECOND = "compare_first", "compare_second"
KEY_PAIR, KEY_SENSOR, KEY_TARGETS, KEY_K = "compare_pair", "compare_sensor", "compare_targets", "compare_k"
KEY_TAKEN = "compare_taken_query"  # the search page's query last copied into the pickers
log = logging.getLogger(__name__)
MAX_OPTIONS = 2000  # pair ids offered in the picker (any other id can be typed)


def model_pickers(names: list[str], current: str) -> tuple[str, str]:
    """Two catalogue entries: the sidebar's model and, by default, the next one."""
    first, second = st.columns(2)
    if st.session_state.get(KEY_FIRST) not in names:
        st.session_state[KEY_FIRST] = current
    if st.session_state.get(KEY_SECOND) not in names:
        st.session_state[KEY_SECOND] = next(n for n in names[names.index(current) + 1:] + names if n != current)
    return (first.selectbox("First model", names, key=KEY_FIRST),
            second.selectbox("Second model", names, key=KEY_SECOND))


def loaded(name: str, entries: list[dict]) -> Backend | None:
    entry = next(e for e in entries if e["name"] == name)
    try:
        return load_backend(json.dumps(entry, sort_keys=True))
    except CsmaeError as error:
        st.error(f"The model {shown_value(name)} or its index could not be loaded: {shown_message(error)}")
        return None
    except Exception as error:  # noqa: BLE001 - a file the core does not yet explain must not take the page down
        log.exception("loading catalogue entry %s failed", name)
        st.error(f"The model {shown_value(name)} or its index could not be loaded ({type(error).__name__}: "
                 f"{shown_message(error)}); check its files in the catalogue or pick another model")
        return None


@st.cache_data(max_entries=16, show_spinner=False)
def archive_problem(first_json: str, second_json: str) -> str | None:
    """Why the two entries' bundles cannot be compared (None: same archive); once per pair of entries, as
    comparing two sets of 550k pair ids on every rerun would not do."""
    first, second = load_backend(first_json), load_backend(second_json)
    try:
        check_same_archive(first.bundle, second.bundle, first.name, second.name)
    except CsmaeError as error:
        return str(error)
    return None


def take_search_query(backend: Backend) -> None:
    """The search page's current archive query becomes this page's query, once per new query (a pair picked
    here afterwards stays). A pair query (both images) is compared by its S2 image."""
    spec = st.session_state.get(KEY_QUERY)
    if spec is None or spec.kind != "archive" or spec.row is None or spec.row >= len(backend.bundle.table):
        return
    taken = (backend.name, spec.row, spec.sensor)
    if st.session_state.get(KEY_TAKEN) == taken:
        return
    st.session_state[KEY_TAKEN] = taken
    st.session_state[KEY_PAIR] = str(backend.bundle.table.at[spec.row, "pair_id"])
    st.session_state[KEY_SENSOR] = spec.sensor if spec.sensor in SENSOR_NAMES else "s2"


def query_pickers(backend: Backend) -> tuple[str | None, str, list[str], int]:
    """(pair id or None, query sensor, target sensors, k)."""
    options = backend.bundle.table["pair_id"].iloc[:MAX_OPTIONS].astype(str).tolist()  # not all 550k per rerun
    current = st.session_state.get(KEY_PAIR)
    if current and current not in options:
        options.insert(0, current)
    pair, sensor, targets, k = st.columns([3, 1, 2, 1])
    picked = pair.selectbox("Query pair", options, index=None, key=KEY_PAIR, accept_new_options=True,
                            format_func=lambda p: shown(p, context="plain"),
                            placeholder="pick or type an archive pair id",
                            help="the search page's current archive query is taken over when there is one")
    query_sensor = sensor.radio("Query image", ("s2", "s1"), key=KEY_SENSOR, format_func=SENSOR_NAMES.get)
    chosen = targets.multiselect("Search", ("s1", "s2"), default=["s1", "s2"], key=KEY_TARGETS,
                                 format_func=SENSOR_NAMES.get)
    top = k.number_input("k", min_value=1, max_value=50, value=10, key=KEY_K)
    return (str(picked).strip() if picked else None), query_sensor, chosen, int(top)


def query_summary(backend: Backend, pair_id: str, sensor: str) -> None:
    """The query's image and labels (from the first model's archive)."""
    row = int(rows_named(backend.bundle, pair_id)[0])  # compare_on_pair has found it
    image_column, text_column = st.columns([1, 6], vertical_alignment="center")
    image = result_image(json.dumps(backend.entry, sort_keys=True), row, sensor)
    if image is not None:
        image_column.image(image, width=96)
    text_column.markdown(f"**Query** {SENSOR_NAMES[sensor]} image of {shown(pair_id, 120)}")
    text_column.markdown(label_chips(plain=backend.bundle.table.at[row, "labels"], empty="no labels"),
                         unsafe_allow_html=True)


def main() -> None:
    backend = current_backend()
    if backend is None:
        st.stop()
    st.title("Compare encoders")
    st.caption("The same archive query searched by two models, each in its own index: which finds patches with "
               "the query's land cover (P@k, AP@k: label precision of the top k) and its own other-sensor image "
               "(counterpart rank)?")
    entries = load_catalogue(str(catalogue_path()))
    names = [entry["name"] for entry in entries]
    if len(names) < 2:
        st.info("The catalogue holds one model: add a second one to compare them.")
        return
    first, second = model_pickers(names, backend.name)
    if first == second:
        st.warning("Pick two different models.")
        return
    backends = [loaded(first, entries), loaded(second, entries)]
    if None in backends:
        return
    problem = archive_problem(*(json.dumps(b.entry, sort_keys=True) for b in backends))
    if problem is not None:
        st.error(f"These two models cannot be compared: {shown_message(problem)}")
        return
    take_search_query(backend)
    pair_id, sensor, targets, k = query_pickers(backends[0])
    if pair_id is None or not targets:
        st.info("Pick an archive pair as the query and at least one sensor to search.")
        return
    try:
        answers = compare_on_pair([(b.name, b.engine) for b in backends], pair_id, sensor, targets, k)
    except CsmaeError as error:
        st.warning(shown_message(error))
        return
    query_summary(backends[0], pair_id, sensor)
    common = shared_results(answers[0].response, answers[1].response)
    agreement_caption(answers, common)
    for column, answer, model in zip(st.columns(2, gap="large"), answers, backends):
        with column:
            answer_column(json.dumps(model.entry, sort_keys=True), answer, common)


main()

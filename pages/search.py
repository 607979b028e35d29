"""Search (home page): pick a query (upload, map, archive table, random), choose target sensors, k and
filters, and see the most similar archive patches on a map and in a gallery with label comparison.
Widgets -> csmae_core (queries, search, export) -> rendering (pages/ui). The address is the search
(pages/ui/history.py: a shared link, Back, Forward and reload show the search it names)."""
from __future__ import annotations

import html
import json
import time

import numpy as np
import streamlit as st

from csmae_core.bands import SENSORS
from csmae_core.errors import CsmaeError
from csmae_core.labels import LABELS_19
from csmae_core.preview import preview
from csmae_core.record import PatchPair, PatchRecord
from csmae_core.retrieval.queries import PatchFacts, archive_facts, archive_pair_query, archive_query
from csmae_core.retrieval.search import RANK_DEPTH, Filters, Query, SearchResponse
from csmae_core.retrieval.upload_query import upload_facts, upload_pair_query, upload_query
from pages.ui.address import MAX_K
from pages.ui.area_input import AREA_CHOICES, area_input, current_area
from pages.ui.examples import examples_strip, with_examples
from pages.ui.history import follow_address, write_address
from pages.ui.query_input import KEY_EMBEDDING, KEY_UPLOAD_LABELS, query_input
from pages.ui.resources import Backend, current_backend
from pages.ui.results import SENSOR_NAMES, results_map
from pages.ui.results_gallery import results_gallery
from pages.ui.results_scores import shown_results
from pages.ui.safe_text import shown, shown_message
from pages.ui.sessions import start_session_janitor
from pages.ui.state import (FILTER_DEFAULTS, KEY_CLOUD, KEY_COUNTRIES, KEY_FILTERS_OPEN, KEY_K, KEY_LAST_QUERY,
                            KEY_LAST_QUERY_MODEL, KEY_OWN, KEY_QUERY, KEY_RADIUS, KEY_RESPONSE, KEY_SEASONS, KEY_SNOW,
                            KEY_SPLITS, KEY_TARGETS, QuerySpec, held_filters, hold)
from pages.ui.trust import archive_yardsticks, trust_panel
from pages.ui.widgets import data_url, label_chips
from pages.ui.workflow_io import session_controls, workflow_downloads



# ---------------------------------------------------------------- the query
def upload_embedding(backend: Backend, record: PatchRecord) -> np.ndarray:
    """An upload is embedded once and kept in the session (archive queries use the bundle's embeddings);
    both records of an uploaded pair are kept."""
    cached = [c for c in st.session_state.get(KEY_EMBEDDING) or [] if c[0].sensor != record.sensor]
    held = [c for c in st.session_state.get(KEY_EMBEDDING) or [] if c[0] is record]
    vector = held[0][1] if held else backend.encoder.embed_records([record], record.sensor)[0]
    st.session_state[KEY_EMBEDDING] = [*cached, (record, vector)]
    return vector


def archive_pixels(backend: Backend, spec: QuerySpec) -> PatchPair | None:
    """The archive pair of an archive query, read once per run (None: an upload, or no pixels)."""
    if spec.kind != "archive" or backend.archive is None:
        return None
    return backend.archive[spec.row]


def build_query(backend: Backend, spec: QuerySpec, pair: PatchPair | None
                ) -> tuple[Query, PatchFacts, np.ndarray | None]:
    """The Query for the engine, what the query panel shows about it, and its image (None: no pixels);
    `pair`: the archive query's pixels (`archive_pixels`)."""
    bundle = backend.bundle
    if spec.kind == "archive":
        shown_sensor = "s2" if spec.sensor == "pair" else spec.sensor
        image = preview(shown_sensor, pair.record(shown_sensor).bands) if pair else None
        facts = archive_facts(bundle, spec.row, shown_sensor)
        if spec.sensor == "pair":  # both images of the pair, searched together
            facts.facts += " · S1 and S2 searched together (the normalised mean of their embeddings)"
            return archive_pair_query(bundle, spec.row), facts, image
        return archive_query(bundle, spec.row, spec.sensor), facts, image
    record, labels = spec.record, st.session_state.get(KEY_UPLOAD_LABELS, [])
    if isinstance(record, PatchPair):  # a zip of one pair's S1 and S2 folders, searched together
        s1, s2 = upload_embedding(backend, record.s1), upload_embedding(backend, record.s2)
        facts = upload_facts(record.s2, labels)
        facts.facts = "uploaded pair: S1 and S2 searched together (the normalised mean of their embeddings)"
        return upload_pair_query(record, s1, s2, labels), facts, preview("s2", record.s2.bands)
    query = upload_query(record, upload_embedding(backend, record), labels)
    return query, upload_facts(record, labels), preview(record.sensor, record.bands)


def query_bands(spec: QuerySpec, pair: PatchPair | None) -> list[tuple[str, dict | None]]:
    """(sensor, bands) of the query's images for the trust panel (bands None: the archive has no pixels)."""
    if spec.kind == "archive":
        sensors = ["s2", "s1"] if spec.sensor == "pair" else [spec.sensor]
        return [(sensor, pair.record(sensor).bands if pair else None) for sensor in sensors]
    if isinstance(spec.record, PatchPair):
        return [("s2", spec.record.s2.bands), ("s1", spec.record.s1.bands)]
    return [(spec.record.sensor, spec.record.bands)]


def query_record(spec: QuerySpec, pair: PatchPair | None) -> PatchRecord | None:
    """The query's record for a result's detail view: the archive image searched with (a pair: its S2), the
    upload (a pair: its S2); None when the archive has no pixels."""
    if spec.kind == "archive":
        return pair.record("s2" if spec.sensor == "pair" else spec.sensor) if pair is not None else None
    return spec.record.s2 if isinstance(spec.record, PatchPair) else spec.record


PAIR_NAME = "Sentinel-1 + Sentinel-2"


def is_pair_query(spec: QuerySpec) -> bool:
    """Both sensors of one place searched together (an uploaded pair, or an archive pair's two images)."""
    return spec.sensor == "pair" or isinstance(spec.record, PatchPair)


def query_panel(spec: QuerySpec, facts: PatchFacts, image: np.ndarray | None) -> None:
    """The query's image and facts; an upload's labels are editable (they enable label comparison)."""
    st.subheader("Query")
    left, right = st.columns([2, 3])
    sensor_name = PAIR_NAME if is_pair_query(spec) else SENSOR_NAMES[spec.sensor]
    if image is not None:
        left.image(image, caption=f"{SENSOR_NAMES[facts.sensor]} · "
                   f"{'true colour' if facts.sensor == 's2' else 'VV / VH / VV-VH'}", width="stretch")
    with right:
        st.markdown(f"**{shown(facts.name)}** · {sensor_name} · {shown(facts.facts, 300)}")
        if spec.kind == "upload":
            st.multiselect("Labels of the upload (optional: enables label comparison)", LABELS_19, key=KEY_UPLOAD_LABELS)
            facts.labels = st.session_state[KEY_UPLOAD_LABELS]
        else:
            st.markdown(label_chips(plain=facts.labels, empty="no labels known"), unsafe_allow_html=True)
        if facts.bbox:
            west, south, east, north = facts.bbox
            st.caption(f"Footprint {south:.4f}..{north:.4f} N, {west:.4f}..{east:.4f} E")
        else:
            st.caption("Location unknown (no georeference): distances and map placement are unavailable.")
        records = [] if spec.kind != "upload" else (
            [spec.record.s2, spec.record.s1] if isinstance(spec.record, PatchPair) else [spec.record])
        for record in records:
            for note in record.notes:
                st.caption(f"Note{' (' + record.sensor.upper() + ')' if len(records) > 1 else ''}: "
                           f"{shown_message(note)}")


# ---------------------------------------------------------------- options and results
def search_options(backend: Backend, spec: QuerySpec | None) -> tuple[list[str], int, Filters]:
    """Targets, k and filters; drawn before the first query too (set them first, then pick the query), so the
    first search of a page adds fewer elements to it. The filters' widgets are built only while their expander
    is open (their values are held in the session meanwhile, and a caption says which filters are on)."""
    left, middle = st.columns([2, 1])
    # defaults through session state, which a shared link may already have set
    st.session_state.setdefault(KEY_TARGETS, list(SENSOR_NAMES.values()))
    st.session_state.setdefault(KEY_K, 10)
    if backend.bundle.cross_sensor:
        chosen = left.multiselect("Search in", list(SENSOR_NAMES.values()), key=KEY_TARGETS,
                                  help="cross-sensor retrieval: an S1 query can find S2 patches")
        targets = [s for s, n in SENSOR_NAMES.items() if n in chosen] or list(SENSORS)
    else:  # distances between separately trained S1 and S2 spaces mean nothing
        targets = [spec.sensor] if spec is not None else []
        searched = SENSOR_NAMES[spec.sensor] if spec is not None else "the query's sensor"
        left.caption(f"Searching {searched} only: this model embeds S1 and S2 in separate "
                     "spaces (pick a cross-sensor model in the sidebar to search across sensors)")
    k = middle.slider("Results (k)", 1, MAX_K, key=KEY_K,  # the address's limit: a shared link holds any k
                      help=f"up to {MAX_K:,}: the gallery is paged, the map clusters the results beyond the best")
    hold(FILTER_DEFAULTS)
    hold(AREA_CHOICES)
    box = st.expander("Filters", key=KEY_FILTERS_OPEN, on_change="rerun")
    if box.open:  # built only when open: ~20 elements less for the browser to draw on every search
        with box:
            filter_widgets(backend, spec)
    filters = held_filters(current_area())
    if not box.open and filters_on(filters):
        st.caption(f"Filters on: {', '.join(filters_on(filters))} (open Filters to see or change them).")
    return targets, k, filters


def filter_widgets(backend: Backend, spec: QuerySpec | None) -> None:
    """The filters' widgets (their values: pages.ui.state.held_filters) and the area of interest."""
    engine = backend.engine
    a, b, c = st.columns(3)
    a.multiselect("Split", engine.values("split"), key=KEY_SPLITS)
    b.multiselect("Country", engine.values("country"), key=KEY_COUNTRIES)
    c.multiselect("Season", engine.values("season"), key=KEY_SEASONS)
    d, e, f, g = st.columns(4)
    d.checkbox("Exclude seasonal snow", key=KEY_SNOW)
    e.checkbox("Exclude cloud / shadow", key=KEY_CLOUD)
    f.checkbox("Exclude the query's own pair", key=KEY_OWN, disabled=spec is None or spec.kind != "archive")
    g.number_input("Exclude results within (km)", 0.0, 5000.0, step=5.0, key=KEY_RADIUS)
    area_input(backend)


def filters_on(filters: Filters) -> list[str]:
    """What the filters restrict, in words (the query's own pair, excluded by default, not counted)."""
    named = {"split": filters.splits, "country": filters.countries, "season": filters.seasons,
             "no seasonal snow": filters.exclude_snow, "no cloud / shadow": filters.exclude_cloud,
             "a minimum distance": filters.min_distance_km > 0, "an area of interest": filters.area is not None}
    return [name for name, on in named.items() if on]


SUMMARY_CELL = ('<div class="summary-cell" data-label="{label}" data-value="{value}" title="{help}" style="flex:1;'
                'min-width:7rem"><div style="font-size:0.875rem;color:rgba(49,51,63,0.6)">{label}</div>'
                '<div style="font-size:2rem;line-height:1.3">{value}</div></div>')


def summary(response: SearchResponse, elapsed_ms: float) -> None:
    """P@k, R@k, F1@k, AP@k, the counterpart rank and the search time in one row: one element (six metric
    elements in six columns cost the browser more to build on every search)."""
    metrics = response.metrics or {}
    cells = [(name, f"{metrics[name]:.2f}" if name in metrics else "–", "label metric of the results "
              "against the query's labels" if name in metrics else "the query has no labels")
             for name in ("P@k", "R@k", "F1@k", "AP@k")]
    if response.counterpart_rank is not None:
        rank = str(response.counterpart_rank)
    else:
        rank = f"> {RANK_DEPTH}" if response.counterpart_rank_bounded else "–"
    cells.append(("Counterpart rank", html.escape(rank), "rank of the query's own other-sensor patch among all "
                  "patches of that sensor (archive queries only)"))
    cells.append(("Search time", f"{elapsed_ms:.0f} ms", "query embedding, search and result records"))
    row = "".join(SUMMARY_CELL.format(label=label, value=value, help=help_text) for label, value, help_text in cells)
    st.markdown(f'<div class="search-summary" style="display:flex;flex-wrap:wrap;gap:0.5rem;margin-bottom:1rem">{row}'
                "</div>", unsafe_allow_html=True)


def fewer_than_asked(response: SearchResponse, k: int, filters: Filters) -> None:
    """k larger than what the archive (after the filters) holds: say so, rather than leave the count unexplained."""
    found = len(response.results)
    if 0 < found < k:
        where = "these filters admit" if filters != Filters(exclude_query_pair=filters.exclude_query_pair) else \
            "the archive holds"
        st.caption(f"k = {k:,} asked, {found:,} available: {where} no more patches of the sensors searched.")


def own_top_score(backend: Backend, query: Query, searched: Query, response: SearchResponse, targets,
                  filters: Filters) -> float:
    """The query's own best score over the whole archive, for the trust panel's out-of-distribution check:
    examples move the searched vector and filters or an area restrict the archive, and either would make an
    ordinary query look unusual (one more k = 1 search, a few ms)."""
    plain = Filters(exclude_query_pair=filters.exclude_query_pair)
    if searched is query and filters == plain:
        return response.results[0].score
    best = backend.engine.search(query, targets, 1, plain, counterpart=False).results
    return best[0].score if best else response.results[0].score


def main() -> None:
    start_session_janitor()
    backend = current_backend()
    if backend is None:
        st.stop()
    follow_address(backend)
    st.title("Find similar patches across Sentinel-1 and Sentinel-2")
    inputs, panel = st.columns([3, 2], gap="large")
    # Fixed slots, in the same order with or without a query: the results map keeps its place in the page,
    # so its frame (and Leaflet) is built once, before the first search, and only updated afterwards.
    options_box, examples_box, heading_box, map_box, gallery_box = (st.container() for _ in range(5))
    entry_json = json.dumps(backend.entry, sort_keys=True)
    with inputs:
        query_input(backend)
    spec = st.session_state.get(KEY_QUERY)
    with options_box:
        targets, k, filters = search_options(backend, spec)
    if spec is None:
        panel.info("Upload a patch, click the map, pick a pair from the table, or try a random example.")
        with map_box:
            results_map(backend, entry_json, [], None, None)
        with gallery_box:
            session_controls(backend, None)
        # measured once per server (cached) while the page waits for a query, not during the first search
        archive_yardsticks(entry_json, backend)
        return
    started = time.perf_counter()
    try:
        pair = archive_pixels(backend, spec)
        query, facts, image = build_query(backend, spec, pair)
    except (CsmaeError, IndexError, KeyError) as error:
        panel.error(f"This query cannot be used with the current model and bundle: {shown_message(error)}")
        return
    with panel:
        query_panel(spec, facts, image)
    query.labels = facts.labels or (None if spec.kind == "upload" else [])
    with examples_box:
        examples_strip(backend)
    searched = with_examples(backend, query)
    response = backend.engine.search(searched, targets, k, filters, counterpart=not is_pair_query(spec))
    st.session_state[KEY_RESPONSE] = response
    st.session_state[KEY_LAST_QUERY], st.session_state[KEY_LAST_QUERY_MODEL] = query, backend.name
    write_address(backend, spec, k, targets)
    with heading_box:
        st.subheader(f"{len(response.results):,} most similar patches")
        if not response.results:
            st.warning("No archive patch passes the filters: relax them.")
            return
        summary(response, (time.perf_counter() - started) * 1000)
        fewer_than_asked(response, k, filters)
        visible = shown_results(response.results)
    with panel:
        trust_panel(backend, entry_json, query_bands(spec, pair),
                    own_top_score(backend, query, searched, response, targets, filters), targets)
    with map_box:
        results_map(backend, entry_json, visible, facts.bbox, data_url(image) if image is not None else None)
    with gallery_box:
        if not visible:
            st.info("Every result scores below the minimum score: lower it to see them.")
        results_gallery(backend, entry_json, visible, query.name, query_record(spec, pair))
        workflow_downloads(backend, response, facts, spec)

main()

"""Archive explorer: every pair of the archive on an offline map (individual patches when few are in
view, otherwise counts per grid cell, so that 500k pairs stay responsive), filters by label, country,
season and split, label statistics, a pair's S1/S2 previews with "search with this", and the whole archive
coloured by similarity to the search page's last query (per sensor; cells by their best or mean score).
Filtering, counting and aggregation are csmae_core.retrieval.browse's, the scores
csmae_core.retrieval.similarity_map's; the map is pages/ui/explorer_map.py."""
from __future__ import annotations

import json

import numpy as np
import streamlit as st

from csmae_core.retrieval.browse import TableFacts, pair_summary, table_facts
from csmae_core.retrieval.queries import PatchFacts, archive_facts, rows_named
from csmae_core.retrieval.similarity_map import SCALES, colourable_sensors
from pages.ui.explorer_map import POINT_COLOUR, STATISTIC_WORDS, Colouring, draw_map
from pages.ui.explorer_view import current_view, new_click, query_problem, request_view, similarity_scores
from pages.ui.resources import Backend, current_backend, pair_images
from pages.ui.safe_text import shown, shown_value
from pages.ui.state import KEY_LAST_QUERY, hand_over_archive_query
from pages.ui.widgets import label_chips

KEY_LABELS, KEY_COUNTRIES = "explorer_labels", "explorer_countries"
KEY_SEASONS, KEY_SPLITS = "explorer_seasons", "explorer_splits"
KEY_PAIR = "explorer_pair"
KEY_SIMILARITY, KEY_SIMILARITY_SENSOR = "explorer_similarity", "explorer_similarity_sensor"
KEY_SIMILARITY_SCALE, KEY_SIMILARITY_STATISTIC = "explorer_similarity_scale", "explorer_similarity_statistic"
SCALE_NAMES = {"standardised": "how exceptional (σ)", "cosine": "cosine"}
KEY_SEARCH = {"s2": "explorer_search_s2", "s1": "explorer_search_s1"}
SENSOR_NAMES = {"s2": "Sentinel-2", "s1": "Sentinel-1"}
MAX_POINTS = 2000      # more pairs than this in view: draw grid cells instead of patches
MAX_OPTIONS = 2000     # pair ids offered in the picker (any other id can be typed)


@st.cache_resource(show_spinner="Indexing the archive's labels ...", max_entries=4)
def cached_facts(cache_key: str, _table) -> TableFacts:
    return table_facts(_table)


def facts_of(backend: Backend) -> TableFacts:
    """The table facts of the backend's bundle, computed once per server (per bundle build)."""
    bundle = backend.bundle
    return cached_facts(f"{bundle.path}|{bundle.created}|{len(bundle.table)}", bundle.table)


def sidebar_filters(facts: TableFacts) -> dict[str, list[str]]:
    st.sidebar.subheader("Filters")
    st.sidebar.caption("An empty filter keeps everything; a pair passes the label filter when it has any "
                       "of the chosen labels.")
    return {
        "labels": st.sidebar.multiselect("Label", facts.choices["labels"], key=KEY_LABELS,
                                         format_func=lambda label: f"{label} ({facts.totals[label]:,})"),
        "countries": st.sidebar.multiselect("Country", facts.choices["country"], key=KEY_COUNTRIES),
        "seasons": st.sidebar.multiselect("Season", facts.choices["season"], key=KEY_SEASONS),
        "splits": st.sidebar.multiselect("Split", facts.choices["split"], key=KEY_SPLITS),
    }


def kept(key: str, default):
    """The last value of similarity widget `key`. Streamlit forgets a widget's value once a run did not draw
    it (another page, the toggle off); these settings are kept under their own keys and handed back as the
    widget's default, so that after a new search the explorer comes back coloured the same way."""
    return st.session_state.get(f"{key}_kept", default)


def keep(key: str, value):
    st.session_state[f"{key}_kept"] = value
    return value


def kept_radio(label: str, options: tuple[str, ...], key: str, default: str, **kwargs) -> str:
    """A sidebar radio that keeps its value (see `kept`); `default` when the kept one is not offered."""
    if st.session_state.get(key, options[0]) not in options:  # fewer options now (e.g. a separate-space model)
        del st.session_state[key]
    preferred = kept(key, default)
    index = options.index(preferred if preferred in options else default)
    return keep(key, st.sidebar.radio(label, options, index=index, key=key, **kwargs))


def similarity_choices(sensors: tuple[str, ...], query_sensor: str) -> tuple[str, str, str]:
    """(archive sensor, scale, per-cell statistic) from the sidebar; the query's own sensor first."""
    sensor = kept_radio("Archive sensor", sensors, KEY_SIMILARITY_SENSOR,
                        query_sensor if query_sensor in sensors else sensors[0], horizontal=True,
                        format_func=SENSOR_NAMES.get,
                        help=None if len(sensors) > 1 else "this model keeps S1 and S2 in separate spaces: "
                        "only the query's own sensor can be compared with it")
    scale = kept_radio("Scale", SCALES, KEY_SIMILARITY_SCALE, SCALES[0], format_func=SCALE_NAMES.get,
                       help="how exceptional: standard deviations above this query's mean score over all of "
                            "the sensor's patches (comparable across queries and sensors); cosine: the raw score")
    statistic = kept_radio("Cells show", tuple(STATISTIC_WORDS), KEY_SIMILARITY_STATISTIC, "best",
                           format_func=STATISTIC_WORDS.get, help="when zoomed out, a cell's colour is the score of "
                           "its best patch (where a match is) or the mean (where the region is alike)")
    return sensor, scale, statistic


def similarity_colouring(backend: Backend, note) -> Colouring | None:
    """The map's colouring by similarity to the search page's last query, or None (off, no query yet, or a
    query this model cannot be compared with: said in the container `note`, which is always drawn, so that
    the map below keeps its place in the page and the browser keeps its frame and view)."""
    st.sidebar.subheader("Similarity")
    if not keep(KEY_SIMILARITY, st.sidebar.toggle(
            "Colour by similarity to the last search", value=kept(KEY_SIMILARITY, False), key=KEY_SIMILARITY,
            help="every patch of the archive scored against the search page's last query")):
        return None
    query = st.session_state.get(KEY_LAST_QUERY)
    if query is None:
        note.info("Run a search first: the map is coloured by similarity to the search page's last query.")
        note.page_link("pages/search.py", label="Go to the search page", icon=":material/search:")
        return None
    problem = query_problem(backend, query)
    if problem is not None:
        note.warning(problem)
        return None
    bundle = backend.bundle
    sensors = colourable_sensors(bundle.sensors, bundle.cross_sensor, query.sensor)
    if not sensors:
        note.warning(f"This bundle holds no {query.sensor.upper()} patches to compare the last query with.")
        return None
    sensor, scale, statistic = similarity_choices(sensors, query.sensor)
    scores = similarity_scores(backend, query, sensor)
    note.caption(f"Coloured by similarity to the last search's query {shown(query.name, 120)} "
               f"({query.sensor.upper()}) over the archive's {len(scores.cosine):,} {SENSOR_NAMES[sensor]} patches "
               f"(scored in {scores.elapsed_ms:.0f} ms).")
    return Colouring(scores.values(scale), scale, statistic, *scores.colour_range(scale), SENSOR_NAMES[sensor],
                     len(scores.cosine), query.lonlat)


def follow_click(facts: TableFacts, shown: dict, zoom: int, signature: str) -> bool:
    """A new click on the map: on a patch, select it (the picker shows it); on a cell, zoom into it.
    Returns whether the view was moved."""
    click = new_click()
    if click is None:
        return False
    target = facts.clicked(shown, *click)
    if target.row is not None:
        st.session_state[KEY_PAIR] = facts.pair_ids[target.row]
    if target.cell is None:
        return False
    request_view(*target.cell, min(zoom + 2, 14), signature)
    return True


def pair_picker(rows_in_view: np.ndarray, facts: TableFacts, backend: Backend) -> int | None:
    """Pick a pair by id (the map's clicks land here too); returns its table row, or None."""
    options = list(facts.pair_ids[rows_in_view[:MAX_OPTIONS]])
    current = st.session_state.get(KEY_PAIR)
    if current and current not in options:
        options.insert(0, current)
    picked = st.selectbox("Pair", options, index=None, key=KEY_PAIR, accept_new_options=True,
                          format_func=lambda pair: shown(pair, context="plain"),
                          placeholder="click a patch on the map, or pick / type a pair id",
                          help=f"the pairs in view (the first {MAX_OPTIONS:,}); any pair id of the archive "
                               "can be typed")
    if not picked:
        return None
    rows = rows_named(backend.bundle, str(picked).strip())
    if len(rows) == 0:
        st.warning(f"This archive holds no pair {shown_value(picked)}.")
        return None
    return int(rows[0])


def pair_detail(backend: Backend, row: int, pair: PatchFacts) -> None:
    st.markdown(f"**{shown(pair.name)}**")
    st.markdown(label_chips(plain=pair.labels, empty="no labels"), unsafe_allow_html=True)
    st.caption("  \n".join(shown(line, 300) for line in pair_summary(backend.bundle.table, row).split("  \n")))
    images = pair_images(backend, row)
    if images is None:
        st.info("This archive is metadata-only: no pixels to preview. You can still search with the pair, "
                "its embeddings are in the index.")
    else:
        for column, sensor in zip(st.columns(2), ("s1", "s2")):
            column.image(images[sensor], caption=SENSOR_NAMES[sensor], width="stretch")
    for sensor in ("s2", "s1"):
        if st.button(f"Search with the {sensor.upper()} image", key=KEY_SEARCH[sensor], width="stretch",
                     icon=":material/search:", type="primary" if sensor == "s2" else "secondary"):
            hand_over_archive_query(row, sensor)
            st.switch_page("pages/search.py")


def label_chart(facts: TableFacts, mask: np.ndarray) -> None:
    """Horizontal bars (19 long class names), most frequent first; static, so scrolling the page over it
    does not zoom it."""
    import altair as alt

    st.subheader("Label statistics")
    st.caption(f"pairs of the current filter ({int(mask.sum()):,}) having each label; a pair has several labels, "
               "so the shares add up to more than 100 %")
    chart = alt.Chart(facts.label_shares(mask)).mark_bar(color=POINT_COLOUR).encode(
        x=alt.X("pairs:Q", title="pairs"),
        y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=420)),
        tooltip=[alt.Tooltip("label:N"), alt.Tooltip("pairs:Q", format=","), alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=alt.Step(22))
    st.altair_chart(chart, width="stretch")


def show_metrics(mask: np.ndarray, shown: dict) -> None:
    columns = st.columns(3)
    columns[0].metric("Pairs shown", f"{int(mask.sum()):,}")
    columns[1].metric("Archive pairs", f"{len(mask):,}")
    columns[2].metric("In view", f"{shown['n_in_view']:,}")


def main() -> None:
    backend = current_backend()
    if backend is None:
        st.stop()
    st.title("Archive explorer")
    facts = facts_of(backend)
    chosen = sidebar_filters(facts)
    mask = facts.filter(**chosen)
    signature = json.dumps([backend.name, chosen], sort_keys=True)
    colouring = similarity_colouring(backend, st.container())
    values = None if colouring is None else colouring.values
    bounds, zoom = current_view(facts, mask, signature)
    shown = facts.viewport(mask, bounds, zoom, MAX_POINTS, values)
    if follow_click(facts, shown, zoom, signature):
        bounds, zoom = current_view(facts, mask, signature)
        shown = facts.viewport(mask, bounds, zoom, MAX_POINTS, values)
    show_metrics(mask, shown)
    if not mask.any():
        st.warning("No pair matches these filters; empty a filter in the sidebar to see more.")
    map_column, detail_column = st.columns([3, 2], gap="medium")
    selected = None
    with detail_column:
        st.subheader("Pair")
        row = pair_picker(facts.rows_in_view(mask, shown, bounds), facts, backend)
        if row is not None:
            selected = (row, archive_facts(backend.bundle, row, "s2"))
            pair_detail(backend, *selected)
    with map_column:
        draw_map(facts, shown, zoom, selected, colouring)
    label_chart(facts, mask)


main()

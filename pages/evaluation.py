"""Evaluation page: the committed evaluation of the current bundle (protocol, four-direction tables with
baselines, plots, per-class precision) and failure inspection (worst queries re-run live with label
differences and, for an opened result, where in the two patches the match is; label confusions, a 2-D
projection of the embeddings). metrics.json is read by csmae_core.evaluation.report, failures are prepared
by csmae_core.evaluation.inspection, the token maps by csmae_core.retrieval.explain, and the sections are
drawn by pages/ui/evaluation_views.py (the maps by pages/ui/match_view.py)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from csmae_core.errors import CsmaeError, DataNotFoundError
from csmae_core.evaluation.inspection import confusion_frame, pair_of, projection_points, worst_table
from csmae_core.evaluation.projection import worst_queries
from csmae_core.evaluation.report import DIRECTION_NAMES, EvaluationReport, read_report, report_file
from csmae_core.evaluation.run import direction_label
from csmae_core.labels import LABELS_19
from csmae_core.retrieval.queries import archive_query
from csmae_core.retrieval.search import Filters, SearchResponse
from pages.ui import evaluation_views as views
from pages.ui.resources import Backend, current_backend
from pages.ui.safe_text import shown, shown_message

# widget keys
KEY_CLASS_MODEL = "eval_class_model"
KEY_MODEL = "eval_model"
KEY_DIRECTION = "eval_direction"
KEY_WORST_BY = "eval_worst_by"
KEY_WORST_N = "eval_worst_n"
KEY_FAILURE = "eval_failure"
KEY_MATCH_RESULT = "eval_match_result"
KEY_COLOUR_BY = "eval_colour_by"
KEY_COLOUR_LABEL = "eval_colour_label"

PROJECTION_CAP = 3000  # pairs per sensor drawn in the projection (plus the highlighted ones)


# ---------------------------------------------------------------- the committed evaluation
@st.cache_data(show_spinner=False)
def cached_report(path: str, mtime: float) -> EvaluationReport:
    """read_report once per version of the file (`mtime` keys the cache)."""
    return read_report(path)


def load_report(entry: dict) -> EvaluationReport | None:
    """The catalogue entry's committed evaluation, or None after a clear message and the command that
    creates it."""
    folder = entry.get("evaluation")
    out = folder or f"evaluation/{Path(entry.get('bundle', 'bundle')).name}"
    command = f"python scripts/evaluate.py --bundle {entry.get('bundle', 'BUNDLE')} --out {out}"
    if not folder:
        st.warning("No committed evaluation for this bundle (the catalogue entry names no evaluation folder). Run:")
    else:
        path = report_file(folder)
        try:
            return cached_report(str(path), path.stat().st_mtime if path.is_file() else 0.0)
        except DataNotFoundError as error:
            st.warning(f"No committed evaluation for this bundle: {shown_message(error)}:")
        except CsmaeError as error:
            st.error(f"The evaluation could not be read: {shown_message(error)}:")
    st.code(command, language="bash")
    return None


def show_per_class(report: EvaluationReport) -> None:
    st.subheader("Per-class precision")
    name = st.selectbox("Model or baseline", list(report.entries()), key=KEY_CLASS_MODEL)
    views.show_per_class(report.per_class_frame(name))


# ---------------------------------------------------------------- failure inspection
def keep_valid(key: str, options: list) -> None:
    """Drop a widget's remembered value when it is no longer one of its options."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def choose_failure_scope(report: EvaluationReport, preferred: str | None) -> tuple[str, str, str, int] | None:
    """Model (display name), direction, worst-by and how many: the inspection's widgets. The model of the
    bundle in use comes first (it is the one that can be searched live)."""
    entries = report.entries()
    names = list(entries)
    cols = st.columns([3, 2, 2, 1])
    name = cols[0].selectbox("Model or baseline", names, index=names.index(preferred) if preferred in names else 0,
                             key=KEY_MODEL)
    directions = entries[name].directions
    available = [d for d in DIRECTION_NAMES if d in directions]
    if not available:
        st.info("This entry has no directions to inspect.")
        return None
    keep_valid(KEY_DIRECTION, available)
    direction = cols[1].selectbox("Direction", available, format_func=direction_label, key=KEY_DIRECTION)
    by_options = ["ap", "rank"] if directions[direction].get("counterpart_ranks") else ["ap"]
    keep_valid(KEY_WORST_BY, by_options)
    by = cols[2].radio("Worst by", by_options, key=KEY_WORST_BY, horizontal=True,
                       format_func=lambda b: f"AP@{report.k}" if b == "ap" else "counterpart rank")
    n = int(cols[3].number_input("How many", min_value=1, max_value=100, value=10, key=KEY_WORST_N))
    return name, direction, by, n


def choose_failure(report: EvaluationReport, backend: Backend, worst: list[dict], scope: str) -> dict | None:
    """The table of the worst queries and the one picked to inspect. An option is (scope, row), `scope` naming
    the model and direction, so its label (AP, rank) never changes under the same option: the browser's select
    box answers with the label it shows, and a label changed under a kept value showed one query while the
    page inspected another."""
    table, k = backend.bundle.table, report.k
    st.dataframe(worst_table(report, worst, table), hide_index=True, placeholder="—",
                 column_config={f"AP@{k}": st.column_config.NumberColumn(format="%.3f")})
    by_option = {(scope, q["row"]): q for q in worst}
    # no keep_valid here: Streamlit resets a value that left the options itself, and tells the browser
    chosen = st.selectbox("Inspect query", list(by_option), key=KEY_FAILURE,
                          format_func=lambda o: f"row {o[1]} · {shown(pair_of(report, table, o[1]), context='plain')}"
                                                f" · AP@{k} {by_option[o]['ap']:.3f} · counterpart rank "
                                                f"{by_option[o]['rank'] or '—'}")
    return by_option.get(chosen)


def live_search(backend: Backend, report: EvaluationReport, direction: str, row: int) -> SearchResponse:
    """Archive pair `row` searched again as the evaluation searched it: same direction, k and archive splits."""
    query_sensor, archive_sensor = direction.split("_")
    return backend.engine.search(archive_query(backend.bundle, row, query_sensor), targets=[archive_sensor],
                                 k=report.k, filters=Filters(splits=report.archive_splits))


def inspect_query(backend: Backend, report: EvaluationReport, direction: str, query: dict) -> list[tuple[str, int]]:
    """Re-run one query live and show it with its results; returns the (sensor, row) points to highlight."""
    sensor, row = direction.split("_")[0], query["row"]
    try:
        response = live_search(backend, report, direction, row)
    except (CsmaeError, KeyError, IndexError) as error:
        st.error(f"The query could not be re-run: {shown_message(error)}")
        return []
    views.show_query(backend, row, sensor, query["ap"], response, report.k)
    st.markdown(f"**Top {len(response.results)} results** ({direction_label(direction)}, archive split(s) "
                f"{shown(report.archive_spec)}, the query's own pair excluded)")
    views.show_results(backend, response)
    open_match(backend, row, sensor, direction, response)
    return [(sensor, row)] + [(r.sensor, r.row) for r in response.results]


def open_match(backend: Backend, row: int, sensor: str, direction: str, response: SearchResponse) -> None:
    """Where in the two patches the inspected query matches the result the user opens (computed on demand).
    An option is (bundle, direction, query row, result id): its label never changes (see `choose_failure`), and
    another query's results close the map."""
    if not response.results:
        return
    by_option = {(backend.name, direction, row, r.id): r for r in response.results}
    chosen = st.selectbox("Where is the match? Open a result", list(by_option), index=None, key=KEY_MATCH_RESULT,
                          placeholder="pick a result to see its token similarity map",
                          format_func=lambda o: f"#{by_option[o].rank} · {by_option[o].sensor.upper()} · "
                                                f"{shown(by_option[o].pair_id, context='plain')} · "
                                                f"score {by_option[o].score:.3f}")
    if chosen is not None:
        views.show_match(backend, row, sensor, by_option[chosen])


def show_failures(report: EvaluationReport, backend: Backend) -> tuple[str, dict, list[tuple[str, int]]] | None:
    """Failure inspection; returns (direction, direction entry, points to highlight) for the sections below."""
    st.header("Failure inspection")
    bundle_name, table = backend.bundle.name, backend.bundle.table
    scope = choose_failure_scope(report, bundle_name)
    if scope is None:
        return None
    name, direction, by, n = scope
    entry = report.entries()[name]
    direction_entry, rows_match = entry.directions[direction], report.matches_rows(table["pair_id"])
    try:
        worst = worst_queries(direction_entry, by, n, report.archive_rows(table["split"]) if rows_match else None)
    except CsmaeError as error:
        st.error(f"The worst queries cannot be listed: {shown_message(error)}")
        return direction, direction_entry, []
    query = choose_failure(report, backend, worst, f"{name} {direction}") if worst else None
    if query is None:
        st.info("No queries to inspect for this choice.")
        return direction, direction_entry, []
    # only the bundle's own model can be re-run live: its embeddings are the bundle's
    if not (entry.kind == "model" and entry.name == bundle_name and rows_match):
        st.info(f"Only the current bundle's model ({shown(bundle_name)}) can be searched live; "
                f"for {shown(name)} this page shows the numbers only.")
        return direction, direction_entry, [(direction.split("_")[0], query["row"])] if rows_match else []
    return direction, direction_entry, inspect_query(backend, report, direction, query)


def show_projection(backend: Backend, highlight: list[tuple[str, int]]) -> None:
    st.subheader("2-D projection of the embeddings (both sensors)")
    cols = st.columns([1, 3])
    by = cols[0].radio("Colour by", ["sensor", "label"], key=KEY_COLOUR_BY, horizontal=True)
    frame = projection_points(backend.bundle.table, backend.bundle.embeddings, highlight, PROJECTION_CAP)
    colour, domain = "sensor", sorted(frame["sensor"].unique())
    if by == "label":
        label = cols[1].selectbox("Label", list(LABELS_19), key=KEY_COLOUR_LABEL)
        colour, domain = "has label", [f"has {label}", "does not"]
        frame[colour] = [domain[0] if label in labels else domain[1] for labels in frame["label_list"]]
    st.altair_chart(views.projection_chart(frame, colour, domain), width="stretch")
    sampled = "" if len(frame) == 2 * len(backend.bundle.table) else f" ({PROJECTION_CAP:,} random pairs shown)"
    st.caption(f"PCA of the stacked S1 and S2 embeddings{sampled}. Outlined: the inspected query (diamond) "
               "and its live results (circles).")


# ---------------------------------------------------------------- page
def main() -> None:
    st.title("Evaluation")
    st.caption("The committed evaluation of the current bundle, and where its retrieval goes wrong.")
    backend = current_backend()
    if backend is None:
        return
    report = load_report(backend.entry)
    if report is None:
        return
    views.show_protocol(report, report.matches_rows(backend.bundle.table["pair_id"]))
    views.show_summary(report)
    views.show_plots(Path(backend.entry["evaluation"]))
    show_per_class(report)
    inspected = show_failures(report, backend)
    if inspected is not None:
        direction, direction_entry, highlight = inspected
        views.show_confusion(direction, confusion_frame(direction_entry))
        show_projection(backend, highlight)


if __name__ == "__main__":
    main()

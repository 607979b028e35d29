"""Renderers of the Evaluation page (no widgets that change state, no logic: the numbers come from
csmae_core.evaluation's EvaluationReport and inspection helpers, the chips from pages.ui.widgets)."""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from csmae_core.evaluation.projection import top_confusions
from csmae_core.evaluation.report import EvaluationReport
from csmae_core.evaluation.run import BASELINE_DESCRIPTIONS, direction_label
from csmae_core.retrieval.search import Result, SearchResponse
from pages.ui.match_view import match_panel
from pages.ui.resources import Backend, pair_images
from pages.ui.safe_text import shown
from pages.ui.widgets import label_chips

PLOTS = (("precision_at_k.png", "Precision@k of every model and baseline per direction"),
         ("counterpart_ranks.png", "Where each cross-sensor query's own counterpart lands (1 = first)"),
         ("per_class_precision.png", "Per-class precision of the first model"))
COLOURS = ["#e4572e", "#2a6fdb", "#9aa0a6"]  # S1 / S2, or has label / does not
LEGEND = {"shared": ["in the query and the result"], "missing": ["in the query, missing from the result"],
          "extra": ["in the result, not in the query"]}


# ---------------------------------------------------------------- label chips (pages.ui.widgets style)
def chips_markdown(target=st, **labels) -> None:
    """pages.ui.widgets.label_chips of `labels` (shared=, missing=, extra=, plain=), or "no labels"."""
    target.markdown(label_chips(**labels, empty="no labels"), unsafe_allow_html=True)


# ---------------------------------------------------------------- the committed evaluation
def table_height(rows: int) -> int:
    """Pixel height that shows every row of a st.dataframe (capped)."""
    return min(35 * (rows + 1) + 3, 800)


def show_protocol(report: EvaluationReport, rows_match: bool) -> None:
    protocol = report.protocol
    st.markdown(f"**Protocol**: queries from split(s) {shown(protocol.get('queries', '?'))} searched against the "
                f"archive split(s) {shown(protocol.get('archive', '?'))} (each query's own pair left out).")
    cols = st.columns(3)
    cols[0].metric("Queries", str(protocol.get("query_count", "?")))
    cols[1].metric("Archive pairs", str(protocol.get("archive_count", "?")))
    cols[2].metric("Cut-offs k", ", ".join(str(k) for k in report.cutoffs))
    st.markdown("**Command that produced these numbers**")
    st.code(report.command, language="bash", wrap_lines=True)
    with st.expander("Metric definitions"):
        st.code(report.definitions, language="text", wrap_lines=True)
    if not rows_match:
        st.warning("This evaluation was run on a different list of pairs than the current bundle holds: "
                   "the numbers are shown, but queries cannot be re-run live.")


def show_summary(report: EvaluationReport) -> None:
    st.subheader("Retrieval quality in the four directions")
    ks = report.cutoffs
    for tab, k in zip(st.tabs([f"k = {k}" for k in ks]), ks):
        frame = report.summary_frame(k)
        config = {c: st.column_config.NumberColumn(c, format="%.3f") for c in frame.columns[4:]}
        config["Median counterpart rank"] = st.column_config.NumberColumn("Median counterpart rank", format="%.1f")
        tab.dataframe(frame, hide_index=True, column_config=config, placeholder="—", height=table_height(len(frame)))
    lines = [f"- **{shown(name)}** ({shown(report.encoder_of('model', name))}, model "
             f"{shown(str(model.get('model_hash', ''))[:12])}): {shown(model.get('description', ''), 400)}"
             for name, model in report.models.items()]
    lines += [f"- **{shown(entry.name)}** (baseline): {shown(BASELINE_DESCRIPTIONS.get(entry.name, 'baseline'), 400)}"
              for entry in report.entries().values() if entry.kind == "baseline"]
    st.markdown("\n".join(lines))
    st.caption("Directions are query sensor → archive sensor. Counterpart MRR / @1: how often a cross-sensor "
               "query finds its own co-registered patch of the other sensor (cross-sensor directions only).")


def show_plots(folder: Path) -> None:
    st.subheader("Plots")
    for col, (file, caption) in zip(st.columns(len(PLOTS)), PLOTS):
        path = folder / file
        if path.is_file():
            col.image(str(path), caption=caption, width="stretch")
        else:
            col.info(f"Plot {file} is missing from {folder}; re-run the evaluation to create it.")
    st.caption("Click a plot's full-screen button to enlarge it.")


def show_per_class(frame: pd.DataFrame | None) -> None:
    if frame is None:
        st.info("No per-class precision recorded for this entry.")
        return
    config = {c: st.column_config.NumberColumn(c, format="%.3f") for c in frame.columns}
    config["_index"] = st.column_config.TextColumn("Label", width=460)
    st.dataframe(frame, column_config=config, placeholder="— (no query)", height=table_height(len(frame)))
    st.caption("Precision of the results of queries that carry the label: the share of results that carry it too "
               "(empty: no query carries the label).")


# ---------------------------------------------------------------- failure inspection
def show_query(backend: Backend, row: int, sensor: str, evaluated_ap: float, response: SearchResponse, k: int) -> None:
    """The inspected query: its preview, facts, labels, and its AP in the evaluation next to the live run."""
    table = backend.bundle.table
    images = pair_images(backend, row)
    left, right = st.columns([1, 4])
    if images:
        left.image(images[sensor], caption=f"Query · {sensor.upper()}", width="stretch")
    else:
        left.info("No pixels in this bundle's archive.")
    place = " · ".join(shown(table.at[row, c]) for c in ("split", "country", "season") if pd.notna(table.at[row, c]))
    right.markdown(f"**{shown(table.at[row, 'pair_id'])}** (row {row}) · {place}")
    chips_markdown(right, plain=list(table.at[row, "labels"]))
    live = response.metrics or {}
    rank = response.counterpart_rank if response.counterpart_rank is not None else "—"
    cols = right.columns(4)
    cols[0].metric(f"AP@{k} (evaluation)", f"{evaluated_ap:.3f}")
    cols[1].metric(f"AP@{k} (live)", f"{live['AP@k']:.3f}" if "AP@k" in live else "—")
    cols[2].metric(f"P@{k} (live)", f"{live['P@k']:.3f}" if "P@k" in live else "—")
    cols[3].metric("Counterpart rank (live)", str(rank),
                   help="rank of the query's own other-sensor patch among every pair of the bundle (all splits)")


def show_result(result: Result, images: dict | None) -> None:
    if images:
        st.image(images[result.sensor], width="stretch")
    distance = f" · {result.distance_km:,.0f} km" if result.distance_km is not None else ""
    st.caption(f"#{result.rank} · {result.sensor.upper()} · score {result.score:.3f}{distance}  \n"
               f"{shown(result.pair_id)}  \nP {result.precision:.2f} · R {result.recall:.2f}")
    chips_markdown(shared=result.shared, missing=result.missing, extra=result.extra)


def show_results(backend: Backend, response: SearchResponse, per_row: int = 5) -> None:
    if not response.results:
        st.info("The live search returned no results (the archive split may be empty).")
        return
    chips_markdown(**LEGEND)
    results = response.results
    for start in range(0, len(results), per_row):
        for col, result in zip(st.columns(per_row), results[start:start + per_row]):
            with col:
                show_result(result, pair_images(backend, result.row))


def show_match(backend: Backend, row: int, sensor: str, result: Result) -> None:
    """The token similarity maps of the inspected archive query (pair `row`, `sensor`) and one of its results."""
    st.markdown(f"**Where the match is: query row {row} ({sensor.upper()}) and result #{result.rank}**")
    query_record = backend.archive[int(row)].record(sensor) if backend.archive is not None else None
    match_panel(backend, query_record, result)


def show_confusion(direction: str, frame: pd.DataFrame | None) -> None:
    st.subheader(f"Labels retrieved instead of the right ones ({direction_label(direction)})")
    if frame is None:
        st.info("No label confusion recorded for this choice.")
        return
    try:
        st.dataframe(frame.style.background_gradient(cmap="Reds", axis=None), height=table_height(len(frame)))
    except ImportError:  # the gradient needs matplotlib
        st.dataframe(frame, height=table_height(len(frame)))
    pairs = top_confusions(frame.to_numpy(), n=10)
    if pairs:
        st.markdown("\n".join(f"{i}. **{shown(extra)}** retrieved instead of **{shown(missing)}**: {count} times"
                              for i, (missing, extra, count) in enumerate(pairs, start=1)))
    st.caption("Counts over the top-k results of every query: a result that lacks the query's label (row) "
               "while carrying another label (column).")


def projection_chart(frame: pd.DataFrame, colour: str, domain: list[str]) -> alt.LayerChart:
    """Points (csmae_core.evaluation.inspection.projection_points) coloured by column `colour` (first domain
    value orange-red, second blue or grey); query and results outlined in black."""
    tooltip = ["sensor", "row", "pair", "labels", "role"]
    colours = COLOURS[:2] if colour == "sensor" else [COLOURS[0], COLOURS[2]]
    base = alt.Chart(frame.drop(columns="label_list")).mark_circle(size=45, opacity=0.65).encode(
        x=alt.X("x", title="principal component 1"), y=alt.Y("y", title="principal component 2"),
        color=alt.Color(colour, title=colour, scale=alt.Scale(domain=domain, range=colours)),
        tooltip=tooltip)
    marked = frame[frame["role"] != "archive"].drop(columns="label_list")
    highlight = alt.Chart(marked).mark_point(size=260, filled=False, strokeWidth=2.5, color="black").encode(
        x="x", y="y", tooltip=tooltip,
        shape=alt.Shape("role", title="highlight", scale=alt.Scale(domain=["query", "result"],
                                                                   range=["diamond", "circle"])))
    return (base + highlight).properties(height=480)

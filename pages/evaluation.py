"""Evaluation page: the committed evaluation of the current bundle (protocol, four-direction tables with
baselines, plots, per-class precision) and failure inspection (worst queries re-run live with label
differences, label confusions, a 2-D projection of the embeddings). Logic lives in csmae_core."""
from __future__ import annotations

import html
import json
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from csmae_core.errors import CsmaeError
from csmae_core.labels import LABELS_19
from csmae_core.evaluation.projection import pca_2d, protocol_rows, sample_rows, top_confusions, worst_queries
from csmae_core.retrieval.search import Filters, Query, SearchResponse
from pages.ui.resources import Backend, current_backend, pair_images

# widget keys
KEY_CLASS_MODEL = "eval_class_model"
KEY_MODEL = "eval_model"
KEY_DIRECTION = "eval_direction"
KEY_WORST_BY = "eval_worst_by"
KEY_WORST_N = "eval_worst_n"
KEY_FAILURE = "eval_failure"
KEY_COLOUR_BY = "eval_colour_by"
KEY_COLOUR_LABEL = "eval_colour_label"

DIRECTIONS = ("s1_s1", "s2_s2", "s1_s2", "s2_s1")
PLOTS = (("precision_at_k.png", "Precision@k of every model and baseline per direction"),
         ("counterpart_ranks.png", "Where each cross-sensor query's own counterpart lands (1 = first)"),
         ("per_class_precision.png", "Per-class precision of the first model"))
BASELINE_DESCRIPTIONS = {
    "random": "random unit vectors: the floor every model must beat",
    "band_statistics": "per-band mean, std and 10/50/90th percentiles of the input (uni-modal only)",
    "pixel_correlation": "correlation of co-registered S1 VH and S2 B08 on a 12×12 grid (cross-sensor only; "
                         "strong because pairs are co-registered)",
}
CHIP_STYLES = {  # kind: (background, text/border colour, symbol, tooltip)
    "shared": ("#e3f4e6", "#1b7a32", "✓", "in the query and the result"),
    "missing": ("#fde8e7", "#b3261e", "✗", "in the query, missing from the result"),
    "extra": ("#fff1dc", "#a85400", "+", "in the result, not in the query"),
    "neutral": ("#e8eefb", "#1d4aa8", "", "label of the query"),
}
COLOURS = ["#e4572e", "#2a6fdb", "#9aa0a6"]  # S1 / S2, or has label / does not
PROJECTION_CAP = 3000  # pairs per sensor drawn in the projection (plus the highlighted ones)


def arrow(direction: str) -> str:
    return direction.replace("_", "→").upper()


# ---------------------------------------------------------------- label chips (reusable)
def label_chip_html(label: str, kind: str) -> str:
    background, colour, symbol, title = CHIP_STYLES[kind]
    text = html.escape(f"{symbol} {label}".strip())
    return (f'<span title="{html.escape(title)}" style="display:inline-block;margin:0.12em 0.2em 0.12em 0;'
            f"padding:0.05em 0.55em;border-radius:0.9em;border:1px solid {colour};background:{background};"
            f'color:{colour};font-size:0.78em;line-height:1.5">{text}</span>')


def label_chips_html(shared=(), missing=(), extra=(), neutral=()) -> str:
    """HTML chips for label sets: shared (green), missing (red), extra (orange), neutral (blue);
    label text is escaped. Render with st.markdown(..., unsafe_allow_html=True)."""
    chips = [label_chip_html(label, kind) for kind, labels in
             (("shared", shared), ("missing", missing), ("extra", extra), ("neutral", neutral)) for label in labels]
    return "<div>" + "".join(chips) + "</div>" if chips else "<div><em>no labels</em></div>"


def chip_legend_html() -> str:
    return label_chips_html(shared=["shared with the query"], missing=["query label missing"],
                            extra=["extra label"])


# ---------------------------------------------------------------- the committed evaluation
@st.cache_data(show_spinner=False)
def read_metrics(path: str, mtime: float) -> dict:
    return json.loads(Path(path).read_text())


def metrics_problem(metrics) -> str | None:
    """Why a metrics.json cannot be shown, or None."""
    if not isinstance(metrics, dict):
        return "it is not a JSON object"
    if not isinstance(metrics.get("models"), dict) or not metrics["models"]:
        return "it holds no models"
    if any(not isinstance(m, dict) or not isinstance(m.get("directions"), dict) for m in metrics["models"].values()):
        return "a model has no directions"
    if not isinstance(metrics.get("protocol", {}), dict) or not isinstance(metrics.get("baselines", {}), dict):
        return "its protocol or baselines are not objects"
    return None


def load_metrics(entry: dict) -> dict | None:
    """The entry's metrics.json, or None after a clear message in the page."""
    folder = entry.get("evaluation")
    out = folder or f"evaluation/{Path(entry.get('bundle', 'bundle')).name}"
    command = f"python scripts/evaluate.py --bundle {entry.get('bundle', 'BUNDLE')} --out {out}"
    path = Path(folder) / "metrics.json" if folder else None
    if path is None or not path.is_file():
        where = f"no {path}" if path else "the catalogue entry names no evaluation folder"
        st.warning(f"No committed evaluation for this bundle ({where}). Run:")
        st.code(command, language="bash")
        return None
    try:
        metrics = read_metrics(str(path), path.stat().st_mtime)
    except (OSError, ValueError) as error:
        st.error(f"The evaluation {path} could not be read ({error}). Re-create it with:")
        st.code(command, language="bash")
        return None
    problem = metrics_problem(metrics)
    if problem:
        st.error(f"The evaluation {path} cannot be shown: {problem}. Re-create it with:")
        st.code(command, language="bash")
        return None
    return metrics


def all_entries(metrics: dict) -> dict[str, tuple[str, str, dict]]:
    """display name -> (kind, name, directions) for models then baselines."""
    out = {name: ("model", name, model.get("directions", {})) for name, model in metrics["models"].items()}
    for name, directions in metrics.get("baselines", {}).items():
        out[f"{name} (baseline)"] = ("baseline", name, directions if isinstance(directions, dict) else {})
    return out


def cutoffs(metrics: dict) -> list[int]:
    ks = metrics.get("protocol", {}).get("k")
    if not ks:
        first = next(iter(next(iter(metrics["models"].values()))["directions"].values()), {})
        ks = first.get("precision", {}).keys()
    return sorted({int(k) for k in ks}, reverse=True)


def rows_match(metrics: dict, backend: Backend) -> bool:
    """True when the evaluation's bundle rows are the current bundle's rows (same pairs, same order)."""
    pair_ids = metrics.get("protocol", {}).get("pair_ids")
    return pair_ids is None or list(pair_ids) == list(backend.bundle.table["pair_id"])


def show_protocol(metrics: dict, backend: Backend) -> None:
    protocol = metrics.get("protocol", {})
    st.markdown(f"**Protocol**: queries from split(s) `{protocol.get('queries', '?')}` searched against the "
                f"archive split(s) `{protocol.get('archive', '?')}` (each query's own pair left out).")
    cols = st.columns(3)
    cols[0].metric("Queries", str(protocol.get("query_count", "?")))
    cols[1].metric("Archive pairs", str(protocol.get("archive_count", "?")))
    cols[2].metric("Cut-offs k", ", ".join(str(k) for k in cutoffs(metrics)))
    st.markdown("**Command that produced these numbers**")
    st.code(metrics.get("command", "(not recorded)"), language="bash", wrap_lines=True)
    with st.expander("Metric definitions"):
        st.code(metrics.get("definitions", "(not recorded)"), language="text", wrap_lines=True)
    if not rows_match(metrics, backend):
        st.warning("This evaluation was run on a different list of pairs than the current bundle holds: "
                   "the numbers are shown, but queries cannot be re-run live.")


# ---------------------------------------------------------------- tables and plots
def _value(values: dict, key: str, k: int | None = None):
    value = values.get(key)
    if k is not None:
        value = value.get(str(k)) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def encoder_of(metrics: dict, kind: str, name: str) -> str:
    """The encoder family of a model row (files written before families were recorded: CSMAE)."""
    if kind != "model":
        return "baseline"
    model = metrics["models"].get(name, {})
    return str(model.get("encoder") or model.get("family") or "csmae")


def summary_frame(metrics: dict, k: int) -> pd.DataFrame:
    """One row per model/baseline × direction at cut-off k."""
    rows = []
    for kind, name, directions in all_entries(metrics).values():
        for direction in [d for d in DIRECTIONS if d in directions] + [d for d in directions if d not in DIRECTIONS]:
            values = directions[direction]
            rows.append({"Model": name, "Kind": kind, "Encoder": encoder_of(metrics, kind, name),
                         "Direction": arrow(direction),
                         f"P@{k}": _value(values, "precision", k), f"R@{k}": _value(values, "recall", k),
                         f"F1@{k}": _value(values, "f1", k), f"F1@{k} per query": _value(values, "f1_per_query", k),
                         f"mAP@{k}": _value(values, "map", k),
                         "Counterpart MRR": _value(values, "counterpart_mrr"),
                         "Counterpart @1": _value(values, "counterpart_at_1"),
                         "Median counterpart rank": _value(values, "counterpart_median_rank")})
    return pd.DataFrame(rows)


def table_height(rows: int) -> int:
    """Pixel height that shows every row of a st.dataframe (capped)."""
    return min(35 * (rows + 1) + 3, 800)


def show_summary(metrics: dict) -> None:
    st.subheader("Retrieval quality in the four directions")
    ks = cutoffs(metrics)
    for tab, k in zip(st.tabs([f"k = {k}" for k in ks]), ks):
        frame = summary_frame(metrics, k)
        config = {c: st.column_config.NumberColumn(c, format="%.3f") for c in frame.columns[4:]}
        config["Median counterpart rank"] = st.column_config.NumberColumn("Median counterpart rank", format="%.1f")
        tab.dataframe(frame, hide_index=True, column_config=config, placeholder="—", height=table_height(len(frame)))
    lines = [f"- **{name}** ({encoder_of(metrics, 'model', name)}, model `{str(model.get('model_hash', ''))[:12]}`): "
             f"{model.get('description', '')}"
             for name, model in metrics["models"].items()]
    lines += [f"- **{name}** (baseline): {BASELINE_DESCRIPTIONS.get(name, 'baseline')}"
              for name in metrics.get("baselines", {})]
    st.markdown("\n".join(lines))
    st.caption("Directions are query sensor → archive sensor. Counterpart MRR / @1: how often a cross-sensor "
               "query finds its own co-registered patch of the other sensor (cross-sensor directions only).")


def show_plot(target, folder: Path, file: str, caption: str) -> None:
    path = folder / file
    if path.is_file():
        target.image(str(path), caption=caption, width="stretch")
    else:
        target.info(f"Plot {file} is missing from {folder}; re-run the evaluation to create it.")


def show_plots(folder: Path) -> None:
    st.subheader("Plots")
    for col, (file, caption) in zip(st.columns(len(PLOTS)), PLOTS):
        show_plot(col, folder, file, caption)
    st.caption("Click a plot's full-screen button to enlarge it.")


def show_per_class(metrics: dict) -> None:
    st.subheader("Per-class precision")
    entries = all_entries(metrics)
    name = st.selectbox("Model or baseline", list(entries), key=KEY_CLASS_MODEL)
    _, _, directions = entries[name]
    columns = {arrow(d): v.get("per_class_precision") for d, v in directions.items()}
    columns = {d: v for d, v in columns.items() if isinstance(v, list) and len(v) == len(LABELS_19)}
    if not columns:
        st.info("No per-class precision recorded for this entry.")
        return
    frame = pd.DataFrame(columns, index=pd.Index(LABELS_19, name="Label"))
    config = {c: st.column_config.NumberColumn(c, format="%.3f") for c in frame.columns}
    config["_index"] = st.column_config.TextColumn("Label", width=460)
    st.dataframe(frame, column_config=config,
                 placeholder="— (no query)", height=table_height(len(frame)))
    st.caption("Precision of the results of queries that carry the label: the share of results that carry it too "
               "(empty: no query carries the label).")


# ---------------------------------------------------------------- failure inspection
def _keep_valid(key: str, options: list) -> None:
    """Drop a widget's remembered value when it is no longer one of its options."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def choose_failure_scope(metrics: dict, preferred: str | None = None) -> tuple[str, str, str, int] | None:
    """Model (display name), direction, worst-by and how many: the inspection's widgets. The model of the
    bundle in use comes first (it is the one that can be searched live)."""
    entries = all_entries(metrics)
    names = list(entries)
    cols = st.columns([3, 2, 2, 1])
    name = cols[0].selectbox("Model or baseline", names, index=names.index(preferred) if preferred in names else 0,
                             key=KEY_MODEL)
    directions = entries[name][2]
    available = [d for d in DIRECTIONS if d in directions]
    if not available:
        st.info("This entry has no directions to inspect.")
        return None
    _keep_valid(KEY_DIRECTION, available)
    direction = cols[1].selectbox("Direction", available, format_func=arrow, key=KEY_DIRECTION)
    by_options = ["ap", "rank"] if directions[direction].get("counterpart_ranks") else ["ap"]
    _keep_valid(KEY_WORST_BY, by_options)
    k = cutoffs(metrics)[0]
    by = cols[2].radio("Worst by", by_options, key=KEY_WORST_BY, horizontal=True,
                       format_func=lambda b: f"AP@{k}" if b == "ap" else "counterpart rank")
    n = int(cols[3].number_input("How many", min_value=1, max_value=100, value=10, key=KEY_WORST_N))
    return name, direction, by, n


def pair_id_of(metrics: dict, backend: Backend, row: int) -> str:
    pair_ids = metrics.get("protocol", {}).get("pair_ids")
    if pair_ids and 0 <= row < len(pair_ids):
        return str(pair_ids[row])
    table = backend.bundle.table
    return str(table.at[row, "pair_id"]) if 0 <= row < len(table) else f"row {row}"


def worst_frame(metrics: dict, backend: Backend, worst: list[dict], k: int) -> pd.DataFrame:
    table, match = backend.bundle.table, rows_match(metrics, backend)
    return pd.DataFrame([{"Row": q["row"], f"AP@{k}": q["ap"], "Counterpart rank": q["rank"],
                          "Pair": pair_id_of(metrics, backend, q["row"]),
                          "Labels": ", ".join(table.at[q["row"], "labels"]) if match and q["row"] < len(table) else ""}
                         for q in worst])


def archive_rows_of(metrics: dict, backend: Backend) -> np.ndarray | None:
    if not rows_match(metrics, backend):
        return None
    return protocol_rows(metrics.get("protocol", {}).get("archive", "all"), backend.bundle.table["split"])


def archive_splits(metrics: dict) -> frozenset[str] | None:
    spec = str(metrics.get("protocol", {}).get("archive", "all"))
    return None if spec.strip() == "all" else frozenset(s.strip() for s in spec.split(",") if s.strip())


def live_search(backend: Backend, metrics: dict, direction: str, row: int) -> SearchResponse:
    query_sensor, archive_sensor = direction.split("_")
    table = backend.bundle.table
    lon, lat = float(table.at[row, "lon"]), float(table.at[row, "lat"])
    query = Query(embedding=backend.bundle.embeddings[query_sensor][row], sensor=query_sensor,
                  labels=list(table.at[row, "labels"]), lonlat=(lon, lat) if np.isfinite([lon, lat]).all() else None,
                  pair_row=int(row), name=str(table.at[row, "pair_id"]))
    return backend.engine.search(query, targets=[archive_sensor], k=cutoffs(metrics)[0],
                                 filters=Filters(splits=archive_splits(metrics)))


def searchable(metrics: dict, backend: Backend, kind: str, name: str) -> bool:
    """Only the first model whose name is the bundle's can be re-run live (its embeddings are the bundle's)."""
    bundle_name = backend.bundle.manifest.get("name")
    first = next((n for n in metrics["models"] if n == bundle_name), None)
    return kind == "model" and name == first and rows_match(metrics, backend)


def show_query(backend: Backend, row: int, sensor: str, evaluated: dict, response: SearchResponse, k: int) -> None:
    table = backend.bundle.table
    images = pair_images(backend, row)
    left, right = st.columns([1, 4])
    if images:
        left.image(images[sensor], caption=f"Query · {sensor.upper()}", width="stretch")
    else:
        left.info("No pixels in this bundle's archive.")
    place = " · ".join(str(table.at[row, c]) for c in ("split", "country", "season") if pd.notna(table.at[row, c]))
    right.markdown(f"**{html.escape(str(table.at[row, 'pair_id']))}** (row {row}) · {place}")
    right.markdown(label_chips_html(neutral=list(table.at[row, "labels"])), unsafe_allow_html=True)
    live = response.metrics or {}
    rank = response.counterpart_rank if response.counterpart_rank is not None else "—"
    cols = right.columns(4)
    cols[0].metric(f"AP@{k} (evaluation)", f"{evaluated['ap']:.3f}")
    cols[1].metric(f"AP@{k} (live)", f"{live['AP@k']:.3f}" if "AP@k" in live else "—")
    cols[2].metric(f"P@{k} (live)", f"{live['P@k']:.3f}" if "P@k" in live else "—")
    cols[3].metric("Counterpart rank (live)", str(rank),
                   help="rank of the query's own other-sensor patch among every pair of the bundle (all splits)")


def show_result(backend: Backend, result, images: dict | None) -> None:
    if images:
        st.image(images[result.sensor], width="stretch")
    distance = f" · {result.distance_km:,.0f} km" if result.distance_km is not None else ""
    st.caption(f"#{result.rank} · {result.sensor.upper()} · score {result.score:.3f}{distance}  \n"
               f"{result.pair_id}  \nP {result.precision:.2f} · R {result.recall:.2f}")
    st.markdown(label_chips_html(result.shared, result.missing, result.extra), unsafe_allow_html=True)


def show_results(backend: Backend, response: SearchResponse, per_row: int = 5) -> None:
    if not response.results:
        st.info("The live search returned no results (the archive split may be empty).")
        return
    st.markdown(chip_legend_html(), unsafe_allow_html=True)
    results = response.results
    for start in range(0, len(results), per_row):
        for col, result in zip(st.columns(per_row), results[start:start + per_row]):
            with col:
                show_result(backend, result, pair_images(backend, result.row))


def inspect_query(backend: Backend, metrics: dict, direction: str, query: dict) -> list[tuple[str, int]]:
    """Re-run one query live and show it with its results; returns the (sensor, row) points to highlight."""
    row, k = query["row"], cutoffs(metrics)[0]
    try:
        response = live_search(backend, metrics, direction, row)
    except (CsmaeError, KeyError, IndexError) as error:
        st.error(f"The query could not be re-run: {error}")
        return []
    show_query(backend, row, direction.split("_")[0], query, response, k)
    st.markdown(f"**Top {len(response.results)} results** ({arrow(direction)}, archive split(s) "
                f"{metrics.get('protocol', {}).get('archive', 'all')}, the query's own pair excluded)")
    show_results(backend, response)
    return [(direction.split("_")[0], row)] + [(r.sensor, r.row) for r in response.results]


def choose_failure(metrics: dict, backend: Backend, worst: list[dict], k: int) -> dict | None:
    st.dataframe(worst_frame(metrics, backend, worst, k), hide_index=True, placeholder="—",
                 column_config={f"AP@{k}": st.column_config.NumberColumn(format="%.3f")})
    by_row = {q["row"]: q for q in worst}
    _keep_valid(KEY_FAILURE, list(by_row))
    row = st.selectbox("Inspect query", list(by_row), key=KEY_FAILURE,
                       format_func=lambda r: f"row {r} · {pair_id_of(metrics, backend, r)} · AP@{k} "
                                             f"{by_row[r]['ap']:.3f} · counterpart rank {by_row[r]['rank'] or '—'}")
    return by_row.get(row)


def show_failures(metrics: dict, backend: Backend) -> tuple[str, dict, list[tuple[str, int]]] | None:
    """Failure inspection; returns (direction, direction entry, points to highlight) for the sections below."""
    st.header("Failure inspection")
    scope = choose_failure_scope(metrics, backend.bundle.manifest.get("name"))
    if scope is None:
        return None
    name, direction, by, n = scope
    kind, model, directions = all_entries(metrics)[name]
    entry, k = directions[direction], cutoffs(metrics)[0]
    try:
        worst = worst_queries(entry, by, n, archive_rows_of(metrics, backend))
    except CsmaeError as error:
        st.error(f"The worst queries cannot be listed: {error}")
        return direction, entry, []
    query = choose_failure(metrics, backend, worst, k) if worst else None
    if query is None:
        st.info("No queries to inspect for this choice.")
        return direction, entry, []
    if not searchable(metrics, backend, kind, model):
        st.info(f"Only the current bundle's model ({backend.bundle.manifest.get('name')}) can be searched live; "
                f"for {name} this page shows the numbers only.")
        return direction, entry, [(direction.split("_")[0], query["row"])] if rows_match(metrics, backend) else []
    return direction, entry, inspect_query(backend, metrics, direction, query)


def show_confusion(direction: str, entry: dict) -> None:
    st.subheader(f"Labels retrieved instead of the right ones ({arrow(direction)})")
    matrix = entry.get("label_confusion")
    if not isinstance(matrix, list) or len(matrix) != len(LABELS_19):
        st.info("No label confusion recorded for this choice.")
        return
    frame = pd.DataFrame(matrix, index=pd.Index(LABELS_19, name="Query label missing ↓ · retrieved instead →"),
                         columns=list(LABELS_19))
    try:
        st.dataframe(frame.style.background_gradient(cmap="Reds", axis=None), height=table_height(len(frame)))
    except ImportError:  # the gradient needs matplotlib
        st.dataframe(frame, height=table_height(len(frame)))
    pairs = top_confusions(matrix, n=10)
    if pairs:
        st.markdown("\n".join(f"{i}. **{extra}** retrieved instead of **{missing}**: {count} times"
                              for i, (missing, extra, count) in enumerate(pairs, start=1)))
    st.caption("Counts over the top-k results of every query: a result that lacks the query's label (row) "
               "while carrying another label (column).")


# ---------------------------------------------------------------- 2-D projection
def projection_frame(backend: Backend, highlight: list[tuple[str, int]]) -> pd.DataFrame:
    """PCA of both sensors' embeddings (stacked) with a role per point: archive, query or result."""
    table, embeddings = backend.bundle.table, backend.bundle.embeddings
    sensors = [s for s in ("s1", "s2") if s in embeddings]
    rows = sample_rows(len(table), PROJECTION_CAP, keep=[r for _, r in highlight])
    xy = pca_2d(np.concatenate([embeddings[s][rows] for s in sensors]))
    frame = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "sensor": np.repeat([s.upper() for s in sensors], len(rows)),
                          "row": np.tile(rows, len(sensors))})
    frame["pair"] = table["pair_id"].to_numpy()[frame["row"]]
    frame["label_list"] = [list(table.at[r, "labels"]) for r in frame["row"]]
    frame["labels"] = [", ".join(labels) for labels in frame["label_list"]]
    roles = {(s.upper(), r): "result" for s, r in highlight[1:]}
    if highlight:
        roles[(highlight[0][0].upper(), highlight[0][1])] = "query"
    frame["role"] = [roles.get(key, "archive") for key in zip(frame["sensor"], frame["row"])]
    return frame


def projection_chart(frame: pd.DataFrame, colour: str, domain: list[str]) -> alt.LayerChart:
    """Points coloured by `colour` (first domain value orange-red, second blue or grey); query and results
    outlined in black."""
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


def show_projection(backend: Backend, highlight: list[tuple[str, int]]) -> None:
    st.subheader("2-D projection of the embeddings (both sensors)")
    cols = st.columns([1, 3])
    by = cols[0].radio("Colour by", ["sensor", "label"], key=KEY_COLOUR_BY, horizontal=True)
    frame = projection_frame(backend, highlight)
    colour, domain = "sensor", sorted(frame["sensor"].unique())
    if by == "label":
        label = cols[1].selectbox("Label", list(LABELS_19), key=KEY_COLOUR_LABEL)
        colour, domain = "has label", [f"has {label}", "does not"]
        frame[colour] = [domain[0] if label in labels else domain[1] for labels in frame["label_list"]]
    st.altair_chart(projection_chart(frame, colour, domain), width="stretch")
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
    metrics = load_metrics(backend.entry)
    if metrics is None:
        return
    show_protocol(metrics, backend)
    show_summary(metrics)
    show_plots(Path(backend.entry["evaluation"]))
    show_per_class(metrics)
    inspected = show_failures(metrics, backend)
    if inspected is not None:
        direction, entry, highlight = inspected
        show_confusion(direction, entry)
        show_projection(backend, highlight)


if __name__ == "__main__":
    main()

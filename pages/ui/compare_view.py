"""The compare page's rendering: one column per model with its metrics (P@k, AP@k, counterpart rank) and its
top results (thumbnail, sensor, score, label chips against the query's labels); results that both models
found are marked, so agreement and disagreement are visible at a glance."""
from __future__ import annotations

import streamlit as st

from csmae_core.retrieval.encoder_comparison import EncoderAnswer
from csmae_core.retrieval.search import RANK_DEPTH, Result
from pages.ui.results import SENSOR_NAMES, result_image
from pages.ui.safe_text import shown
from pages.ui.widgets import label_chips

THUMBNAIL_PX = 88


def metric_columns(answer: EncoderAnswer) -> None:
    response = answer.response
    columns = st.columns(3)
    metrics = response.metrics or {}
    for column, name in zip(columns, ("P@k", "AP@k")):
        column.metric(name, f"{metrics[name]:.2f}" if name in metrics else "n/a",
                      help="label precision of the top k (share of the results' labels the query has)" if name == "P@k"
                      else "average precision of the ranked top k by label agreement")
    rank = response.counterpart_rank
    shown_rank = str(rank) if rank is not None else f"> {RANK_DEPTH}" if response.counterpart_rank_bounded else "n/a"
    columns[2].metric("Counterpart rank", shown_rank,
                      help="rank of the query's own other-sensor image among that sensor's patches (1 = found first)")


def result_row(entry_json: str, result: Result, in_both: bool) -> None:
    image_column, text_column = st.columns([1, 4], vertical_alignment="center")
    image = result_image(entry_json, result.row, result.sensor)  # the search page's cached preview
    if image is not None:
        image_column.image(image, width=THUMBNAIL_PX)
    both = " · :green-badge[found by both]" if in_both else ""
    text_column.markdown(f"**#{result.rank}** {SENSOR_NAMES[result.sensor]} · score {result.score:.3f}{both}  \n"
                         f"{shown(result.id, 120)}")
    text_column.markdown(label_chips(result.shared, result.missing, result.extra, empty="no labels"),
                         unsafe_allow_html=True)


def answer_column(entry_json: str, answer: EncoderAnswer, common: set[tuple[str, str]]) -> None:
    """One model's column: name, what it searched, metrics and results."""
    st.subheader(shown(answer.name, 120))
    searched = " + ".join(SENSOR_NAMES[t] for t in answer.targets)
    st.caption(f"searched {searched} · {answer.response.elapsed_ms:.0f} ms"
               + (f"  \n{shown(answer.note, 300)}" if answer.note else ""))
    metric_columns(answer)
    if not answer.response.results:
        st.warning("This model returned no result.")
    for result in answer.response.results:
        result_row(entry_json, result, (result.pair_id, result.sensor) in common)


def agreement_caption(answers: list[EncoderAnswer], common: set[tuple[str, str]]) -> None:
    k = max(len(a.response.results) for a in answers)
    st.caption(f"{len(common)} of the top {k} results are found by both models (same pair and sensor).")

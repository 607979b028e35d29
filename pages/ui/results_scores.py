"""Many results: the distribution of their scores (a histogram, by sensor when both were searched) and a
minimum score that hides the results below it in the gallery and on the map (the ranks stay those of the
search: hiding does not re-rank)."""
from __future__ import annotations

import math

import numpy as np
import streamlit as st

from csmae_core.retrieval.search import Result
from pages.ui.results import SENSOR_NAMES

KEY_MIN_SCORE = "min_score"
SCORES_FROM = 11  # with ten results or fewer every score is in view in the gallery: no histogram, no slider
HISTOGRAM_BINS = 30


def score_range(results: list[Result]) -> tuple[float, float]:
    """The slider's range: the lowest and highest score, widened to whole hundredths (never empty)."""
    low = math.floor(min(r.score for r in results) * 100) / 100
    high = math.ceil(max(r.score for r in results) * 100) / 100
    return low, max(high, low + 0.01)


def shown_results(results: list[Result]) -> list[Result]:
    """The results at or above the minimum score, and a line saying how many it hides. Fewer than
    SCORES_FROM results: all of them (no slider)."""
    if len(results) < SCORES_FROM:
        return results
    low, high = score_range(results)
    # a new search has another range: keep the slider's value inside it (the lowest: nothing hidden)
    held = st.session_state.get(KEY_MIN_SCORE)
    if held is None or not low <= held <= high:
        st.session_state[KEY_MIN_SCORE] = low
    histogram, slider = st.columns([3, 2])
    with slider:
        minimum = st.slider("Minimum score", low, high, step=0.01, key=KEY_MIN_SCORE, format="%.2f",
                            help="hide the results scoring below this (in the gallery and on the map)")
        shown = [r for r in results if r.score >= minimum - 1e-9]
        hidden = len(results) - len(shown)
        st.caption(f"{hidden:,} of {len(results):,} results hidden (score below {minimum:.2f})" if hidden
                   else f"all {len(results):,} results shown")
    with histogram:
        st.vega_lite_chart(spec=score_histogram(results, minimum), width="stretch")
    return shown


def score_histogram(results: list[Result], minimum: float) -> dict:
    """A Vega-Lite spec: results per score bin, stacked by sensor, with the minimum score as a rule. Binned
    here (a few dozen rows to send, not one per result) and written as a plain spec (Altair would validate
    it against the whole schema on every rerun)."""
    scores = np.array([r.score for r in results])
    edges = np.histogram_bin_edges(scores, bins=HISTOGRAM_BINS)
    rows = []
    for sensor, name in SENSOR_NAMES.items():
        counts, _ = np.histogram([r.score for r in results if r.sensor == sensor], bins=edges)
        rows += [{"from": float(a), "to": float(b), "sensor": name, "results": int(c)}
                 for a, b, c in zip(edges[:-1], edges[1:], counts) if c]
    colours = {"domain": list(SENSOR_NAMES.values()), "range": ["#1f77b4", "#2ca02c"]}
    return {"height": 160, "layer": [
        {"data": {"values": rows}, "mark": "bar", "encoding": {
            "x": {"field": "from", "bin": {"binned": True}, "type": "quantitative", "title": "score (cosine)"},
            "x2": {"field": "to"},
            "y": {"field": "results", "type": "quantitative", "stack": "zero", "title": "results"},
            "color": {"field": "sensor", "type": "nominal", "title": None, "scale": colours}}},
        {"data": {"values": [{"minimum": minimum}]}, "mark": {"type": "rule", "color": "#d62728", "strokeDash": [4, 3]},
         "encoding": {"x": {"field": "minimum", "type": "quantitative"}}}]}

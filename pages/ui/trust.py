"""The search page's trust panel: how the query compares with the archive it searched (per band, where the
query's median sits among the archive patches' medians; the best score against the archive's usual
nearest-neighbour scores) and a warning whenever the query is out of distribution. The yardsticks are the
core's (csmae_core.retrieval.trust), computed once per catalogue entry from its bundle and archive."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import streamlit as st

from csmae_core.retrieval.trust import ArchiveProfile, TrustReport, archive_profile, assess
from pages.ui.resources import Backend
from pages.ui.results import SENSOR_NAMES
from pages.ui.safe_text import shown_message

KEY_TRUST_OPEN = "trust_details_open"  # the details are built only while their expander is open


@st.cache_resource(show_spinner="Measuring the archive ...")
def archive_yardsticks(entry_json: str, _backend: Backend) -> ArchiveProfile:
    """The archive profile of one catalogue entry (`entry_json` is the cache key; the backend is its own)."""
    return archive_profile(_backend.bundle, _backend.archive)


def trust_panel(backend: Backend, entry_json: str, queries: Sequence[tuple[str, Mapping[str, np.ndarray] | None]],
                top_score: float | None, targets: Sequence[str]) -> None:
    """One report per (sensor, bands) of the query (two for a pair), the warnings shown above the details."""
    profile = archive_yardsticks(entry_json, backend)
    reports = [(sensor, assess(profile, sensor, bands, top_score if index == 0 else None, targets))
               for index, (sensor, bands) in enumerate(queries)]
    warnings = [w for _, report in reports for w in report.warnings]
    for warning in warnings:
        st.warning(f"Out of distribution: {shown_message(warning)}")
    details = st.expander("How this query compares with the archive", key=KEY_TRUST_OPEN, on_change="rerun")
    if details.open:  # built only when open: the browser draws every element on every search
        with details:
            if not warnings:
                st.caption("Every band and the best score sit inside the archive's range.")
            for sensor, report in reports:
                _report_table(sensor, report, profile)


def _report_table(sensor: str, report: TrustReport, profile: ArchiveProfile) -> None:
    if report.bands:
        st.caption(f"{SENSOR_NAMES[sensor]}: the query's median per band and its place among the medians of "
                   f"{len(next(iter(profile.band_medians.values())))} archive patches")
        # a static table: an interactive data grid costs the browser far more to build on every search
        st.table(pd.DataFrame({
            "band": [b.band for b in report.bands],
            "query median": [f"{b.median:.2f}" for b in report.bands],
            "above % of archive": [f"{b.share_below:.1f}" for b in report.bands],
            "archive range": [f"{b.low:.4g} .. {b.high:.4g}" for b in report.bands],
        }).set_index("band"))
    elif report.top_score is None:
        st.caption(f"{SENSOR_NAMES[sensor]}: no pixels of this archive to compare bands with.")
    if report.top_score is not None and report.usual_scores is not None:
        low, middle, high = report.usual_scores
        st.caption(f"Best match scores {report.top_score:.3f}, above the best match of "
                   f"{report.score_share_below:.0f} % of archive patches (theirs: {low:.2f} .. {high:.2f}, "
                   f"median {middle:.2f}).")

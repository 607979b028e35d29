"""Streamlit entry point. For now one page: the embedded demo archive (search comes with the model)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from csmae_core.errors import CsmaeError
from csmae_core.io.packed import PackedArchive
from csmae_core.preview import preview

DEMO_ARCHIVE = Path(__file__).resolve().parent / "assets" / "demo"
TABLE_COLUMNS = ["pair_id", "country", "season", "split", "tile", "labels", "contains_seasonal_snow",
                 "contains_cloud_or_shadow", "s2_processing"]


@st.cache_resource
def load_archive(path: str) -> PackedArchive:
    return PackedArchive(path)


def render_pair(archive: PackedArchive, pair_id: str) -> None:
    pair = archive[archive.index_of(pair_id)]
    left, right = st.columns(2)
    left.image(preview("s2", pair.s2.bands), caption=f"Sentinel-2 true colour - {pair.s2.name}",
               width="stretch")
    right.image(preview("s1", pair.s1.bands), caption=f"Sentinel-1 VV/VH/VV-VH - {pair.s1.name}",
                width="stretch")
    lon, lat = pair.s2.footprint.centroid_wgs84()
    st.caption(f"Labels: {', '.join(pair.labels or ['unknown'])} · centre {lat:.4f} N, {lon:.4f} E")


def main() -> None:
    st.set_page_config(page_title="CSMAE retrieval - demo archive", layout="wide")
    st.title("Sensor-agnostic retrieval: the demo archive")
    try:
        archive = load_archive(str(DEMO_ARCHIVE))
    except CsmaeError as error:
        st.error(f"The demo archive could not be opened: {error}")
        return
    table: pd.DataFrame = archive.table
    counts = st.columns(3)
    counts[0].metric("S1+S2 pairs", len(table))
    counts[1].metric("countries", table["country"].nunique())
    counts[2].metric("tiles", table["tile"].nunique())
    shown = table[TABLE_COLUMNS].assign(labels=table["labels"].map(", ".join))
    st.dataframe(shown, hide_index=True, width="stretch")
    pair_id = st.selectbox("Show a pair", table["pair_id"], key="demo_pair")
    render_pair(archive, pair_id)
    st.caption("Real BigEarthNet data (CDLA-Permissive-1.0), contains modified Copernicus Sentinel data "
               "2017-2018.")


main()

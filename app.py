"""Streamlit entry point: page config and navigation. Pages are thin; heavy objects come from
pages/common.py's cached loaders; all logic lives in csmae_core."""
from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="CSMAE retrieval", page_icon="🛰️", layout="wide")

navigation = st.navigation([
    st.Page("pages/search.py", title="Search", icon="🔎", default=True, url_path="search"),
    st.Page("pages/explorer.py", title="Archive explorer", icon="🗺️", url_path="explorer"),
    st.Page("pages/evaluation.py", title="Evaluation", icon="📊", url_path="evaluation"),
    st.Page("pages/about.py", title="About", icon="ℹ️", url_path="about"),
])
navigation.run()

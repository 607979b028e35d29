"""Streamlit entry point: page config and navigation. Pages are thin; heavy objects come from
pages/ui/resources.py's cached loaders; all logic lives in csmae_core."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="CSMAE retrieval", page_icon=str(Path(__file__).parent / "assets" / "icon.png"),
                   layout="wide")

# The page menu is drawn by pages/ui/resources.py (st.page_link), so that a direct link to a page on a fresh
# server (which Streamlit serves from pages/ without running this file) looks and works the same.
navigation = st.navigation([
    st.Page("pages/search.py", title="Search", icon=":material/search:", default=True, url_path="search"),
    st.Page("pages/explorer.py", title="Archive explorer", icon=":material/map:", url_path="explorer"),
    st.Page("pages/evaluation.py", title="Evaluation", icon=":material/analytics:", url_path="evaluation"),
    st.Page("pages/compare.py", title="Compare encoders", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("pages/about.py", title="About", icon=":material/info:", url_path="about"),
], position="hidden")
navigation.run()

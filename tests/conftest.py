from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
DEMO = ROOT / "assets" / "demo"
V1_S1 = DATA / "v1" / "BigEarthNet-S1-v1.0" / "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48"
V1_S2 = DATA / "v1" / "BigEarthNet-v1.0" / "S2A_MSIL2A_20170613T101031_87_48"
RICO_TIFFS = DATA / "rico-hdl" / "tiffs" / "BigEarthNet"
RICO_S1_NAME = "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_70_48"
RICO_S2_NAME = "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_75_43"


@pytest.fixture(autouse=True)
def torch_threads_kept():
    """The app sets torch's threads for its one-image queries (pages/ui/resources.py); an AppTest runs it in
    this process, and the tests after it must keep torch's own setting (training, archive embedding)."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def names_table() -> pd.DataFrame:
    return pd.read_csv(DATA / "s1_s2_name_country_season.csv")


@pytest.fixture(scope="session")
def demo_archive():
    from csmae_core.io.packed import PackedArchive

    return PackedArchive(DEMO)


def open_expander(at, key: str):
    """The user opens an expander that builds its content only while open (st.expander on_change="rerun"):
    the search page's Filters (pages.ui.state.KEY_FILTERS_OPEN) and trust details (pages.ui.trust)."""
    at.session_state[key] = True
    return at.run()


def open_filters(at):
    return open_expander(at, "filters_open")


def result_cards(at) -> list[str]:
    """The HTML bodies of the search page's result cards (pages/ui/results_gallery.card_html), in the element
    tree's order (the gallery's columns one after another)."""
    return [element.value for element in at.get("html") if "result-card" in element.value]


def summary_metrics(at) -> dict[str, str]:
    """The search page's summary row (pages/search.py summary: P@k ... Search time) as {label: value}."""
    row = next(m.value for m in at.markdown if 'class="search-summary"' in m.value)
    return {html.unescape(label): html.unescape(value)
            for label, value in re.findall(r'data-label="([^"]*)" data-value="([^"]*)"', row)}

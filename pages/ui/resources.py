"""The model catalogue entry chosen in the sidebar and everything a page needs for it, built once per server
(st.cache_resource), plus the page menu and the sidebar."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from csmae_core import Bundle, CsmaeError, EncoderBase, SearchEngine, load_model, open_archive
from csmae_core.catalogue import catalogue_path, read_catalogue
from csmae_core.preview import preview
from pages.ui.safe_text import shown, shown_message, shown_value
from pages.ui.state import KEY_CAME_FROM, KEY_ENTRY, KEY_PAGE
from pages.ui.widgets import PAGE_CSS

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
TORCH_THREADS_ENV = "CSMAE_TORCH_THREADS"
ASSETS = ROOT / "assets"


@st.cache_data
def load_catalogue(path: str) -> list[dict]:
    """The catalogue's entries (csmae_core.catalogue), read once per file."""
    return read_catalogue(path)


@dataclass
class Backend:
    """Everything a page needs for one catalogue entry, built once per server."""

    entry: dict
    encoder: EncoderBase | None
    bundle: Bundle
    engine: SearchEngine
    archive: object | None  # a PairArchive with pixels, or None for metadata-only bundles

    @property
    def name(self) -> str:
        return self.entry["name"]


def torch_threads() -> int:
    """torch's intra-op threads for the app's one-image embeddings: CSMAE_TORCH_THREADS, default 1."""
    value = os.environ.get(TORCH_THREADS_ENV, "1").strip()
    if not value.isdigit() or int(value) < 1:
        raise CsmaeError(f"{TORCH_THREADS_ENV} must be a whole number of threads, 1 or more, not {value!r}; "
                         f"unset it for the default (1)")
    return int(value)


@st.cache_resource(show_spinner="Loading model and index ...")
def load_backend(entry_json: str) -> Backend:
    threads = torch_threads()  # a wrong setting is said before minutes of loading
    entry = json.loads(entry_json)
    encoder = load_model(entry["model"]) if entry.get("model") else None
    bundle = Bundle(entry["bundle"], expected_model_hash=encoder.accepted_hashes if encoder else None,
                    verify=entry.get("verify", True))
    archive = open_archive(entry["archive"]) if entry.get("archive") else None
    if archive is not None and len(archive) != len(bundle.table):
        raise CsmaeError(f"the archive {entry['archive']} holds {len(archive)} pairs but the bundle {len(bundle.table)}")
    backend = Backend(entry, encoder, bundle, SearchEngine(bundle), archive)
    # The app embeds one image per query. With torch's default two intra-op threads, an upload's embedding
    # took 113-176 ms in the running server (2 cores, the browser beside it), 14-16 ms with one; more cores
    # and a larger model may want more: CSMAE_TORCH_THREADS.
    import torch  # loaded with the model already; imported here so that this module stays light

    torch.set_num_threads(threads)
    return backend


PAGES = (("pages/search.py", "Search", ":material/search:"), ("pages/explorer.py", "Archive explorer", ":material/map:"),
         ("pages/evaluation.py", "Evaluation", ":material/analytics:"),
         ("pages/compare.py", "Compare encoders", ":material/compare_arrows:"), ("pages/about.py", "About", ":material/info:"))


def page_menu() -> None:
    """Page config and the sidebar menu, the same whichever way the page was reached; notes which page
    ran before this one (the search page keeps its search when it is reached from another page)."""
    context = get_script_run_ctx()
    st.session_state[KEY_CAME_FROM] = st.session_state.get(KEY_PAGE)
    st.session_state[KEY_PAGE] = context.page_script_hash if context is not None else None
    st.set_page_config(page_title="CSMAE retrieval", page_icon=str(ASSETS / "icon.png"), layout="wide")
    st.html(PAGE_CSS)  # the label chips' and result images' styles (pages/ui/widgets.py), once per page
    with st.sidebar:
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()


def current_backend() -> Backend | None:
    """The backend of the entry chosen in the sidebar; shows a clear error and returns None on failure."""
    page_menu()
    try:
        entries = load_catalogue(str(catalogue_path()))
    except CsmaeError as error:
        st.error(f"The model catalogue could not be read: {shown_message(error)}")
        return None
    names = [e["name"] for e in entries]
    if st.session_state.get(KEY_ENTRY) not in names:
        st.session_state[KEY_ENTRY] = names[0]
    st.sidebar.selectbox("Model", names, key=KEY_ENTRY, help="each model comes with its own index bundle")
    entry = entries[names.index(st.session_state[KEY_ENTRY])]
    try:
        backend = load_backend(json.dumps(entry, sort_keys=True))
    except CsmaeError as error:
        st.error(f"The model or its index could not be loaded: {shown_message(error)}")
        return None
    except Exception as error:  # noqa: BLE001 - a file the core does not yet explain must not take the app down
        log.exception("loading catalogue entry %s failed", entry["name"])
        st.error(f"The model or its index could not be loaded ({type(error).__name__}: {shown_message(error)}); check "
                 f"the files of catalogue entry {shown_value(entry['name'])} or choose another model in the sidebar")
        return None
    render_sidebar(backend)
    return backend


def render_sidebar(backend: Backend) -> None:
    bundle = backend.bundle
    device = backend.encoder.device if backend.encoder else "no model (search by archive patch only)"
    spaces = "" if bundle.cross_sensor else " · S1 and S2 in separate spaces (same-sensor search only)"
    st.sidebar.caption(
        f"**Model** {shown(bundle.model_description, 300)} · hash {shown(bundle.model_hash[:12])}{spaces}  \n"
        f"**Bundle** {shown(bundle.name)} · {len(bundle.table):,} pairs × "
        f"{' + '.join(s.upper() for s in bundle.sensors)} · "
        f"{bundle.spec.kind} index  \n**Device** {shown(device)}")


def pair_images(backend: Backend, row: int) -> dict[str, np.ndarray] | None:
    """S1 and S2 previews (uint8 RGB) of archive pair `row`, or None for a metadata-only bundle."""
    if backend.archive is None:
        return None
    pair = backend.archive[int(row)]
    return {sensor: preview(sensor, pair.record(sensor).bands) for sensor in ("s1", "s2")}

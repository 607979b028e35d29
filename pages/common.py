"""Shared UI plumbing of the pages: the model/bundle catalogue, cached heavy objects (loaded once per
server), offline Leaflet maps, previews as images, session-state keys. No business logic here: that is
csmae_core's."""
from __future__ import annotations

import base64
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import folium
import numpy as np
from branca.element import MacroElement
from jinja2 import Template
import streamlit as st
from PIL import Image

from csmae_core.bundle import Bundle
from csmae_core.encoder import RetrievalEncoder, load_model
from csmae_core.errors import CsmaeError, DataNotFoundError
from csmae_core.io.detect import open_archive
from csmae_core.search import SearchEngine

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
STATIC = "/app/static"  # Streamlit static serving of ROOT/static (server.enableStaticServing)

# session-state keys
KEY_ENTRY = "catalogue_entry"
KEY_QUERY = "query"
KEY_RESPONSE = "response"


def catalogue_path() -> Path:
    """assets/catalogue.json, or the file named by CSMAE_CATALOGUE (e.g. a full-scale bundle)."""
    return Path(os.environ.get("CSMAE_CATALOGUE", ASSETS / "catalogue.json"))


@st.cache_data
def load_catalogue(path: str) -> list[dict]:
    catalogue = Path(path)
    try:
        entries = json.loads(catalogue.read_text())["entries"]
    except FileNotFoundError as error:
        raise DataNotFoundError(f"no catalogue at {catalogue}; set CSMAE_CATALOGUE or restore assets/catalogue.json") from error
    except (ValueError, KeyError, TypeError) as error:
        raise CsmaeError(f"{catalogue} is not a valid catalogue ({type(error).__name__}: {error}); fix the JSON: "
                         f"{_CATALOGUE_FORM}") from error
    check_catalogue(entries, catalogue)
    base = catalogue.parent
    for entry in entries:
        for key in ("model", "bundle", "archive", "evaluation", "card"):
            if entry.get(key):
                entry[key] = str((base / entry[key]).resolve())
    return entries


_CATALOGUE_FORM = ('{"entries": [{"name": ..., "model": ..., "bundle": ..., "archive": ...}]}, paths relative '
                   "to the catalogue (see assets/catalogue.json)")


def check_catalogue(entries, catalogue: Path) -> None:
    """A non-empty list of entries, each with a unique name and a bundle (model, archive: optional)."""
    if not isinstance(entries, list) or not entries:
        raise CsmaeError(f"{catalogue} lists no models; add an entry: {_CATALOGUE_FORM}")
    names = set()
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise CsmaeError(f"{catalogue}: entry {number} is not an object; every entry needs: {_CATALOGUE_FORM}")
        for key in ("name", "bundle"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise CsmaeError(f"{catalogue}: entry {number} ({entry.get('name', 'unnamed')}) lacks {key!r}; "
                                 f"every entry needs 'name' and 'bundle': {_CATALOGUE_FORM}")
        if entry["name"] in names:
            raise CsmaeError(f"{catalogue}: two entries are named {entry['name']!r}; give each a unique name")
        names.add(entry["name"])


@dataclass
class Backend:
    """Everything a page needs for one catalogue entry, built once per server."""

    entry: dict
    encoder: RetrievalEncoder | None
    bundle: Bundle
    engine: SearchEngine
    archive: object | None  # a PairArchive with pixels, or None for metadata-only bundles

    @property
    def name(self) -> str:
        return self.entry["name"]


@st.cache_resource(show_spinner="Loading model and index ...")
def load_backend(entry_json: str) -> Backend:
    entry = json.loads(entry_json)
    encoder = load_model(entry["model"]) if entry.get("model") else None
    bundle = Bundle(entry["bundle"], expected_model_hash=encoder.content_hash if encoder else None,
                    verify=entry.get("verify", True))
    archive = open_archive(entry["archive"]) if entry.get("archive") else None
    if archive is not None and len(archive) != len(bundle.table):
        raise CsmaeError(f"the archive {entry['archive']} holds {len(archive)} pairs but the bundle {len(bundle.table)}")
    return Backend(entry, encoder, bundle, SearchEngine(bundle), archive)


PAGES = (("pages/search.py", "Search", ":material/search:"), ("pages/explorer.py", "Archive explorer", ":material/map:"),
         ("pages/evaluation.py", "Evaluation", ":material/analytics:"), ("pages/about.py", "About", ":material/info:"))


def page_menu() -> None:
    """Page config and the sidebar menu, the same whichever way the page was reached."""
    st.set_page_config(page_title="CSMAE retrieval", page_icon=str(ASSETS / "icon.png"), layout="wide")
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
        st.error(f"The model catalogue could not be read: {error}")
        return None
    names = [e["name"] for e in entries]
    if st.session_state.get(KEY_ENTRY) not in names:
        st.session_state[KEY_ENTRY] = names[0]
    st.sidebar.selectbox("Model", names, key=KEY_ENTRY, help="each model comes with its own index bundle")
    entry = entries[names.index(st.session_state[KEY_ENTRY])]
    try:
        backend = load_backend(json.dumps(entry, sort_keys=True))
    except CsmaeError as error:
        st.error(f"The model or its index could not be loaded: {error}")
        return None
    except Exception as error:  # noqa: BLE001 - a file the core does not yet explain must not take the app down
        log.exception("loading catalogue entry %s failed", entry["name"])
        st.error(f"The model or its index could not be loaded ({type(error).__name__}: {error}); check the files "
                 f"of catalogue entry {entry['name']!r} or choose another model in the sidebar")
        return None
    render_sidebar(backend)
    return backend


def render_sidebar(backend: Backend) -> None:
    manifest = backend.bundle.manifest
    device = backend.encoder.device if backend.encoder else "no model (search by archive patch only)"
    spaces = "" if backend.bundle.cross_sensor else " · S1 and S2 in separate spaces (same-sensor search only)"
    st.sidebar.caption(
        f"**Model** {backend.bundle.model_description} · hash `{backend.bundle.model_hash[:12]}`{spaces}  \n"
        f"**Bundle** {manifest['name']} · {manifest['counts']['pairs']:,} pairs × "
        f"{' + '.join(s.upper() for s in backend.bundle.sensors)} · "
        f"{manifest['index']['spec']['kind']} index  \n**Device** {device}")


# ---------------------------------------------------------------- images
def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(image: np.ndarray) -> str:
    """JPEG data URL (a 120x120 preview is about 5 kB as JPEG, 30 kB as PNG: maps and galleries of
    many patches load faster)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


# ---------------------------------------------------------------- maps that work offline
class OfflineBasemap(MacroElement):
    """Country outlines served by this server, drawn in a pane under every overlay: geographic context
    with no internet (the base tile layers need it)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map) {
            map.getContainer().style.background = "#d9e6f2";
            var pane = map.createPane("basemap");
            pane.style.zIndex = 150;
            pane.style.pointerEvents = "none";
            // parsed once per frame: the map is rebuilt on every rerun, the outlines are not
            window.csmaeBasemap = window.csmaeBasemap ||
                fetch("{{ this.url }}").then(function (r) { return r.json(); });
            window.csmaeBasemap.then(function (data) {
                L.geoJSON(data, {pane: "basemap", interactive: false,
                    style: {color: "#9aa3ad", weight: 0.7, fillColor: "#f3f1ea", fillOpacity: 1}}).addTo(map);
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "OfflineBasemap"
        self.url = f"{STATIC}/basemap/countries-50m.geojson"


def offline_map(location=(50.0, 15.0), zoom_start: int = 4, base_layers: bool = True, **kwargs) -> folium.Map:
    """A folium map whose Leaflet JS/CSS come from this server, with no base tiles by default (the patch
    overlays give the picture); OpenStreetMap / satellite layers can be switched on when online."""
    fmap = folium.Map(location=location, zoom_start=zoom_start, tiles=None, control_scale=True, **kwargs)
    # folium's popups call jQuery; bootstrap and awesome-markers are not used here
    fmap.default_js = [("leaflet", f"{STATIC}/leaflet/leaflet.js"), ("jquery", f"{STATIC}/jquery/jquery.min.js")]
    fmap.default_css = [("leaflet_css", f"{STATIC}/leaflet/leaflet.css")]
    fmap.get_root().header.add_child(folium.Element(
        f"<script>if (window.L) {{ L.Icon.Default.imagePath = '{STATIC}/leaflet/images/'; }}</script>"))
    OfflineBasemap().add_to(fmap)
    if base_layers:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online)", show=False).add_to(fmap)
        folium.TileLayer("https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",
                         attr="Esri World Imagery", name="Satellite (online)", show=False).add_to(fmap)
    return fmap


def local_marker_cluster(**kwargs):
    from folium.plugins import MarkerCluster

    cluster = MarkerCluster(**kwargs)
    cluster.default_js = [("markerclusterjs", f"{STATIC}/leaflet.markercluster/leaflet.markercluster.js")]
    cluster.default_css = [("markerclustercss", f"{STATIC}/leaflet.markercluster/MarkerCluster.css"),
                           ("markerclusterdefaultcss", f"{STATIC}/leaflet.markercluster/MarkerCluster.Default.css")]
    return cluster


# ---------------------------------------------------------------- the current query
@dataclass
class QuerySpec:
    """What the search page searches with; stored in st.session_state[KEY_QUERY].
    kind "archive": bundle row `row`, image of `sensor`; kind "upload": `record` (a PatchRecord)."""

    kind: str
    sensor: str
    row: int | None = None
    record: object | None = None


def set_archive_query(row: int, sensor: str) -> None:
    """Make archive pair `row` (its `sensor` image) the query, e.g. from another page before
    st.switch_page("pages/search.py")."""
    st.session_state[KEY_QUERY] = QuerySpec("archive", sensor, int(row))
    st.session_state.pop(KEY_RESPONSE, None)


def pair_images(backend: Backend, row: int) -> dict[str, np.ndarray] | None:
    """S1 and S2 previews (uint8 RGB) of archive pair `row`, or None for a metadata-only bundle."""
    from csmae_core.preview import preview

    if backend.archive is None:
        return None
    pair = backend.archive[int(row)]
    return {sensor: preview(sensor, pair.record(sensor).bands) for sensor in ("s1", "s2")}


# ---------------------------------------------------------------- label chips
CHIP_COLOURS = {"shared": ("#1b7f3b", "#e3f4e8"), "missing": ("#b42318", "#fdecea"),
                "extra": ("#b54708", "#fff4e5"), "plain": ("#344054", "#f2f4f7")}


def label_chips(shared=(), missing=(), extra=(), plain=()) -> str:
    """HTML chips: shared (green), missing = query label the result lacks (red), extra = result label
    the query lacks (orange), plain (grey, no comparison). Label text is escaped."""
    import html

    chips = []
    for kind, labels in (("shared", shared), ("missing", missing), ("extra", extra), ("plain", plain)):
        colour, background = CHIP_COLOURS[kind]
        sign = {"shared": "✓ ", "missing": "− ", "extra": "+ ", "plain": ""}[kind]
        for label in labels:
            chips.append(f'<span class="chip chip-{kind}" title="{kind}" style="display:inline-block;margin:1px 2px;'
                         f'padding:0 6px;border-radius:9px;font-size:0.72rem;color:{colour};background:{background};'
                         f'border:1px solid {colour}33">{sign}{html.escape(label)}</span>')
    return "".join(chips)

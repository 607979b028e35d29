"""The search page's query inputs: an upload (with a window picker for a raster larger than one patch),
a click on the archive map, a pick from the archive table, or a random pair. Each makes its choice the
query in st.session_state[KEY_QUERY]; reading and checking an upload is the core's (read_upload)."""
from __future__ import annotations

import logging

import folium
import numpy as np
import streamlit as st
from streamlit_folium import st_folium

from csmae_core.bands import PATCH_PIXELS
from csmae_core.errors import CsmaeError
from csmae_core.io.upload import UPLOAD_FORMS, UploadLayout, read_upload, upload_layout
from csmae_core.record import PatchRecord
from csmae_core.retrieval.pair_lookup import archive_centre, map_markers, nearest_pair, pair_listing, pairs_matching
from csmae_core.retrieval.queries import patch_name
from pages.ui.maps import offline_map
from pages.ui.resources import Backend
from pages.ui.results import SENSOR_NAMES
from pages.ui.state import KEY_QUERY, QuerySpec, set_archive_query

log = logging.getLogger(__name__)
KEY_SOURCE, KEY_UPLOAD, KEY_UPLOAD_SENSOR = "query_source", "upload_files", "upload_sensor"
KEY_WINDOW_COL, KEY_WINDOW_ROW = "window_col", "window_row"
KEY_PICK_SENSOR, KEY_TABLE_PICK, KEY_TABLE_FILTER = "pick_sensor", "table_pick", "table_filter"
KEY_UPLOAD_LABELS, KEY_EMBEDDING = "upload_labels", "query_embedding"
QUERY_SOURCES = ("Upload", "Pick on the map", "Archive table", "Random example")
SENSOR_OPTIONS = {"Sentinel-2 (optical)": "s2", "Sentinel-1 (radar)": "s1"}
MAX_MAP_POINTS = 3000
MAX_TABLE_ROWS = 500


def query_input(backend: Backend) -> None:
    """The chosen input, built alone: a segmented choice rather than tabs, so only it is sent to the browser."""
    source = st.segmented_control("Query from", QUERY_SOURCES, default=QUERY_SOURCES[0], key=KEY_SOURCE) \
        or QUERY_SOURCES[0]
    if source != "Upload":
        options = [name for name, sensor in SENSOR_OPTIONS.items() if sensor in backend.bundle.sensors]
        if st.session_state.get(KEY_PICK_SENSOR) not in options:  # e.g. an S2-only model was picked
            st.session_state[KEY_PICK_SENSOR] = options[0]
        st.radio("Image of the archive pair", options, horizontal=True, key=KEY_PICK_SENSOR)
    if source == "Upload":
        upload_tab(backend)
    elif source == "Pick on the map":
        map_tab(backend)
    elif source == "Archive table":
        table_tab(backend)
    elif st.button("Random example", key="random_example"):
        set_archive_query(int(np.random.default_rng().integers(len(backend.bundle.table))), picked_sensor())


def picked_sensor() -> str:
    return SENSOR_OPTIONS[st.session_state.get(KEY_PICK_SENSOR, next(iter(SENSOR_OPTIONS)))]


def pick_archive_pair(row: int) -> None:
    """Archive pair `row` (the picked image) becomes the query unless it already is."""
    current = st.session_state.get(KEY_QUERY)
    if not (current and current.kind == "archive" and current.row == row and current.sensor == picked_sensor()):
        set_archive_query(row, picked_sensor())  # the rest of this run searches with it


# ---------------------------------------------------------------- upload
def upload_tab(backend: Backend) -> None:
    files = st.file_uploader("A Sentinel-1 or Sentinel-2 patch: multi-band GeoTIFF, BigEarthNet band GeoTIFFs, "
                             "or a .zip of one BigEarthNet patch folder", type=["tif", "tiff", "zip"],
                             accept_multiple_files=True, key=KEY_UPLOAD)
    override = st.selectbox("Sensor", ["detect", "s1", "s2"], key=KEY_UPLOAD_SENSOR,
                            format_func=lambda s: {"detect": "detect from the bands", **SENSOR_NAMES}[s])
    if not files:
        return
    if backend.encoder is None:
        st.error("This bundle was loaded without its model, so uploads cannot be embedded.")
        return
    upload = tuple((file.name, file.getvalue()) for file in files)  # handed to the core as they came
    try:
        window = choose_window(upload)
        key = (tuple((name, len(data)) for name, data in upload), window, override)
        current = st.session_state.get(KEY_QUERY)
        if current and current.kind == "upload" and getattr(current, "upload_key", None) == key:
            return  # the same upload: nothing to read again on this rerun
        record = cached_record(upload, window, None if override == "detect" else override)
    except CsmaeError as error:
        st.error(f"The upload could not be used: {error}")
        return
    except Exception as error:  # noqa: BLE001 - a file the core does not yet explain must not take the app down
        log.exception("reading upload %s failed", [name for name, _ in upload])
        st.error(f"The upload could not be read ({type(error).__name__}: {error}); {UPLOAD_FORMS}")
        return
    spec = QuerySpec("upload", record.sensor, record=record)
    spec.upload_key = key
    st.session_state[KEY_QUERY] = spec
    st.session_state.pop(KEY_EMBEDDING, None)
    st.session_state[KEY_UPLOAD_LABELS] = list(record.labels or [])


@st.cache_data(max_entries=8, show_spinner=False)
def cached_layout(upload: tuple[tuple[str, bytes], ...]) -> UploadLayout:
    """Grid size and overview of a single-file upload (cached: the window sliders rerun the page)."""
    return upload_layout(upload)


@st.cache_data(max_entries=16, show_spinner="Reading the upload ...")
def cached_record(upload: tuple[tuple[str, bytes], ...], window, sensor) -> PatchRecord:
    """The upload's PatchRecord (cached per content, window and sensor)."""
    return read_upload(upload, window=window, sensor=sensor)


def choose_window(upload: tuple[tuple[str, bytes], ...]) -> tuple[int, int] | None:
    """For a raster larger than one patch: sliders over an overview with the window drawn on it."""
    if len(upload) != 1:
        return None
    layout = cached_layout(upload)
    if not layout.needs_window:
        return None
    width, height, size = layout.width, layout.height, PATCH_PIXELS
    st.info(f"The raster covers {width} x {height} pixels at 10 m: choose the {size} x {size} window to search with.")
    left, right = st.columns([1, 1])
    col = left.slider("Window column (west edge, pixels)", 0, width - size, (width - size) // 2, key=KEY_WINDOW_COL)
    row = left.slider("Window row (north edge, pixels)", 0, height - size, (height - size) // 2, key=KEY_WINDOW_ROW)
    if layout.overview is not None:
        right.image(draw_window(layout.overview, col, row, width, height), caption="whole upload; red: the window",
                    width="stretch")
    return col, row


def draw_window(overview: np.ndarray, col: int, row: int, width: int, height: int) -> np.ndarray:
    """`overview` (H, W, 3) of a width x height grid with the window at (col, row) outlined in red."""
    image = overview.copy()
    sy, sx = image.shape[0] / height, image.shape[1] / width
    top, left = int(row * sy), int(col * sx)
    bottom = min(image.shape[0] - 1, int((row + PATCH_PIXELS) * sy))
    right = min(image.shape[1] - 1, int((col + PATCH_PIXELS) * sx))
    for y in (top, bottom):
        image[y, left:right + 1] = (255, 0, 0)
    for x in (left, right):
        image[top:bottom + 1, x] = (255, 0, 0)
    return image


# ---------------------------------------------------------------- the archive: map, table
def map_tab(backend: Backend) -> None:
    st.caption("Click near an archive patch: it becomes the query (choose which image above).")
    fmap = offline_map(location=archive_centre(backend.bundle), zoom_start=4)
    markers = map_markers(backend.bundle, MAX_MAP_POINTS)
    for marker in markers.itertuples():
        folium.CircleMarker([marker.lat, marker.lon], radius=5, color="#1f77b4", fill=True, fill_opacity=0.8,
                            tooltip=marker.tooltip).add_to(fmap)
    if len(markers):
        fmap.fit_bounds([[markers["lat"].min(), markers["lon"].min()], [markers["lat"].max(), markers["lon"].max()]])
    with st.container(key="query_map_box"):
        clicked = st_folium(fmap, height=380, use_container_width=True, returned_objects=["last_clicked"],
                            key="query_map")
    point = (clicked or {}).get("last_clicked")
    if point:
        pick_archive_pair(nearest_pair(backend.bundle, point["lng"], point["lat"]))


def table_tab(backend: Backend) -> None:
    bundle = backend.bundle
    rows = pairs_matching(bundle, st.text_input("Filter by name, country or label", key=KEY_TABLE_FILTER))
    listing = pair_listing(bundle, rows[:MAX_TABLE_ROWS])
    st.dataframe(listing, hide_index=True, height=220, width="stretch")
    choice = st.selectbox("Query with pair", [None, *listing.index.tolist()], key=KEY_TABLE_PICK,
                          format_func=lambda r: "choose a pair ..." if r is None else patch_name(bundle, r, "s2"))
    if choice is not None:
        pick_archive_pair(int(choice))

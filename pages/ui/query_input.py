"""The search page's query inputs: an upload (with a window picker for a raster larger than one patch),
a click on the archive map, a pick from the archive table, or a random pair. Each makes its choice the
query in st.session_state[KEY_QUERY] when the choice changes (not on every rerun: the address may have
made another search the query since). Reading and checking an upload is the core's (open_upload): it is
staged once per content (a SHA-256 of names and bytes), and the window slider reads from that copy."""
from __future__ import annotations

import logging

import numpy as np
import streamlit as st

from csmae_core.bands import PATCH_PIXELS
from csmae_core.errors import CsmaeError
from csmae_core.io.upload import UPLOAD_FORMS, OpenedUpload, open_upload
from csmae_core.retrieval.pair_lookup import archive_centre, map_markers, nearest_pair, pair_listing, pairs_matching
from csmae_core.retrieval.queries import patch_name
from pages.ui.address import query_sensors
from pages.ui.examples import KEY_EMBEDDING, query_example_buttons
from pages.ui.maps import Points, offline_map, show_map
from pages.ui.resources import Backend
from pages.ui.results import SENSOR_NAMES
from pages.ui.safe_text import shown, shown_message
from pages.ui.state import KEY_QUERY, KEY_UPLOAD_QUERY, QuerySpec, set_archive_query

log = logging.getLogger(__name__)
KEY_SOURCE, KEY_UPLOAD, KEY_UPLOAD_SENSOR = "query_source", "upload_files", "upload_sensor"
KEY_WINDOW_COL, KEY_WINDOW_ROW = "window_col", "window_row"
KEY_PICK_SENSOR, KEY_TABLE_PICK, KEY_TABLE_FILTER = "pick_sensor", "table_pick", "table_filter"
KEY_UPLOAD_LABELS = "upload_labels"
KEY_OPENED = "upload_opened"      # (Streamlit file ids, OpenedUpload) of the files in the uploader
KEY_LAST_PICK = "last_pick"       # the archive row last picked on the map or in the table
KEY_MAP_CLICK = "map_click_seen"  # the map click already followed
QUERY_SOURCES = ("Upload", "Pick on the map", "Archive table", "Random example")
SENSOR_OPTIONS = {"Sentinel-2 (optical)": "s2", "Sentinel-1 (radar)": "s1", "Both together (S1+S2)": "pair"}
MAX_MAP_POINTS = 3000
MAX_TABLE_ROWS = 500


def query_input(backend: Backend) -> None:
    """The chosen input, built alone: a segmented choice rather than tabs, so only it is sent to the browser."""
    source = st.segmented_control("Query from", QUERY_SOURCES, default=QUERY_SOURCES[0], key=KEY_SOURCE,
                                  on_change=_source_changed) or QUERY_SOURCES[0]
    if source != "Upload":
        options = [name for name, sensor in SENSOR_OPTIONS.items() if sensor in query_sensors(backend.bundle.sensors,
                                                                                   backend.bundle.cross_sensor)]
        if st.session_state.get(KEY_PICK_SENSOR) not in options:  # e.g. an S2-only model was picked
            st.session_state[KEY_PICK_SENSOR] = options[0]
        st.radio("Image of the archive pair", options, horizontal=True, key=KEY_PICK_SENSOR,
                 on_change=_image_changed)
    if source == "Upload":
        upload_tab(backend)
    elif source == "Pick on the map":
        map_tab(backend)
    elif source == "Archive table":
        table_tab(backend)
    elif st.button("Random example", key="random_example"):
        set_archive_query(int(np.random.default_rng().integers(len(backend.bundle.table))), picked_sensor())
    query_example_buttons(backend)


def picked_sensor() -> str:
    return SENSOR_OPTIONS[st.session_state.get(KEY_PICK_SENSOR, next(iter(SENSOR_OPTIONS)))]


def pick_archive_pair(row: int) -> None:
    """Archive pair `row` (the picked image) becomes the query unless it already is."""
    st.session_state[KEY_LAST_PICK] = row
    current = st.session_state.get(KEY_QUERY)
    if not (current and current.kind == "archive" and current.row == row and current.sensor == picked_sensor()):
        set_archive_query(row, picked_sensor())  # the rest of this run searches with it


def _source_changed() -> None:
    """Back on "Upload": the upload held in the uploader is the query again."""
    if st.session_state.get(KEY_SOURCE) == "Upload" and st.session_state.get(KEY_UPLOAD_QUERY) is not None:
        st.session_state[KEY_QUERY] = st.session_state[KEY_UPLOAD_QUERY]


def _image_changed() -> None:
    """Another image of the pair last picked on the map or in the table: it is the query now."""
    source, row = st.session_state.get(KEY_SOURCE), st.session_state.get(KEY_LAST_PICK)
    if source in ("Pick on the map", "Archive table") and row is not None:
        pick_archive_pair(row)


# ---------------------------------------------------------------- upload
def upload_tab(backend: Backend) -> None:
    files = st.file_uploader("A Sentinel-1 or Sentinel-2 patch: multi-band GeoTIFF (ESA, GEE, SNAP or STAC band "
                             "names), band files (BigEarthNet, SSL4EO, Major-TOM, SAFE .jp2), or a .zip of a patch "
                             "folder, of one pair's S1 and S2 folders, or of one GeoTIFF",
                             type=["tif", "tiff", "zip", "jp2"], accept_multiple_files=True, key=KEY_UPLOAD)
    choices = ["detect", "s1", "s2"] + (["pair"] if backend.bundle.cross_sensor else [])
    override = st.selectbox("Sensor", choices, key=KEY_UPLOAD_SENSOR,
                            format_func=lambda s: {"detect": "detect from the bands", **SENSOR_NAMES,
                                                   "pair": "both together (a zip of one pair)"}[s])
    if not files:
        forget_upload()
        return
    if backend.encoder is None:
        st.error("This bundle was loaded without its model, so uploads cannot be embedded.")
        return
    try:
        opened = opened_upload(files)
        window = choose_window(opened)
        key = (opened.key, window, override)
        held = st.session_state.get(KEY_UPLOAD_QUERY)
        if held is not None and held.upload_key == key:
            return  # this upload, window and sensor are read already (and the query unless the address changed it)
        if override == "pair":
            record = opened.read_pair()
        else:
            record = opened.read(window, None if override == "detect" else override)
    except CsmaeError as error:
        drop_upload_query()
        st.error(f"The upload could not be used: {shown_message(error)}")
        return
    except Exception as error:  # noqa: BLE001 - a file the core does not yet explain must not take the app down
        log.exception("reading upload %s failed", [shown(file.name) for file in files])
        drop_upload_query()
        st.error(f"The upload could not be read ({type(error).__name__}: {shown_message(error)}); {UPLOAD_FORMS}")
        return
    spec = QuerySpec("upload", getattr(record, "sensor", "s2"), record=record, upload_key=key)
    st.session_state[KEY_QUERY] = st.session_state[KEY_UPLOAD_QUERY] = spec
    st.session_state.pop(KEY_EMBEDDING, None)
    st.session_state[KEY_UPLOAD_LABELS] = list(record.labels or [])


def opened_upload(files) -> OpenedUpload:
    """The uploader's files checked and staged once: again only when other files were dropped, and kept
    (with what was read of it) when the new drop has the same content."""
    ids = tuple(file.file_id for file in files)
    held = st.session_state.get(KEY_OPENED)
    if held is not None and held[0] == ids:
        return held[1]
    opened = open_upload([(file.name, file.getvalue()) for file in files])  # getvalue: no copy
    if held is not None and held[1].key == opened.key:
        opened.close()
        opened = held[1]
    elif held is not None:
        held[1].close()
    st.session_state[KEY_OPENED] = (ids, opened)
    return opened


def drop_upload_query() -> None:
    """The upload's query is gone (a new drop failed): the page must not keep showing its results."""
    st.session_state.pop(KEY_UPLOAD_QUERY, None)
    if getattr(st.session_state.get(KEY_QUERY), "kind", None) == "upload":
        st.session_state[KEY_QUERY] = None


def forget_upload() -> None:
    """The uploader was emptied: the staged copy of what it held is removed and its query dropped (a
    query set otherwise, e.g. by another page, stays)."""
    held = st.session_state.pop(KEY_OPENED, None)
    if held is None:
        return
    held[1].close()
    if getattr(st.session_state.get(KEY_QUERY), "kind", None) == "upload":
        st.session_state[KEY_QUERY] = None
    st.session_state.pop(KEY_UPLOAD_QUERY, None)


def choose_window(opened: OpenedUpload) -> tuple[int, int] | None:
    """For a raster larger than one patch: sliders over an overview with the window drawn on it."""
    if len(opened.paths) != 1:
        return None
    layout = opened.layout()
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
    elif layout.overview_note:
        right.info(f"No overview: {shown_message(layout.overview_note)}.")
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
    # one script draws every marker (one folium object per marker cost ~250 ms per rerun for 60 of them)
    Points(markers["lat"], markers["lon"], [shown(t, context="html") for t in markers["tooltip"]]).add_to(fmap)
    if len(markers):
        fmap.fit_bounds([[markers["lat"].min(), markers["lon"].min()], [markers["lat"].max(), markers["lon"].max()]])
    with st.container(key="query_map_box"):
        clicked = show_map(fmap, height=380, use_container_width=True, returned_objects=["last_clicked"],
                           key="query_map")
    point = (clicked or {}).get("last_clicked")
    if point and point != st.session_state.get(KEY_MAP_CLICK):  # a new click (the map repeats its last one)
        st.session_state[KEY_MAP_CLICK] = point
        pick_archive_pair(nearest_pair(backend.bundle, point["lng"], point["lat"]))


def table_tab(backend: Backend) -> None:
    bundle = backend.bundle
    rows = pairs_matching(bundle, st.text_input("Filter by name, country or label", key=KEY_TABLE_FILTER))
    listing = pair_listing(bundle, rows[:MAX_TABLE_ROWS])
    st.dataframe(listing, hide_index=True, height=220, width="stretch")
    st.selectbox("Query with pair", [None, *listing.index.tolist()], key=KEY_TABLE_PICK, on_change=_table_picked,
                 format_func=lambda r: "choose a pair ..." if r is None else shown(patch_name(bundle, r, "s2"),
                                                                                  context="plain"))


def _table_picked() -> None:
    if st.session_state.get(KEY_TABLE_PICK) is not None:
        pick_archive_pair(int(st.session_state[KEY_TABLE_PICK]))

"""Search (home page): pick a query (upload, map, archive table, random), choose target sensors, k and
filters, and see the most similar archive patches on a map and in a gallery with label comparison."""
from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import streamlit as st
from streamlit_folium import st_folium

from csmae_core.bands import SENSORS
from csmae_core.errors import CsmaeError
from csmae_core.retrieval.export import results_csv, results_geojson
from csmae_core.geo import haversine_km
from csmae_core.io.upload import UPLOAD_FORMS, MAX_UPLOAD_BYTES, read_upload, upload_overview, upload_raster_size
from csmae_core.labels import LABELS_19
from csmae_core.preview import preview
from csmae_core.retrieval.search import RANK_DEPTH, Filters, Query, SearchResponse, row_footprint
from pages.ui.maps import offline_map
from pages.ui.resources import Backend, current_backend
from pages.ui.state import KEY_QUERY, KEY_RESPONSE, QuerySpec, set_archive_query
from pages.ui.widgets import data_url, label_chips
from pages.results_view import SENSOR_NAMES, gallery, results_map

log = logging.getLogger(__name__)
KEY_UPLOAD, KEY_UPLOAD_SENSOR = "upload_files", "upload_sensor"
KEY_WINDOW_COL, KEY_WINDOW_ROW = "window_col", "window_row"
KEY_PICK_SENSOR, KEY_TABLE_PICK, KEY_TABLE_FILTER = "pick_sensor", "table_pick", "table_filter"
KEY_TARGETS, KEY_K = "targets", "k"
KEY_SPLITS, KEY_COUNTRIES, KEY_SEASONS = "filter_splits", "filter_countries", "filter_seasons"
KEY_SNOW, KEY_CLOUD, KEY_OWN, KEY_RADIUS = "filter_snow", "filter_cloud", "filter_own", "filter_radius"
KEY_UPLOAD_LABELS, KEY_URL_APPLIED, KEY_EMBEDDING = "upload_labels", "url_applied", "query_embedding"
KEY_SOURCE = "query_source"
MAX_MAP_POINTS = 3000
SENSOR_OPTIONS = {"Sentinel-2 (optical)": "s2", "Sentinel-1 (radar)": "s1"}


# ---------------------------------------------------------------- shareable URL
def apply_url(backend: Backend) -> None:
    """?pair=<pair_id>&sensor=s1|s2[&k=10][&targets=s1,s2] restores an archive query (once per session)."""
    if st.session_state.get(KEY_URL_APPLIED):
        return
    st.session_state[KEY_URL_APPLIED] = True
    params = st.query_params
    if "pair" not in params:
        return
    hits = np.flatnonzero(backend.bundle.table["pair_id"].to_numpy() == params["pair"])
    if len(hits) == 0:
        st.warning(f"The shared link names pair {params['pair']!r}, which this archive does not hold.")
        return
    sensors = backend.bundle.sensors
    set_archive_query(int(hits[0]), params["sensor"] if params.get("sensor") in sensors else sensors[-1])
    if params.get("k", "").isdigit():
        st.session_state[KEY_K] = max(1, min(50, int(params["k"])))
    targets = [t for t in params.get("targets", "").split(",") if t in SENSORS]
    if targets:
        st.session_state[KEY_TARGETS] = [SENSOR_NAMES[t] for t in targets]


def update_url(backend: Backend, spec: QuerySpec, k: int, targets: list[str]) -> None:
    if spec.kind != "archive":
        st.query_params.clear()
        return
    st.query_params.update({"pair": backend.bundle.table.at[spec.row, "pair_id"], "sensor": spec.sensor,
                            "k": str(k), "targets": ",".join(targets)})


# ---------------------------------------------------------------- query input
def picked_sensor() -> str:
    return SENSOR_OPTIONS[st.session_state.get(KEY_PICK_SENSOR, next(iter(SENSOR_OPTIONS)))]


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
    contents = upload_contents(files)
    try:
        window = choose_window(contents)
        key = (tuple((name, len(data)) for name, data in contents), window, override)
        current = st.session_state.get(KEY_QUERY)
        if current and current.kind == "upload" and getattr(current, "upload_key", None) == key:
            return  # the same upload: nothing to read again on this rerun
        record = read_contents(contents, window, None if override == "detect" else override)
    except CsmaeError as error:
        st.error(f"The upload could not be used: {error}")
        return
    except Exception as error:  # noqa: BLE001 - a file the core does not yet explain must not take the app down
        log.exception("reading upload %s failed", [name for name, _ in contents])
        st.error(f"The upload could not be read ({type(error).__name__}: {error}); {UPLOAD_FORMS}")
        return
    spec = QuerySpec("upload", record.sensor, record=record)
    spec.upload_key = key
    st.session_state[KEY_QUERY] = spec
    st.session_state.pop(KEY_EMBEDDING, None)
    st.session_state[KEY_UPLOAD_LABELS] = list(record.labels or [])


def upload_contents(files) -> tuple[tuple[str, bytes], ...]:
    """(base name, bytes) of each uploaded file; never a path from the user."""
    contents = []
    for index, file in enumerate(files):
        if file.size > MAX_UPLOAD_BYTES:
            st.error(f"{file.name} is larger than the {MAX_UPLOAD_BYTES // 2**20} MiB upload limit")
            st.stop()
        contents.append((Path(file.name).name.replace("\x00", "") or f"upload-{index}.tif", file.getvalue()))
    return tuple(contents)


def _written(contents, folder: Path) -> list[Path]:
    paths = []
    for name, data in contents:
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


@st.cache_data(max_entries=8, show_spinner=False)
def upload_layout(contents) -> tuple[int, int, np.ndarray | None]:
    """10 m grid size and overview of a single-file upload (cached: sliders rerun the page)."""
    with tempfile.TemporaryDirectory() as folder:
        (path,) = _written(contents, Path(folder))
        width, height = upload_raster_size(path)
        overview = upload_overview(path) if width > 120 or height > 120 else None
    return width, height, overview


@st.cache_data(max_entries=16, show_spinner="Reading the upload ...")
def read_contents(contents, window, sensor):
    """The upload's PatchRecord (cached per content, window and sensor)."""
    with tempfile.TemporaryDirectory() as folder:
        paths = _written(contents, Path(folder))
        return read_upload(paths if len(paths) > 1 else paths[0], window=window, sensor=sensor)


def choose_window(contents) -> tuple[int, int] | None:
    """For a raster larger than one patch: sliders over an overview with the window drawn on it."""
    if len(contents) != 1:
        return None
    width, height, overview = upload_layout(contents)
    if width <= 120 and height <= 120:
        return None
    st.info(f"The raster covers {width} x {height} pixels at 10 m: choose the 120 x 120 window to search with.")
    left, right = st.columns([1, 1])
    col = left.slider("Window column (west edge, pixels)", 0, width - 120, (width - 120) // 2, key=KEY_WINDOW_COL)
    row = left.slider("Window row (north edge, pixels)", 0, height - 120, (height - 120) // 2, key=KEY_WINDOW_ROW)
    if overview is not None:
        right.image(draw_window(overview, col, row, width, height), caption="whole upload; red: the window",
                    width="stretch")
    return col, row


def draw_window(overview: np.ndarray, col: int, row: int, width: int, height: int) -> np.ndarray:
    image = overview.copy()
    sy, sx = image.shape[0] / height, image.shape[1] / width
    top, left = int(row * sy), int(col * sx)
    bottom, right = min(image.shape[0] - 1, int((row + 120) * sy)), min(image.shape[1] - 1, int((col + 120) * sx))
    for y in (top, bottom):
        image[y, left:right + 1] = (255, 0, 0)
    for x in (left, right):
        image[top:bottom + 1, x] = (255, 0, 0)
    return image


def map_tab(backend: Backend) -> None:
    table = backend.bundle.table
    st.caption("Click near an archive patch: it becomes the query (choose which image above).")
    fmap = offline_map(location=(float(table["lat"].mean()), float(table["lon"].mean())), zoom_start=4)
    shown = table.head(MAX_MAP_POINTS)
    for row in shown.itertuples():
        import folium

        folium.CircleMarker([row.lat, row.lon], radius=5, color="#1f77b4", fill=True, fill_opacity=0.8,
                            tooltip=f"{row.pair_id} · {', '.join(row.labels)}").add_to(fmap)
    if len(shown):
        fmap.fit_bounds([[shown["lat"].min(), shown["lon"].min()], [shown["lat"].max(), shown["lon"].max()]])
    with st.container(key="query_map_box"):
        clicked = st_folium(fmap, height=380, use_container_width=True, returned_objects=["last_clicked"],
                            key="query_map")
    point = (clicked or {}).get("last_clicked")
    if point:
        distance = haversine_km(point["lng"], point["lat"], table["lon"].to_numpy(), table["lat"].to_numpy())
        nearest = int(np.nanargmin(distance))
        current = st.session_state.get(KEY_QUERY)
        if not (current and current.kind == "archive" and current.row == nearest and current.sensor == picked_sensor()):
            set_archive_query(nearest, picked_sensor())  # the rest of this run searches with it


def table_tab(backend: Backend) -> None:
    table = backend.bundle.table
    text = st.text_input("Filter by name, country or label", key=KEY_TABLE_FILTER).strip().lower()
    rows = np.arange(len(table))
    if text:
        haystack = (table["pair_id"] + " " + table["country"].fillna("") + " " + table["labels"].map(" ".join)).str.lower()
        rows = np.flatnonzero(haystack.str.contains(text, regex=False).to_numpy())
    shown = table.iloc[rows[:500]]
    st.dataframe(shown[["pair_id", "country", "season", "split"]].assign(labels=shown["labels"].map(", ".join)),
                 hide_index=True, height=220, width="stretch")
    options = [None, *shown.index.tolist()]
    choice = st.selectbox("Query with pair", options, key=KEY_TABLE_PICK,
                          format_func=lambda r: "choose a pair ..." if r is None else table.at[r, "pair_id"])
    if choice is not None:
        current = st.session_state.get(KEY_QUERY)
        if not (current and current.kind == "archive" and current.row == choice and current.sensor == picked_sensor()):
            set_archive_query(int(choice), picked_sensor())


QUERY_SOURCES = ("Upload", "Pick on the map", "Archive table", "Random example")


def query_input(backend: Backend) -> None:
    # A segmented choice rather than tabs: only the chosen input is built and sent to the browser.
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


# ---------------------------------------------------------------- the query
def query_embedding(backend: Backend, spec: QuerySpec) -> np.ndarray:
    """Archive queries reuse the bundle's embedding; uploads are embedded once and kept in the session."""
    if spec.kind == "archive":
        return backend.bundle.embeddings[spec.sensor][spec.row]
    cached = st.session_state.get(KEY_EMBEDDING)
    if cached is None or cached[0] is not spec.record:
        vector = backend.encoder.embed_records([spec.record], spec.sensor)[0]
        st.session_state[KEY_EMBEDDING] = cached = (spec.record, vector)
    return cached[1]


def build_query(backend: Backend, spec: QuerySpec) -> tuple[Query, dict]:
    """The Query for the engine and what the query panel shows."""
    table = backend.bundle.table
    if spec.kind == "archive":
        row = spec.row
        name = table.at[row, "s1_name" if spec.sensor == "s1" else "pair_id"]
        bbox = tuple(float(table.at[row, c]) for c in ("west", "south", "east", "north"))
        pair = backend.archive[row] if backend.archive is not None else None
        image = preview(spec.sensor, pair.record(spec.sensor).bands) if pair else None
        info = {"name": name, "labels": list(table.at[row, "labels"]), "bbox": bbox, "image": image,
                "footprint": row_footprint(table, row), "notes": [], "editable": False,
                "facts": f"{table.at[row, 'country']} · {table.at[row, 'season']} · split {table.at[row, 'split']}"}
        lonlat = (float(table.at[row, "lon"]), float(table.at[row, "lat"]))
        query = Query(query_embedding(backend, spec), spec.sensor, info["labels"], lonlat, row, name)
        return query, info
    record = spec.record
    fp = record.footprint
    info = {"name": record.name, "labels": st.session_state.get(KEY_UPLOAD_LABELS, []), "footprint": fp,
            "bbox": fp.bounds_wgs84() if fp else None, "image": preview(record.sensor, record.bands),
            "notes": record.notes, "editable": True, "facts": "uploaded patch"}
    query = Query(query_embedding(backend, spec), spec.sensor, info["labels"] or None,
                  fp.centroid_wgs84() if fp else None, None, record.name)
    return query, info


def query_panel(spec: QuerySpec, info: dict) -> None:
    st.subheader("Query")
    left, right = st.columns([2, 3])
    if info["image"] is not None:
        left.image(info["image"], caption=f"{SENSOR_NAMES[spec.sensor]} · "
                   f"{'true colour' if spec.sensor == 's2' else 'VV / VH / VV-VH'}", width="stretch")
    with right:
        st.markdown(f"**{info['name']}** · {SENSOR_NAMES[spec.sensor]} · {info['facts']}")
        if info["editable"]:
            st.multiselect("Labels of the upload (optional: enables label comparison)", LABELS_19, key=KEY_UPLOAD_LABELS)
            info["labels"] = st.session_state[KEY_UPLOAD_LABELS]
        else:
            st.markdown(label_chips(plain=info["labels"]) or "_no labels known_", unsafe_allow_html=True)
        if info["bbox"]:
            west, south, east, north = info["bbox"]
            st.caption(f"Footprint {south:.4f}..{north:.4f} N, {west:.4f}..{east:.4f} E")
        else:
            st.caption("Location unknown (no georeference): distances and map placement are unavailable.")
        for note in info["notes"]:
            st.caption(f"Note: {note}")


# ---------------------------------------------------------------- options and results
def search_options(backend: Backend, spec: QuerySpec) -> tuple[list[str], int, Filters]:
    engine = backend.engine
    left, middle = st.columns([2, 1])
    # defaults through session state, which a shared link may already have set
    st.session_state.setdefault(KEY_TARGETS, list(SENSOR_NAMES.values()))
    st.session_state.setdefault(KEY_K, 10)
    if backend.bundle.cross_sensor:
        chosen = left.multiselect("Search in", list(SENSOR_NAMES.values()), key=KEY_TARGETS,
                                  help="cross-sensor retrieval: an S1 query can find S2 patches")
        targets = [s for s, n in SENSOR_NAMES.items() if n in chosen] or list(SENSORS)
    else:  # distances between separately trained S1 and S2 spaces mean nothing
        targets = [spec.sensor]
        left.caption(f"Searching {SENSOR_NAMES[spec.sensor]} only: this model embeds S1 and S2 in separate "
                     "spaces (pick a cross-sensor model in the sidebar to search across sensors)")
    k = middle.slider("Results (k)", 1, 50, key=KEY_K)
    with st.expander("Filters"):
        a, b, c = st.columns(3)
        splits = a.multiselect("Split", engine.values("split"), key=KEY_SPLITS)
        countries = b.multiselect("Country", engine.values("country"), key=KEY_COUNTRIES)
        seasons = c.multiselect("Season", engine.values("season"), key=KEY_SEASONS)
        d, e, f, g = st.columns(4)
        snow = d.checkbox("Exclude seasonal snow", key=KEY_SNOW)
        cloud = e.checkbox("Exclude cloud / shadow", key=KEY_CLOUD)
        own = f.checkbox("Exclude the query's own pair", True, key=KEY_OWN, disabled=spec.kind != "archive")
        radius = g.number_input("Exclude results within (km)", 0.0, 5000.0, 0.0, 5.0, key=KEY_RADIUS)
    filters = Filters(frozenset(splits) or None, frozenset(countries) or None, frozenset(seasons) or None,
                      snow, cloud, own, float(radius))
    return targets, k, filters


def summary(response, spec: QuerySpec, elapsed_ms: float) -> None:
    cells = st.columns(6)
    metrics = response.metrics or {}
    for cell, name in zip(cells, ("P@k", "R@k", "F1@k", "AP@k")):
        cell.metric(name, f"{metrics[name]:.2f}" if name in metrics else "–")
    if response.counterpart_rank is not None:
        cells[4].metric("Counterpart rank", response.counterpart_rank,
                        help="rank of the query's own other-sensor patch among all patches of that sensor")
    elif response.counterpart_rank_bounded:
        cells[4].metric("Counterpart rank", f"> {RANK_DEPTH}")
    else:
        cells[4].metric("Counterpart rank", "–", help="only for archive queries")
    cells[5].metric("Search time", f"{elapsed_ms:.0f} ms")


def exports(backend: Backend, response, info: dict, spec: QuerySpec) -> None:
    table = backend.bundle.table
    footprints = {r.row: row_footprint(table, r.row) for r in response.results}
    query = {"name": info["name"], "sensor": spec.sensor, "footprint": info["footprint"]}
    a, b, c = st.columns([1, 1, 3])
    a.download_button("Download GeoJSON", results_geojson(response, footprints, query), "results.geojson",
                      "application/geo+json", key="download_geojson")
    b.download_button("Download CSV", results_csv(response), "results.csv", "text/csv", key="download_csv")
    if spec.kind == "archive":
        c.caption("Share this search: the page address now holds it (pair, sensor, k, targets).")


def main() -> None:
    backend = current_backend()
    if backend is None:
        st.stop()
    apply_url(backend)
    st.title("Find similar patches across Sentinel-1 and Sentinel-2")
    inputs, panel = st.columns([3, 2], gap="large")
    # Fixed slots, in the same order with or without a query: the results map keeps its place in the page,
    # so its frame (and Leaflet) is built once, before the first search, and only updated afterwards.
    options_box, heading_box, map_box, gallery_box = st.container(), st.container(), st.container(), st.container()
    entry_json = json.dumps(backend.entry, sort_keys=True)
    with inputs:
        query_input(backend)
    spec = st.session_state.get(KEY_QUERY)
    if spec is None:
        panel.info("Upload a patch, click the map, pick a pair from the table, or try a random example.")
        with map_box:
            results_map(backend, entry_json, SearchResponse([], None, None, False, 0.0), None, None)
        return
    started = time.perf_counter()
    try:
        query, info = build_query(backend, spec)
    except (CsmaeError, IndexError, KeyError) as error:
        panel.error(f"This query cannot be used with the current model and bundle: {error}")
        return
    with panel:
        query_panel(spec, info)
    with options_box:
        targets, k, filters = search_options(backend, spec)
    query.labels = info["labels"] or (None if spec.kind == "upload" else [])
    response = backend.engine.search(query, targets, k, filters)
    st.session_state[KEY_RESPONSE] = response
    update_url(backend, spec, k, targets)
    with heading_box:
        st.subheader(f"{len(response.results)} most similar patches")
        if not response.results:
            st.warning("No archive patch passes the filters: relax them.")
            return
        summary(response, spec, (time.perf_counter() - started) * 1000)
    with map_box:
        query_image = data_url(info["image"]) if info["image"] is not None else None
        results_map(backend, entry_json, response, info["bbox"], query_image)
    with gallery_box:
        gallery(entry_json, response, query_name=query.name)
        exports(backend, response, info, spec)

main()

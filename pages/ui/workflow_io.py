"""What a search hands out and takes back: the results (GeoJSON, CSV), the training set (the examples and the
accepted results as CSV, GeoJSON and, where the archive holds pixels, a zip of their GeoTIFFs in the
BigEarthNet v2 layout), and the search session (query, examples, area, filters) as one JSON file that
"Load session" restores. Formats are the core's (csmae_core.retrieval.export / training_set / session)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from csmae_core.bands import SENSORS
from csmae_core.errors import CsmaeError
from csmae_core.retrieval.export import results_csv, results_geojson
from csmae_core.retrieval.feedback import Example
from csmae_core.retrieval.queries import PatchFacts
from csmae_core.retrieval.search import SearchResponse, row_footprint
from csmae_core.retrieval.session import SearchSession, read_session, session_json
from csmae_core.retrieval.training_set import TrainingItem, training_set_csv, training_set_geojson, training_set_zip
from pages.ui.address import MAX_K
from pages.ui.area_input import current_area, set_area
from pages.ui.examples import KEY_EMBEDDING, accepted, current_examples, negative_weight, set_examples
from pages.ui.history import KEY_ADDRESS_NOTE
from pages.ui.resources import Backend
from pages.ui.results import SENSOR_NAMES
from pages.ui.safe_text import shown, shown_message
from pages.ui.state import (KEY_CLOUD, KEY_COUNTRIES, KEY_K, KEY_OWN, KEY_RADIUS, KEY_SEASONS, KEY_SNOW, KEY_SPLITS,
                            KEY_TARGETS, QuerySpec, held_filters, set_archive_query)

KEY_SESSION_FILE = "session_file"
KEY_SESSION_NOTE = "session_note"  # (kind "error" / "info" / "warning", text) of the last load, shown once
KEY_ZIP = "training_zip"           # (items, bytes) of the zip built on request (it reads every patch's pixels)
MAX_ZIP_PAIRS = 100                # ~35 MB of int16 bands before compression: a session holds it in memory


def workflow_downloads(backend: Backend, response: SearchResponse, facts: PatchFacts, spec: QuerySpec) -> None:
    """Results, training set and session downloads, and the session loader, under the gallery."""
    results_downloads(backend, response, facts, spec)
    training_downloads(backend)
    session_controls(backend, spec)


def results_downloads(backend: Backend, response: SearchResponse, facts: PatchFacts, spec: QuerySpec) -> None:
    table, query = backend.bundle.table, {"name": facts.name, "sensor": spec.sensor, "footprint": facts.footprint}

    # made when clicked, not on every rerun: at k = 1,000 the footprints and both files cost ~150 ms
    def geojson() -> str:
        return results_geojson(response, {r.row: row_footprint(table, r.row) for r in response.results}, query)

    a, b, c = st.columns([1, 1, 3])
    a.download_button("Download GeoJSON", geojson, "results.geojson", "application/geo+json", key="download_geojson")
    b.download_button("Download CSV", lambda: results_csv(response), "results.csv", "text/csv", key="download_csv")
    if spec.kind == "archive":
        c.caption("Share this search: the page address now holds it (pair, sensor, k, targets, examples, area).")
    note = st.session_state.get(KEY_ADDRESS_NOTE)
    if note:
        c.caption(note)


# ---------------------------------------------------------------- training set
def training_items() -> list[TrainingItem]:
    """The archive examples (uploads have no archive row: they are not in the set) and the accepted results."""
    items = [TrainingItem(e.row, e.sensor, e.positive, "example") for e in current_examples() if e.row is not None]
    examples = {(i.row, i.sensor) for i in items}
    items += [TrainingItem(row, sensor, True, "result", score) for (row, sensor), score in accepted().items()
              if (row, sensor) not in examples]
    return items


def training_downloads(backend: Backend) -> None:
    items = training_items()
    if not items:
        st.caption("Training set: mark results 'More like this' / 'Less like this' or 'Accept' them to export "
                   "them as a training set.")
        return
    bundle = backend.bundle
    st.markdown(f"**Training set** · {len(items)} patches ({sum(i.role == 'example' for i in items)} examples, "
                f"{sum(i.role == 'result' for i in items)} accepted results)")
    a, b, c = st.columns([1, 1, 3])
    try:
        a.download_button("Training set CSV", training_set_csv(bundle, items), "training_set.csv", "text/csv",
                          key="download_training_csv")
        b.download_button("Training set GeoJSON", training_set_geojson(bundle, items), "training_set.geojson",
                          "application/geo+json", key="download_training_geojson")
    except CsmaeError as error:
        st.error(f"The training set cannot be exported: {shown_message(error)}")
        return
    if backend.archive is None:
        c.caption("No GeoTIFF zip: this bundle's archive has no pixels here.")
        return
    pairs = len({i.row for i in items})
    if pairs > MAX_ZIP_PAIRS:
        c.caption(f"No GeoTIFF zip for {pairs:,} pairs (at most {MAX_ZIP_PAIRS}: the zip is built in the server's "
                  "memory): export the CSV and read the patches from the archive.")
        return
    held = st.session_state.get(KEY_ZIP)
    if held is not None and held[0] != items:  # the set changed: the old zip is not kept in memory
        st.session_state.pop(KEY_ZIP)
        held = None
    if held is not None:
        c.download_button("Training set GeoTIFFs (.zip)", held[1], "training_set.zip", "application/zip",
                          key="download_training_zip")
    elif c.button("Prepare the GeoTIFF zip", key="prepare_training_zip",
                  help="reads every patch's bands and writes them in the BigEarthNet v2 folder layout"):
        try:
            st.session_state[KEY_ZIP] = (items, training_set_zip(bundle, backend.archive, items))
        except CsmaeError as error:
            c.error(f"The GeoTIFF zip could not be made: {shown_message(error)}")
            return
        st.rerun()


# ---------------------------------------------------------------- session
def current_session(backend: Backend, spec: QuerySpec) -> SearchSession:
    """This search as a SearchSession: an archive query by its row, an upload by its embedding."""
    targets = tuple(s for s, n in SENSOR_NAMES.items() if n in (st.session_state.get(KEY_TARGETS) or [])) or SENSORS
    filters = held_filters()
    k = int(st.session_state.get(KEY_K) or 10)
    common = {"examples": current_examples(), "area": current_area(), "filters": filters, "targets": targets,
              "k": k, "negative_weight": negative_weight()}
    if spec.kind == "archive":
        return SearchSession(spec.sensor, row=spec.row, name=f"archive row {spec.row}", **common)
    record = spec.record
    vectors = [v for r, v in st.session_state.get(KEY_EMBEDDING) or [] if r is record or r in _parts(record)]
    embedding = np.mean([v / np.linalg.norm(v) for v in vectors], axis=0) if vectors else None
    return SearchSession(spec.sensor, embedding=None if embedding is None else embedding.tolist(),
                         name=str(getattr(record, "name", "upload")), **common)


def _parts(record) -> tuple:
    return tuple(getattr(record, s) for s in SENSORS if hasattr(record, s))


def session_controls(backend: Backend, spec: QuerySpec | None) -> None:
    """"Save session" (with a query) and "Load session" (also on a fresh page, before any search)."""
    left, right = st.columns([1, 2])
    try:
        text = None if spec is None else session_json(current_session(backend, spec), backend.bundle)
    except (CsmaeError, ValueError) as error:
        left.error(f"This search cannot be saved as a session: {shown_message(error)}")
    else:
        if text is not None:
            left.download_button("Save session", text, "search_session.json", "application/json", key="save_session",
                                 help="the query, its examples, the area of interest, the filters and k as one JSON "
                                      "file")
    right.file_uploader("Load session", type=["json"], key=KEY_SESSION_FILE, on_change=load_session,
                        args=(backend,), help="a session saved with this bundle")
    session_note()


def session_note() -> None:
    """What the last load did or why it failed, shown once."""
    note = st.session_state.pop(KEY_SESSION_NOTE, None)
    if note:
        getattr(st, note[0])(note[1])


def load_session(backend: Backend) -> None:
    """Callback of the session uploader: runs before the page's widgets, so it may set their values."""
    file = st.session_state.get(KEY_SESSION_FILE)
    if file is None:
        return
    try:
        session = read_session(file.getvalue(), backend.bundle, name=f"the session file {shown(file.name, 60, 'plain')}")
    except CsmaeError as error:
        st.session_state[KEY_SESSION_NOTE] = ("error", f"The session was not loaded: {shown_message(error)}")
        return
    notes = apply_session(backend, session)
    st.session_state[KEY_SESSION_NOTE] = ("warning" if notes else "info", "Session loaded" + (
        ": " + "; ".join(notes) if notes else f": {len(session.examples)} examples, "
        f"{'an area of interest' if session.area else 'no area'}, k {session.k}."))


def apply_session(backend: Backend, session: SearchSession) -> list[str]:
    """Restore `session` into the page's state; what could not be restored, in words."""
    notes: list[str] = []
    examples = list(session.examples)
    if session.row is not None:
        set_archive_query(session.row, session.sensor)
    else:  # an upload's pixels are not in the session: its embedding is kept as an example
        examples.insert(0, Example(np.asarray(session.embedding, dtype=np.float32), _example_sensor(session.sensor),
                                   True, session.name))
        notes.append(f"the query was an upload ({shown(session.name, 60)}); its pixels are not in a session, so it is "
                     "kept as a positive example: upload it again or pick a query to search")
    left_out = set_examples(examples, session.negative_weight)
    if left_out:
        notes.append(f"{left_out} example(s) over the limit were left out (the last ones)")
    set_area(session.area, "loaded session")
    engine, filters = backend.engine, session.filters
    for key, column, chosen in ((KEY_SPLITS, "split", filters.splits), (KEY_COUNTRIES, "country", filters.countries),
                                (KEY_SEASONS, "season", filters.seasons)):
        known = engine.values(column)
        st.session_state[key] = [v for v in known if v in (chosen or ())]
        unknown = sorted(set(chosen or ()) - set(known))
        if unknown:
            notes.append(f"{column} {', '.join(shown(u, 40) for u in unknown[:3])} not in this archive (dropped)")
    st.session_state[KEY_SNOW], st.session_state[KEY_CLOUD] = filters.exclude_snow, filters.exclude_cloud
    st.session_state[KEY_OWN], st.session_state[KEY_RADIUS] = filters.exclude_query_pair, filters.min_distance_km
    st.session_state[KEY_K] = min(session.k, MAX_K)
    st.session_state[KEY_TARGETS] = [SENSOR_NAMES[t] for t in session.targets]
    return notes


def _example_sensor(sensor: str) -> str:
    """A pair query is searched as its S2 side (csmae_core.retrieval.queries.pair_query)."""
    return sensor if sensor in SENSORS else "s2"

"""Relevance feedback on the search page: "more like this" / "less like this" on any result or on the current
query (an upload, a map pick, an archive row), the strip of the query's examples, and the query vector they
make (csmae_core.retrieval.feedback: Rocchio's rule). Results can also be accepted into the training set
(pages/ui/workflow_io.py exports it). The examples and accepted results live in this module's session keys."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import streamlit as st

from csmae_core.errors import CsmaeError, InputError
from csmae_core.preview import preview
from csmae_core.record import PatchPair
from csmae_core.retrieval.feedback import DEFAULT_NEGATIVE_WEIGHT, MAX_EXAMPLES, Example, feedback_vector
from csmae_core.retrieval.queries import archive_pair_query, pair_embedding, patch_name
from csmae_core.retrieval.search import Query, Result
from csmae_core.retrieval.session import bundle_identity
from pages.ui.resources import Backend
from pages.ui.results import SENSOR_NAMES, result_image
from pages.ui.safe_text import shown, shown_message
from pages.ui.state import KEY_QUERY, QuerySpec
from pages.ui.widgets import data_url

KEY_EXAMPLES = "query_examples"            # list[Example], in the order they were added
KEY_EXAMPLE_IMAGES = "query_example_images"  # {example name: PNG data URL} for examples outside the archive
KEY_ACCEPTED = "accepted_results"          # {(row, sensor): score} of results accepted into the training set
KEY_NEGATIVE_WEIGHT = "negative_weight"    # the weight of the negatives (slider)
KEY_EMBEDDING = "query_embedding"          # [(record, embedding)] of the upload query (pages/search.py keeps it)
KEY_EXAMPLES_BUNDLE = "examples_bundle"    # the bundle the examples' rows and embeddings belong to
KEY_EXAMPLE_NOTE = "examples_note"         # why an example was refused or the examples cleared, shown once
FEEDBACK_CHOICES = ("More like this", "Less like this", "Accept")
STRIP_COLUMNS = 6
EXAMPLE_LIMIT = MAX_EXAMPLES - 1  # the query itself is one more positive of the core's MAX_EXAMPLES
CHOICE_ICONS = {"More like this": ":material/thumb_up:", "Less like this": ":material/thumb_down:",
                "Accept": ":material/check:"}


# ---------------------------------------------------------------- the examples in the session
def current_examples() -> list[Example]:
    return list(st.session_state.get(KEY_EXAMPLES) or [])


def negative_weight() -> float:
    return float(st.session_state.get(KEY_NEGATIVE_WEIGHT, DEFAULT_NEGATIVE_WEIGHT))


def accepted() -> dict[tuple[int, str], float | None]:
    return dict(st.session_state.get(KEY_ACCEPTED) or {})


def same_patch(a: Example, b: Example) -> bool:
    """Archive examples are the same patch by row and sensor; others (uploads) by name."""
    if a.row is not None or b.row is not None:
        return a.row == b.row and a.sensor == b.sensor
    return a.name == b.name and a.sensor == b.sensor


def set_examples(examples: list[Example], weight: float | None = None, images: dict | None = None) -> int:
    """Replace the examples (a loaded session, a followed address); how many were left out (over the limit)."""
    st.session_state[KEY_EXAMPLES] = list(examples)[:EXAMPLE_LIMIT]
    st.session_state[KEY_EXAMPLE_IMAGES] = dict(images or {})
    if weight is not None:
        st.session_state[KEY_NEGATIVE_WEIGHT] = float(weight)
    return max(0, len(examples) - EXAMPLE_LIMIT)


def put_example(example: Example, image: str | None = None) -> None:
    """`example` added, replacing the same patch's earlier example (a positive turned negative, say)."""
    examples = [e for e in current_examples() if not same_patch(e, example)]
    if len(examples) >= EXAMPLE_LIMIT:
        st.session_state[KEY_EXAMPLE_NOTE] = (f"A query holds at most {EXAMPLE_LIMIT} examples (the query itself is "
                                              "one more): remove one before adding another.")
        return
    st.session_state[KEY_EXAMPLES] = [*examples, example]
    if image is not None:
        st.session_state.setdefault(KEY_EXAMPLE_IMAGES, {})[example.name] = image


def drop_example(example: Example) -> None:
    st.session_state[KEY_EXAMPLES] = [e for e in current_examples() if not same_patch(e, example)]


def clear_examples() -> None:
    st.session_state[KEY_EXAMPLES] = []
    st.session_state[KEY_EXAMPLE_IMAGES] = {}


def archive_example(backend: Backend, row: int, sensor: str, positive: bool, name: str) -> Example:
    """An archive patch as an example; its embedding is the bundle's (no model run)."""
    vector = np.asarray(backend.bundle.embeddings[sensor][int(row)], dtype=np.float32)
    return Example(vector, sensor, positive, name, int(row))


def follow_bundle(backend: Backend) -> None:
    """Examples and accepted results of another bundle (the model was switched in the sidebar) are dropped,
    with a note: their rows name other patches, and their embeddings live in another model's space."""
    identity = bundle_identity(backend.bundle)
    held = st.session_state.get(KEY_EXAMPLES_BUNDLE)
    if held is not None and held != identity and (current_examples() or accepted()):
        clear_examples()
        st.session_state[KEY_ACCEPTED] = {}
        st.session_state[KEY_EXAMPLE_NOTE] = ("The examples and accepted results were cleared: they belonged to "
                                               "another model's bundle.")
    st.session_state[KEY_EXAMPLES_BUNDLE] = identity


def example_role(row: int, sensor: str) -> bool | None:
    """True: a positive example, False: a negative one, None: not an example."""
    for example in current_examples():
        if example.row == row and example.sensor == sensor:
            return example.positive
    return None


# ---------------------------------------------------------------- the query vector
def with_examples(backend: Backend, query: Query) -> Query:
    """`query` with the embedding of the query itself (the first positive) and the examples; unchanged when
    there are none. Examples the model cannot combine (e.g. S1 with S2 in separate spaces) are refused with
    the core's message, and the query is searched alone."""
    follow_bundle(backend)
    examples = [e for e in current_examples() if not _is_query(e, query)]
    if not examples:
        return query
    itself = Example(np.asarray(query.embedding, dtype=np.float32), query.sensor, True, query.name, query.pair_row)
    try:
        vector = feedback_vector([itself, *examples], negative_weight(), backend.bundle.cross_sensor)
    except CsmaeError as error:
        st.error(f"The examples are not used for this search: {shown_message(error)}")
        return query
    return dataclasses.replace(query, embedding=vector)


def _is_query(example: Example, query: Query) -> bool:
    """The query itself kept as a positive example (an archive patch, a pair, an upload) is counted once."""
    vector, own = np.asarray(example.vector).reshape(-1), np.asarray(query.embedding).reshape(-1)
    return example.positive and vector.shape == own.shape and bool(np.allclose(vector, own, atol=1e-6))


# ---------------------------------------------------------------- widgets
def examples_strip(backend: Backend) -> None:
    """The current examples, each with its thumbnail, sensor, name, role and a remove button; the weight of
    the negatives; a clear button. Nothing when there are none."""
    follow_bundle(backend)
    refused = st.session_state.pop(KEY_EXAMPLE_NOTE, None)
    if refused:
        st.warning(refused)
    examples = current_examples()
    if not examples:
        return
    entry_json = _entry_json(backend)
    positives = sum(e.positive for e in examples)
    with st.container(border=True, key="examples_strip"):
        st.markdown(f"**Examples** · {positives} more like this, {len(examples) - positives} less like this "
                    "(the query itself counts as one more positive)")
        cells = st.columns(STRIP_COLUMNS)  # a fixed grid: one example stays a thumbnail, not a banner
        for index, example in enumerate(examples):
            with cells[index % STRIP_COLUMNS]:
                _example_card(entry_json, example, index)
        left, right = st.columns([3, 1])
        if any(not e.positive for e in examples):
            left.slider("Weight of the negatives", 0.0, 1.0, DEFAULT_NEGATIVE_WEIGHT, 0.05, key=KEY_NEGATIVE_WEIGHT,
                        help="how far the query moves away from the mean of the 'less like this' examples")
        right.button("Clear examples", key="clear_examples", on_click=clear_examples, icon=":material/clear_all:")


def _example_card(entry_json: str, example: Example, index: int) -> None:
    image = (result_image(entry_json, example.row, example.sensor) if example.row is not None
             else (st.session_state.get(KEY_EXAMPLE_IMAGES) or {}).get(example.name))
    role = "more like this" if example.positive else "less like this"
    st.markdown(f'<span class="example-card" data-positive="{str(example.positive).lower()}"></span>'
                f"{CHOICE_ICONS[FEEDBACK_CHOICES[0 if example.positive else 1]]} **{role}** · "
                f"{SENSOR_NAMES[example.sensor]}",
                unsafe_allow_html=True)
    if image:
        st.image(image, width="stretch")
    st.caption(shown(example.name or "upload"))
    st.button("Remove", key=f"remove_example_{index}", on_click=drop_example, args=(example,),
              icon=":material/close:")


def _entry_json(backend: Backend) -> str:
    """The cache key pages.ui.results.result_image shares with the page."""
    return json.dumps(backend.entry, sort_keys=True)


def query_example_buttons(backend: Backend) -> None:
    """"Keep as example" for the current query (an upload, a map pick, an archive row): it stays in the
    examples when another query is chosen."""
    follow_bundle(backend)
    spec = st.session_state.get(KEY_QUERY)
    if spec is None:
        return
    left, right = st.columns(2)
    left.button("Query: more like this", key="query_positive", icon=":material/thumb_up:", on_click=_keep_query,
                args=(backend, True), help="keep the current query as a positive example (it stays when you pick "
                                           "another query)")
    right.button("Query: less like this", key="query_negative", icon=":material/thumb_down:", on_click=_keep_query,
                 args=(backend, False), help="keep the current query as a negative example")


def _keep_query(backend: Backend, positive: bool) -> None:
    try:
        example, image = query_example(backend, st.session_state[KEY_QUERY], positive)
    except CsmaeError as error:
        st.session_state[KEY_EXAMPLE_NOTE] = f"The query cannot be an example: {shown_message(error)}"
        return
    put_example(example, image)


def query_example(backend: Backend, spec: QuerySpec, positive: bool) -> tuple[Example, str | None]:
    """The query of `spec` as an example, and its preview for uploads (archive patches show their own).
    A pair (both images together) is searched as its S2 side, so it is an S2 example of that embedding."""
    bundle = backend.bundle
    if spec.kind == "archive":
        if spec.sensor == "pair":
            query = archive_pair_query(bundle, spec.row)
            return Example(query.embedding, "s2", positive, f"{query.name}", None), None
        return archive_example(backend, spec.row, spec.sensor, positive, patch_name(bundle, spec.row, spec.sensor)), None
    record = spec.record
    records = [record.s1, record.s2] if isinstance(record, PatchPair) else [record]
    vectors = [_upload_vector(backend, r) for r in records]
    vector = pair_embedding(*vectors) if len(vectors) == 2 else vectors[0]
    shown_record = records[-1]
    return (Example(np.asarray(vector, np.float32), shown_record.sensor, positive, f"upload {shown_record.name}"),
            data_url(preview(shown_record.sensor, shown_record.bands)))


def _upload_vector(backend: Backend, record) -> np.ndarray:
    """The upload's embedding the page keeps (pages/search.py), or made now."""
    for held, vector in st.session_state.get(KEY_EMBEDDING) or []:
        if held is record:
            return vector
    if backend.encoder is None:
        raise InputError("this bundle was loaded without its model, so the upload cannot be embedded")
    return backend.encoder.embed_records([record], record.sensor)[0]


def feedback_state(result: Result) -> list[str]:
    """The FEEDBACK_CHOICES a result's card shows selected: its role among the examples (a strip's remove
    shows on the card) and whether it is accepted."""
    chosen = []
    role = example_role(result.row, result.sensor)
    if role is not None:
        chosen.append(FEEDBACK_CHOICES[0] if role else FEEDBACK_CHOICES[1])
    if (result.row, result.sensor) in accepted():
        chosen.append(FEEDBACK_CHOICES[2])
    return chosen


def apply_feedback(backend: Backend, result: Result, added: set[str], removed: set[str]) -> None:
    """A card's choices changed: `added` / `removed` FEEDBACK_CHOICES make or drop the result as an example,
    and accept it or take it back."""
    more, less, accept = FEEDBACK_CHOICES
    if more in added or less in added:
        positive = more in added
        put_example(archive_example(backend, result.row, result.sensor, positive, result.id))
    elif more in removed or less in removed:
        drop_example(Example(np.zeros(1, np.float32), result.sensor, True, result.id, result.row))
    if accept in added:
        st.session_state[KEY_ACCEPTED] = {**accepted(), (result.row, result.sensor): result.score}
    elif accept in removed:
        st.session_state[KEY_ACCEPTED] = {k: v for k, v in accepted().items() if k != (result.row, result.sensor)}

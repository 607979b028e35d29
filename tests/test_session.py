"""Search sessions: saved and loaded back whole on the real demo bundle; files from another bundle or with
wrong values are refused with their reason."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from csmae_core.errors import InputError
from csmae_core.retrieval.area import read_area
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.feedback import Example
from csmae_core.retrieval.search import Filters
from csmae_core.retrieval.session import SearchSession, read_session, session_json

BUNDLES = Path(__file__).resolve().parents[1] / "assets" / "bundles"
SQUARE = {"type": "Polygon", "coordinates": [[[10, 45], [16, 45], [16, 50], [10, 50], [10, 45]]]}


@pytest.fixture(scope="module")
def bundle():
    return Bundle(BUNDLES / "demo")


def full_session(bundle) -> SearchSession:
    examples = [Example(bundle.embeddings["s2"][4], "s2", True, "a forest", 4),
                Example(bundle.embeddings["s1"][9], "s1", False, "", 9),
                Example(np.linspace(-1, 1, bundle.dim).astype(np.float32), "s2", True, "upload.tif", None)]
    return SearchSession("s2", 3, None, "query patch", examples, read_area(SQUARE, inside=False),
                         Filters(splits=frozenset({"test"}), countries=frozenset({"Austria", "Serbia"}),
                                 exclude_cloud=True, min_distance_km=25.0), ("s1",), 250, 0.3)


def test_a_session_round_trips(bundle):
    original = full_session(bundle)
    loaded = read_session(session_json(original, bundle), bundle)
    assert (loaded.sensor, loaded.row, loaded.name, loaded.targets, loaded.k, loaded.negative_weight) == (
        "s2", 3, "query patch", ("s1",), 250, 0.3)
    assert loaded.filters == original.filters
    assert loaded.area is not None and not loaded.area.inside and loaded.area.polygon.equals(original.area.polygon)
    assert [(e.sensor, e.positive, e.row, e.name) for e in loaded.examples] == [
        ("s2", True, 4, "a forest"), ("s1", False, 9, ""), ("s2", True, None, "upload.tif")]
    for mine, theirs in zip(loaded.examples, original.examples):
        np.testing.assert_allclose(mine.vector, theirs.vector, atol=1e-7)


def test_an_upload_query_keeps_its_embedding(bundle):
    vector = [float(v) for v in np.asarray(bundle.embeddings["s1"][2])]
    loaded = read_session(session_json(SearchSession("s1", None, vector, "mine.tif"), bundle), bundle)
    assert loaded.row is None and np.allclose(loaded.embedding, vector)


def test_a_session_of_another_bundle_is_refused(bundle):
    text = session_json(full_session(bundle), bundle)
    with pytest.raises(InputError, match="belongs to bundle 'CSMAE demo.*pick that bundle"):
        read_session(text, Bundle(BUNDLES / "cmid-demo"))


def edited(bundle, change) -> str:
    data = json.loads(session_json(full_session(bundle), bundle))
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="something else"), "not a search session of this app"),
    (lambda d: d.update(version=7), "format version 7"),
    (lambda d: d["query"].update(row=60), "row 60 is not a row of this bundle"),
    (lambda d: d["query"].update(row="3; rm -rf /"), "is not a row of this bundle"),
    (lambda d: d["query"].update(row=None, embedding=[0.1, 0.2]), "list of 192 finite numbers"),
    (lambda d: d["query"].update(row=None), "neither an archive row nor an embedding"),
    (lambda d: d["query"].update(sensor="s3"), "sensor 's3'"),
    (lambda d: d["filters"].update(exclude_snow="yes"), "filter exclude_snow has a value of the wrong kind"),
    (lambda d: d["filters"].update(min_distance_km=-5), "filter min_distance_km"),
    (lambda d: d["filters"].update(__class__="x"), "unknown filter(s) __class__"),
    (lambda d: d.update(k=5000), "k must be a whole number from 1 to 1000"),
    (lambda d: d.update(negative_weight=2), "negative_weight must be between 0 and 1"),
    (lambda d: d.update(area={"type": "Point", "coordinates": [1, 2]}), "not a polygon"),
    (lambda d: d["examples"].append({"sensor": "s2"}), "neither a row nor an embedding"),
])
def test_wrong_values_are_refused_with_their_reason(bundle, change, message):
    with pytest.raises(InputError) as error:
        read_session(edited(bundle, change), bundle, name="session.json")
    assert message in str(error.value) and "session.json" in str(error.value)


def test_not_json_is_refused(bundle):
    with pytest.raises(InputError, match="is not JSON"):
        read_session("{broken", bundle)
    with pytest.raises(InputError, match="finite numbers"):  # Python's json reads NaN: refused all the same
        read_session(edited(bundle, lambda d: d["query"].update(row=None, embedding=[float("nan")] * 192)), bundle)


def test_a_pair_query_both_images_together_round_trips_and_an_example_may_not_be_one(bundle):
    loaded = read_session(session_json(SearchSession("pair", 5), bundle), bundle)
    assert (loaded.sensor, loaded.row) == ("pair", 5)
    document = json.loads(session_json(SearchSession("s2", 5, examples=[
        Example(bundle.embeddings["s2"][4], "s2", True, "", 4)]), bundle))
    document["examples"][0]["sensor"] = "pair"
    with pytest.raises(InputError, match="sensor 'pair' is not one of s1, s2"):
        read_session(json.dumps(document), bundle)

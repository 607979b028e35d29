"""A search session saved as one JSON file and loaded again: the bundle it belongs to, the query (an
archive patch, or an upload's embedding), its examples, the area of interest, the filters and k.

A session names its bundle by the bundle's name, creation time and model hash; loading it with another
bundle is refused (its rows would point at other patches). The file is data only: numbers, names and
GeoJSON, each checked on the way in; nothing in it is executed.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields

import numpy as np

from csmae_core.bands import SENSORS
from csmae_core.errors import InputError
from csmae_core.retrieval.area import Area, read_area
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.feedback import Example
from csmae_core.retrieval.json_input import json_object
from csmae_core.retrieval.search import Filters

FORMAT = "csmae-search-session"
VERSION = 1
MAX_SESSION_BYTES = 8 * 2**20
MAX_K = 1000
QUERY_SENSORS = (*SENSORS, "pair")  # a query may be both images of a pair searched together


@dataclass
class SearchSession:
    sensor: str                                  # the query's sensor, or "pair" (S1 and S2 together)
    row: int | None = None                       # archive query: its bundle row
    embedding: list[float] | None = None         # upload query: its embedding
    name: str = "query"
    examples: list[Example] = field(default_factory=list)
    area: Area | None = None
    filters: Filters = field(default_factory=Filters)
    targets: tuple[str, ...] = SENSORS
    k: int = 10
    negative_weight: float = 0.5


def filter_fields() -> list:
    """The column and distance filters; the area of interest is saved on its own (as GeoJSON)."""
    return [f for f in fields(Filters) if f.name != "area"]


def bundle_identity(bundle: Bundle) -> dict[str, str]:
    return {"name": bundle.name, "created": bundle.created, "model_hash": bundle.model_hash}


def session_json(session: SearchSession, bundle: Bundle) -> str:
    filters = {f.name: _plain(getattr(session.filters, f.name)) for f in filter_fields()}
    examples = [{"sensor": e.sensor, "positive": e.positive, "name": e.name, "row": e.row,
                 "embedding": None if e.row is not None else np.asarray(e.vector, dtype=float).tolist()}
                for e in session.examples]
    return json.dumps({"format": FORMAT, "version": VERSION, "bundle": bundle_identity(bundle),
                       "query": {"sensor": session.sensor, "row": session.row, "embedding": session.embedding,
                                 "name": session.name},
                       "examples": examples, "area": session.area.to_geojson() if session.area else None,
                       "filters": filters, "targets": list(session.targets), "k": session.k,
                       "negative_weight": session.negative_weight}, indent=1)


def _plain(value):
    return sorted(value) if isinstance(value, (set, frozenset)) else value


def read_session(text: str | bytes, bundle: Bundle, name: str = "the session file") -> SearchSession:
    """The session in `text`, checked against `bundle`; every problem is an InputError naming it."""
    data = _document(text, name)
    if data.get("bundle") != bundle_identity(bundle):
        saved = data.get("bundle") or {}
        raise InputError(f"{name} belongs to bundle {str(saved.get('name'))[:80]!r} (created "
                         f"{str(saved.get('created'))[:40]}), not to {bundle.name!r}: pick that bundle in the "
                         "sidebar first, then load the session")
    query = _mapping(data.get("query"), "query", name)
    sensor = _sensor(query.get("sensor"), name, QUERY_SENSORS)
    row = _row(query.get("row"), bundle, name)
    embedding = _vector(query.get("embedding"), bundle.dim, name) if row is None else None
    if row is None and embedding is None:
        raise InputError(f"{name} has a query with neither an archive row nor an embedding; save the session again")
    examples = [_example(e, bundle, name) for e in _list(data.get("examples"), "examples", name)]
    area = None
    if data.get("area") is not None:
        keep = _mapping(data["area"], "area", name).get("properties", {}) or {}
        area = read_area(data["area"], inside=keep.get("keep") != "outside", name=f"the area in {name}")
    return SearchSession(sensor, row, embedding, str(query.get("name") or "query")[:200], examples, area,
                         _filters(data.get("filters"), name), _targets(data.get("targets"), name),
                         _k(data.get("k"), name), _weight(data.get("negative_weight"), name))


def _document(text: str | bytes, name: str) -> dict:
    data = json_object(text, name, MAX_SESSION_BYTES, "JSON", "load a session saved by this app")
    if data.get("format") != FORMAT:
        raise InputError(f"{name} is not a search session of this app (no \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise InputError(f"{name} is a session of format version {str(data.get('version'))[:20]}; this app reads "
                         f"version {VERSION}")
    return data


def _mapping(value, what: str, name: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{name}: {what} must be an object")
    return value


def _list(value, what: str, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{name}: {what} must be a list")
    return value


def _sensor(value, name: str, allowed: tuple[str, ...] = SENSORS) -> str:
    if value not in allowed:
        raise InputError(f"{name}: sensor {str(value)[:20]!r} is not one of {', '.join(allowed)}")
    return value


def _row(value, bundle: Bundle, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(bundle.table):
        raise InputError(f"{name}: row {str(value)[:20]} is not a row of this bundle (0..{len(bundle.table) - 1})")
    return value


def _vector(value, dim: int, name: str) -> list[float] | None:
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == dim and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok:
        raise InputError(f"{name}: an embedding must be a list of {dim} finite numbers (this bundle's length)")
    return [float(v) for v in value]


def _example(value, bundle: Bundle, name: str) -> Example:
    item = _mapping(value, "an example", name)
    sensor, row = _sensor(item.get("sensor"), name), _row(item.get("row"), bundle, name)
    vector = bundle.embeddings[sensor][row] if row is not None else _vector(item.get("embedding"), bundle.dim, name)
    if vector is None:
        raise InputError(f"{name}: an example has neither a row nor an embedding")
    return Example(np.asarray(vector, dtype=np.float32), sensor, item.get("positive") is not False,
                   str(item.get("name") or "")[:200], row)


def _filters(value, name: str) -> Filters:
    given = _mapping(value or {}, "filters", name)
    known = {f.name: f for f in filter_fields()}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InputError(f"{name}: unknown filter(s) {', '.join(str(u)[:40] for u in unknown[:5])}")
    values = {key: _filter_value(key, raw, known[key].default, name) for key, raw in given.items()}
    return Filters(**values)


def _filter_value(key: str, raw, default, name: str):
    """`raw` checked against the kind of the filter's default: a flag, a distance, or a set of names."""
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
    elif isinstance(default, float):
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw) and raw >= 0:
            return float(raw)
    elif raw is None:
        return None
    elif isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return frozenset(raw)
    raise InputError(f"{name}: filter {key} has a value of the wrong kind ({str(raw)[:40]})")


def _targets(value, name: str) -> tuple[str, ...]:
    targets = tuple(_sensor(v, name) for v in _list(value, "targets", name)) or SENSORS
    return tuple(dict.fromkeys(targets))


def _k(value, name: str) -> int:
    if value is None:
        return 10
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        raise InputError(f"{name}: k must be a whole number from 1 to {MAX_K}, not {str(value)[:20]}")
    return value


def _weight(value, name: str) -> float:
    if value is None:
        return 0.5
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InputError(f"{name}: negative_weight must be between 0 and 1, not {str(value)[:20]}")
    return float(value)

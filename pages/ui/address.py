"""The search page's address: `?pair=<pair id>&sensor=s1|s2|pair&k=<1..1000>&targets=s1,s2` and, for a
search with examples or an area of interest, `&examples=s2:<pair id>,-s1:<pair id>` (archive patches; a
leading `-`: "less like this"), `&weight=<0..1>` (of the negatives) and `&area=<GeoJSON geometry>&keep=
inside|outside` (only when the polygon is small enough for an address), parsed into the search it names
(or none) and one list of problems, and a search written back as parameters. Pure Python (no streamlit):
the page hands in the query parameters, the archive's sensors and a pair lookup.

A bad value never stops the page: it is named in a problem (quoted, cut and escaped by
pages.ui.safe_text when shown) and replaced by its default (k 10, the archive's last sensor, every
sensor it holds as targets); an unknown or malformed pair names no search."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from csmae_core.errors import CsmaeError
from csmae_core.retrieval.area import Area, read_area
from csmae_core.retrieval.feedback import DEFAULT_NEGATIVE_WEIGHT, MAX_EXAMPLES
from pages.ui.safe_text import shown_message

DEFAULT_K, MAX_K = 10, 1000
MAX_PAIR_CHARS = 200   # pair ids are ~60 characters; longer values are not looked up
MAX_AREA_CHARS = 2000  # a longer polygon is not put in an address (browsers and servers cut long URLs)
AREA_DECIMALS = 5      # ~1 m: enough for an area of interest, short in an address
_DIGITS = re.compile(r"[0-9]{1,6}")  # ASCII digits only: str.isdigit() also accepts '²', which int() refuses
_WEIGHT = re.compile(r"(0(\.[0-9]{1,6})?|1(\.0{1,6})?)")
PARAMETERS = ("pair", "sensor", "k", "targets", "examples", "weight", "area", "keep")
LINK_EXAMPLES = MAX_EXAMPLES - 1  # the query itself is one more positive
SENSOR_LABELS = {"s1": "S1", "s2": "S2", "pair": "S1+S2"}


@dataclass(frozen=True)
class Search:
    """An archive search the address names: pair `row` of the bundle, the image of `sensor`."""

    pair_id: str
    row: int
    sensor: str
    k: int
    targets: tuple[str, ...]
    examples: tuple[AddressExample, ...] = ()
    weight: float = DEFAULT_NEGATIVE_WEIGHT
    area: Area | None = None


@dataclass(frozen=True)
class AddressExample:
    """An archive patch the address names as an example: pair `row` (id `pair_id`), its `sensor` image."""

    pair_id: str
    row: int
    sensor: str
    positive: bool = True


@dataclass
class Address:
    """What an address holds: the search it names (None: none) and what was wrong with it."""

    search: Search | None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what was wrong, the value quoted)


def parse_address(params: Mapping[str, str], sensors: Sequence[str],
                  find_pair: Callable[[str], int | None], query_sensors: Sequence[str] | None = None) -> Address:
    """The search of query parameters `params` (last value per name) for an archive of `sensors`;
    `find_pair(pair_id)` gives the bundle row of a pair id or None; `query_sensors`: what `sensor` may
    name (default `sensors`; "pair" too where both sensors share one space). Without `pair` there is no
    search (and nothing else is read)."""
    if "pair" not in params:
        return Address(None)
    problems: list[tuple[str, str]] = []
    row, pair_id = _pair(params["pair"], find_pair, problems)
    sensor = _sensor(params.get("sensor"), sensors, list(query_sensors or sensors), problems)
    k = _k(params.get("k"), problems)
    targets = _targets(params.get("targets"), sensors, problems)
    examples = _examples(params.get("examples"), sensors, find_pair, problems)
    weight = _weight(params.get("weight"), problems)
    area = _area(params.get("area"), params.get("keep"), problems)
    search = Search(pair_id, row, sensor, k, targets, examples, weight, area) if row is not None else None
    return Address(search, problems)


def query_sensors(sensors: Sequence[str], cross_sensor: bool) -> list[str]:
    """What an archive query may be: one sensor's image, or both together ("pair") in one shared space."""
    return [*sensors, "pair"] if set(sensors) == {"s1", "s2"} and cross_sensor else list(sensors)


def _pair(value: str, find_pair: Callable[[str], int | None],
          problems: list) -> tuple[int | None, str]:
    pair_id = value.strip()
    if not pair_id:
        problems.append(("the link names an empty pair", value))
        return None, pair_id
    if len(pair_id) > MAX_PAIR_CHARS:
        problems.append((f"the link's pair ({len(pair_id):,} characters) is no pair id of this archive", value))
        return None, pair_id
    row = find_pair(pair_id)
    if row is None:
        problems.append(("this archive does not hold the pair", value))
    return row, pair_id


def _sensor(value: str | None, sensors: Sequence[str], allowed: Sequence[str], problems: list) -> str:
    """The query's sensor: one of `allowed` (the archive's sensors, and "pair" where allowed); the
    message names the image sensors, the usual choice."""
    default = sensors[-1]
    if value is None or value.strip().lower() in allowed:
        return value.strip().lower() if value is not None else default
    problems.append((f"the sensor must be {' or '.join(sensors)}; showing the {SENSOR_LABELS.get(default, default)} "
                     "image instead of", value))
    return default


def _k(value: str | None, problems: list) -> int:
    if value is None:
        return DEFAULT_K
    text = value.strip()
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_K:
        problems.append((f"k must be a whole number from 1 to {MAX_K}; showing {DEFAULT_K} results instead of", value))
        return DEFAULT_K
    return int(text)


def _targets(value: str | None, sensors: Sequence[str], problems: list) -> tuple[str, ...]:
    if value is None:
        return tuple(sensors)
    asked = [part.strip().lower() for part in value.split(",")[:10] if part.strip()]
    if asked and all(part in sensors for part in asked):
        return tuple(s for s in sensors if s in asked)
    problems.append((f"targets must be {', '.join(sensors)} or a comma-separated list of them; searching "
                     f"{' and '.join(SENSOR_LABELS.get(s, s) for s in sensors)} instead of", value))
    return tuple(sensors)


def _examples(value: str | None, sensors: Sequence[str], find_pair: Callable[[str], int | None],
              problems: list) -> tuple[AddressExample, ...]:
    if value is None or not value.strip():
        return ()
    items = [item.strip() for item in value.split(",") if item.strip()]
    if len(items) > LINK_EXAMPLES:
        problems.append((f"a search holds at most {LINK_EXAMPLES} examples; using the first {LINK_EXAMPLES} of",
                         value))
    examples = []
    for item in items[:LINK_EXAMPLES]:
        positive = not item.startswith("-")
        sensor, _, pair_id = item.lstrip("-").partition(":")
        if sensor.strip().lower() not in sensors or not pair_id.strip() or len(pair_id) > MAX_PAIR_CHARS:
            problems.append((f"an example must be {' or '.join(f'{s}:<pair id>' for s in sensors)} (a leading '-' "
                             "for 'less like this'); leaving out", item))
            continue
        row = find_pair(pair_id.strip())
        if row is None:
            problems.append(("this archive does not hold the example", item))
            continue
        examples.append(AddressExample(pair_id.strip(), row, sensor.strip().lower(), positive))
    return tuple(examples)


def _weight(value: str | None, problems: list) -> float:
    if value is None:
        return DEFAULT_NEGATIVE_WEIGHT
    if not _WEIGHT.fullmatch(value.strip()):
        problems.append((f"the weight of negative examples must be a number from 0 to 1; using "
                         f"{DEFAULT_NEGATIVE_WEIGHT} instead of", value))
        return DEFAULT_NEGATIVE_WEIGHT
    return float(value)


def _area(value: str | None, keep: str | None, problems: list) -> Area | None:
    if value is None:
        return None
    if keep is not None and keep.strip().lower() not in ("inside", "outside"):
        problems.append(("keep must be inside or outside; keeping the patches inside the area instead of", keep))
    inside = (keep or "inside").strip().lower() != "outside"
    if len(value) > MAX_AREA_CHARS:
        problems.append((f"the link's area is longer than {MAX_AREA_CHARS:,} characters; searching the whole archive "
                         "instead of", value))
        return None
    try:
        return read_area(value, inside, name="the link's area")
    except CsmaeError as error:
        # the core's message may quote the polygon: escaped here, as the rest of a problem is our own text
        problems.append((f"{shown_message(error)}; searching the whole archive instead of", value))
        return None


def address_of(pair_id: str, sensor: str, k: int, targets: Sequence[str], examples: Sequence[AddressExample] = (),
               weight: float = DEFAULT_NEGATIVE_WEIGHT, area: Area | None = None) -> dict[str, str]:
    """The query parameters of an archive search (what `parse_address` reads back); the area only when
    `area_parameter` fits it (else the caller says the link does not hold it)."""
    params = {"pair": pair_id, "sensor": sensor, "k": str(k), "targets": ",".join(targets)}
    if examples:
        params["examples"] = ",".join(f"{'' if e.positive else '-'}{e.sensor}:{e.pair_id}" for e in examples)
        if not all(e.positive for e in examples):
            params["weight"] = f"{weight:g}"
    text = area_parameter(area) if area is not None else None
    if text is not None:
        params["area"], params["keep"] = text, "inside" if area.inside else "outside"
    return params


def area_parameter(area: Area) -> str | None:
    """The area's geometry as compact GeoJSON (coordinates to ~1 m), or None when too long for an address."""
    geometry = area.to_geojson()["geometry"]
    text = json.dumps(_rounded(geometry), separators=(",", ":"))
    if len(text) > MAX_AREA_CHARS:
        return None
    try:  # rounding may make a polygon with nearly touching edges invalid: such an area stays out of the link
        read_area(text)
    except CsmaeError:
        return None
    return text


def _rounded(value):
    if isinstance(value, float):
        return round(value, AREA_DECIMALS)
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def known_parameters(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters this page reads (others, e.g. a tracker's, neither count nor are written back)."""
    return {name: params[name] for name in PARAMETERS if name in params}

"""The search page's address: `?pair=<pair id>&sensor=s1|s2|pair&k=<1..50>&targets=s1,s2` parsed into the
search it names (or none) and one list of problems, and a search written back as parameters. Pure Python
(no streamlit): the page hands in the query parameters, the archive's sensors and a pair lookup.

A bad value never stops the page: it is named in a problem (quoted, cut and escaped by
pages.ui.safe_text when shown) and replaced by its default (k 10, the archive's last sensor, every
sensor it holds as targets); an unknown or malformed pair names no search."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_K, MAX_K = 10, 50
MAX_PAIR_CHARS = 200   # pair ids are ~60 characters; longer values are not looked up
_DIGITS = re.compile(r"[0-9]{1,6}")  # ASCII digits only: str.isdigit() also accepts '²', which int() refuses
PARAMETERS = ("pair", "sensor", "k", "targets")
SENSOR_LABELS = {"s1": "S1", "s2": "S2", "pair": "S1+S2"}


@dataclass(frozen=True)
class Search:
    """An archive search the address names: pair `row` of the bundle, the image of `sensor`."""

    pair_id: str
    row: int
    sensor: str
    k: int
    targets: tuple[str, ...]


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
    search = Search(pair_id, row, sensor, k, targets) if row is not None else None
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


def address_of(pair_id: str, sensor: str, k: int, targets: Sequence[str]) -> dict[str, str]:
    """The query parameters of an archive search (what `parse_address` reads back)."""
    return {"pair": pair_id, "sensor": sensor, "k": str(k), "targets": ",".join(targets)}


def known_parameters(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters this page reads (others, e.g. a tracker's, neither count nor are written back)."""
    return {name: params[name] for name in PARAMETERS if name in params}

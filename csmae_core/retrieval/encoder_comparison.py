"""Two (or more) encoders on one query, side by side: the same archive pair searched in each model's own
bundle, so that their top results, label precision and counterpart rank can be compared directly.

Meaningful only when the bundles index the same archive (the same pair ids): each model then answers the
same question about the same patches. `check_same_archive` refuses anything else, naming what differs.
The query is the archive pair's own embedding in each bundle (each model embeds the query its own way).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from csmae_core.bands import check_sensor
from csmae_core.errors import InputError
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.queries import archive_query, rows_named
from csmae_core.retrieval.search import Filters, SearchEngine, SearchResponse

EXAMPLES = 3  # pair ids named when two archives differ


@dataclass
class EncoderAnswer:
    """One model's answer to the query: what it searched and what it found."""

    name: str
    targets: tuple[str, ...]  # the sensors searched (a model with separate S1/S2 spaces: the query's only)
    response: SearchResponse
    note: str = ""            # why fewer sensors were searched than asked, "" when none were dropped


def check_same_archive(first: Bundle, second: Bundle, first_name: str = "the first model",
                       second_name: str = "the second model") -> None:
    """Raises InputError unless both bundles index the same pairs (ids; the order may differ)."""
    ids = [set(b.table["pair_id"].astype(str)) for b in (first, second)]
    if ids[0] == ids[1]:
        return
    only = [sorted(ids[0] - ids[1]), sorted(ids[1] - ids[0])]
    said = "; ".join(f"{len(o):,} only in {name}'s (e.g. {', '.join(o[:EXAMPLES])})"
                     for o, name in zip(only, (first_name, second_name)) if o)
    raise InputError(f"the two models' bundles index different archives ({len(ids[0]):,} and {len(ids[1]):,} pairs; "
                     f"{said}): their results cannot be compared. Pick two models whose bundles index the same "
                     "archive (build both with scripts/build_index.py from one archive)")


def searchable_targets(bundle: Bundle, query_sensor: str, targets: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """(the asked `targets` this bundle can answer for a `query_sensor` query, why any was dropped or "")."""
    targets = tuple(check_sensor(t) for t in targets)
    kept = tuple(t for t in targets if t in bundle.sensors and (bundle.cross_sensor or t == query_sensor))
    dropped = [t.upper() for t in targets if t not in kept]
    if not dropped:
        return kept, ""
    why = ("its S1 and S2 vectors live in separate spaces" if all(t in bundle.sensors for t in targets)
           else f"its bundle holds {' + '.join(s.upper() for s in bundle.sensors)} only")
    return kept, f"{', '.join(dropped)} not searched: {why}"


def compare_on_pair(engines: Sequence[tuple[str, SearchEngine]], pair_id: str, sensor: str,
                    targets: Sequence[str], k: int = 10) -> list[EncoderAnswer]:
    """Archive pair `pair_id`'s `sensor` image as the query of every (name, engine), each in its own bundle
    (the app's default filters: the query's own pair left out). Raises InputError when a bundle lacks the
    pair or cannot search any asked sensor."""
    sensor = check_sensor(sensor)
    answers = []
    for name, engine in engines:
        rows = rows_named(engine.bundle, str(pair_id))
        if len(rows) == 0:
            raise InputError(f"{name}'s bundle holds no pair {pair_id!r}; pick a pair of its archive")
        if sensor not in engine.bundle.sensors:
            raise InputError(f"{name}'s bundle holds no {sensor.upper()} patches; query with the "
                             f"{'/'.join(s.upper() for s in engine.bundle.sensors)} image instead")
        searched, note = searchable_targets(engine.bundle, sensor, targets)
        if not searched:
            raise InputError(f"{name} cannot search {', '.join(t.upper() for t in targets)} with an "
                             f"{sensor.upper()} query ({note.split(': ', 1)[1]}); add {sensor.upper()} to the targets")
        query = archive_query(engine.bundle, int(rows[0]), sensor)
        answers.append(EncoderAnswer(name, searched, engine.search(query, searched, k, Filters()), note))
    return answers


def shared_results(first: SearchResponse, second: SearchResponse) -> set[tuple[str, str]]:
    """The (pair id, sensor) results both lists hold."""
    return {(r.pair_id, r.sensor) for r in first.results} & {(r.pair_id, r.sensor) for r in second.results}


"""What the simulated users search (the served archive's pairs, a random shared link, a pause after each
result) and what each query yields (an Outcome)."""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from pathlib import Path

from csmae_core.catalogue import catalogue_path, read_catalogue
from csmae_core.retrieval.bundle import TABLE


@dataclass
class Outcome:
    """One query of one user."""

    user: int
    kind: str          # link | click
    query: str
    ms: float | None   # None: failed
    error: str | None = None


def served_pairs(catalogue: Path | None = None) -> list[tuple[str, str | None]]:
    """(pair_id, s1_name) of the bundle of the catalogue's first entry (the one the app serves first);
    catalogue: default $CSMAE_CATALOGUE, else the demo's."""
    import pandas as pd

    entry = read_catalogue(catalogue or catalogue_path())[0]
    table = pd.read_parquet(Path(entry["bundle"]) / TABLE, columns=["pair_id", "s1_name"])
    return [(p, s if isinstance(s, str) else None) for p, s in zip(table["pair_id"], table["s1_name"])]


def choose_link(rng: random.Random, pairs) -> tuple[str, int, str, str]:
    """A random shared-link query: (query string, k, the query's patch name, label)."""
    pair_id, s1_name = rng.choice(pairs)
    sensor = rng.choice(("s1", "s2")) if s1_name else "s2"
    k = rng.choice((5, 10, 10, 20))
    targets = rng.choice(("s1,s2", "s1,s2", "s1", "s2"))
    name = s1_name if sensor == "s1" else pair_id
    return f"pair={pair_id}&sensor={sensor}&k={k}&targets={targets}", k, name, f"{pair_id} {sensor} k={k} {targets}"


async def think(rng: random.Random, seconds: float) -> None:
    """A user's pause after seeing results: uniform in [0, 2 x seconds] (0: the next query at once)."""
    if seconds > 0:
        await asyncio.sleep(rng.uniform(0, 2 * seconds))


def error_text(error: BaseException, lines: int = 1, limit: int = 300) -> str:
    """`Type: message` of an exception, its first `lines` lines joined, at most `limit` characters."""
    return f"{type(error).__name__}: {' | '.join(str(error).splitlines()[:lines])[:limit]}"

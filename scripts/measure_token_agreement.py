"""Do the token similarity maps mean something? Token-level agreement of co-registered S1/S2 pairs, and the
cost of one map.

    .venv/bin/python scripts/measure_token_agreement.py [--catalogue assets/catalogue.json] [--entry NAME ...]
        [--splits validation,test] [--random-per-query 5] [--seed 0] [--timing-runs 30] [--json out.json]

For every catalogue entry with a model and archive pixels (default: all of the catalogue's), every pair of
the chosen splits queries with its S1 patch against its own S2 counterpart (S1->S2) and the reverse (S2->S1):
the share of query tokens whose best-matching result token (csmae_core.retrieval.explain.best_positions) is
at the same grid position. The same for random non-counterpart pairs of those splits (seeded) and chance
(1 / grid cells). Co-registered patches show the same ground at the same position, so a share well above
the random pairs' says the tokens carry what is where, across sensors (random pairs sit above chance too:
tokens also carry their position). Reported for the centred tokens (what the app shows; "counterpart",
"random", with a 95% bootstrap interval over the query pairs of their difference) and the raw ones.

Timing: `match_maps` (both patches through the model, the maps and best matches) for one query and result,
median and p95 over --timing-runs on this machine's CPU (or GPU if the model loads there). It costs the
same whatever the archive's size: only the two patches run through the model, the index is not touched.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DIRECTIONS = (("s1", "s2"), ("s2", "s1"))


def shares(query_tokens: np.ndarray, result_tokens: np.ndarray, partners: np.ndarray, centre: bool) -> np.ndarray:
    """Same-position share of query i against result partners[i] (token grids (N, h, w, D)), one per query."""
    from csmae_core.retrieval.explain import best_positions, same_position_share

    return np.array([same_position_share(best_positions(query_tokens[i], result_tokens[j], centre))
                     for i, j in enumerate(partners)])


def random_partners(n: int, per_query: int, rng: np.random.Generator) -> np.ndarray:
    """(n * per_query,) partner indices, never the query's own pair; the query index is the position // per_query."""
    offsets = rng.integers(1, n, size=(n, per_query))
    return ((np.arange(n)[:, None] + offsets) % n).ravel()


def difference_interval(counterpart: np.ndarray, random: np.ndarray, rng: np.random.Generator,
                        draws: int = 2000) -> list[float]:
    """95% bootstrap interval (resampling the query pairs: a pair's tokens are not independent) of the mean
    counterpart share minus the mean random-pair share; `random` is one mean per query."""
    picks = rng.integers(0, len(counterpart), size=(draws, len(counterpart)))
    differences = counterpart[picks].mean(axis=1) - random[picks].mean(axis=1)
    return [float(v) for v in np.percentile(differences, [2.5, 97.5])]


def token_agreement(encoder, records: dict[str, list], per_query: int, seed: int) -> dict:
    tokens = {sensor: encoder.record_tokens(records[sensor], sensor)[0] for sensor in ("s1", "s2")}
    n = len(records["s1"])
    rng = np.random.default_rng(seed)
    others = random_partners(n, per_query, rng)
    out = {}
    for query, result in DIRECTIONS:
        repeated = np.repeat(tokens[query], per_query, axis=0)
        values = {}
        for mode in ("centred", "raw"):
            counterpart = shares(tokens[query], tokens[result], np.arange(n), mode == "centred")
            random = shares(repeated, tokens[result], others, mode == "centred").reshape(n, per_query).mean(axis=1)
            values |= {f"counterpart_{mode}": float(counterpart.mean()), f"random_{mode}": float(random.mean()),
                       f"difference_ci95_{mode}": difference_interval(counterpart, random, rng)}
        out[f"{query}_{result}"] = values
    grid = tokens["s1"].shape[1:3]
    return {"pairs": n, "random_pairs": n * per_query, "grid": list(grid), "chance": 1 / (grid[0] * grid[1]),
            "directions": out}


def map_latency(encoder, query, result, runs: int) -> dict:
    from csmae_core.retrieval.explain import match_maps

    match_maps(encoder, query, result)  # warm-up (first call allocates)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        match_maps(encoder, query, result)
        times.append(time.perf_counter() - start)
    return {"median_s": float(np.median(times)), "p95_s": float(np.percentile(times, 95)), "runs": runs}


def measure(entry: dict, splits: set[str], per_query: int, seed: int, runs: int) -> dict:
    import torch

    from csmae_core import load_model, open_archive

    encoder, archive = load_model(entry["model"]), open_archive(entry["archive"])
    rows = [r for r in range(len(archive)) if archive.table["split"].iloc[r] in splits]
    if len(rows) < 2:
        from csmae_core.errors import InputError
        raise InputError(f"{len(rows)} pair(s) of split(s) {', '.join(sorted(splits))} in {entry['archive']}; "
                         "random pairs need at least 2: pass other --splits")
    pairs = [archive[r] for r in rows]
    records = {sensor: [pair.record(sensor) for pair in pairs] for sensor in ("s1", "s2")}
    report = {"entry": entry["name"], "model": encoder.describe(), "device": str(encoder.device),
              "torch_threads": torch.get_num_threads(), **token_agreement(encoder, records, per_query, seed)}
    report["latency"] = map_latency(encoder, records["s1"][0], records["s2"][0], runs)
    return report


def print_table(reports: list[dict]) -> None:
    print("| model | direction | counterpart | random | difference, 95% CI | counterpart (raw) | random (raw) | "
          "chance | pairs |\n|---|---|---|---|---|---|---|---|---|")
    for report in reports:
        for direction, values in report["directions"].items():
            arrow = direction.upper().replace("_", "→")
            low, high = values["difference_ci95_centred"]
            print(f"| {report['entry']} | {arrow} | {values['counterpart_centred']:.3f} | "
                  f"{values['random_centred']:.3f} | {low:+.3f} .. {high:+.3f} | {values['counterpart_raw']:.3f} | "
                  f"{values['random_raw']:.3f} | {report['chance']:.3f} | {report['pairs']} |")
    print("\n| model | one map: median | p95 | runs | device, threads |\n|---|---|---|---|---|")
    for report in reports:
        latency = report["latency"]
        print(f"| {report['entry']} | {latency['median_s'] * 1000:.0f} ms | {latency['p95_s'] * 1000:.0f} ms | "
              f"{latency['runs']} | {report['device']}, {report['torch_threads']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalogue", type=Path, default=ROOT / "assets" / "catalogue.json",
                        help="catalogue of models and archives (default: the demo's)")
    parser.add_argument("--entry", action="append", help="catalogue entry name (repeatable; default: every entry "
                                                         "with a model and an archive)")
    parser.add_argument("--splits", default="validation,test", help="splits of the pairs (default validation,test)")
    parser.add_argument("--random-per-query", type=int, default=5,
                        help="random non-counterpart results per query (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random pairs (default 0)")
    parser.add_argument("--timing-runs", type=int, default=30, help="timed map computations per model (default 30)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice, as the app)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.random_per_query < 1 or args.timing_runs < 1 or (args.threads is not None and args.threads < 1):
        print("error: --random-per-query, --timing-runs and --threads must be at least 1", file=sys.stderr)
        return 2
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads or threads)
    try:
        return run(args)
    finally:
        torch.set_num_threads(threads)  # main() called in-process (tests) leaves torch as it found it


def run(args: argparse.Namespace) -> int:
    from csmae_core.catalogue import read_catalogue
    from csmae_core.errors import CsmaeError
    try:
        entries = [e for e in read_catalogue(args.catalogue) if e.get("model") and e.get("archive")]
        if args.entry:
            unknown = set(args.entry) - {e["name"] for e in entries}
            if unknown:
                print(f"error: no entry with a model and archive named {sorted(unknown)} in {args.catalogue}; "
                      f"entries: {[e['name'] for e in entries]}", file=sys.stderr)
                return 2
            entries = [e for e in entries if e["name"] in args.entry]
        splits = {s.strip() for s in args.splits.split(",") if s.strip()}
        reports = [measure(e, splits, args.random_per_query, args.seed, args.timing_runs) for e in entries]
    except CsmaeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_table(reports)
    print(f"\nload average {os.getloadavg()[0]:.2f} (1 min)")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 0

if __name__ == "__main__":
    raise SystemExit(main())

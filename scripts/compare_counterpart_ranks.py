"""Is a difference in counterpart MRR between two models (or a model and a baseline) more than noise? A paired
bootstrap over the evaluated queries of one metrics.json (scripts/evaluate.py), per cross-sensor direction.

    python scripts/compare_counterpart_ranks.py METRICS.json "model or baseline A" "model or baseline B"
"""
from __future__ import annotations

import argparse
import json

import numpy as np

DIRECTIONS = ("s1_s2", "s2_s1")


def counterpart_ranks(metrics: dict, name: str, direction: str) -> np.ndarray:
    """The counterpart ranks of `name` (a model's name or a baseline's) in `direction`, one per query."""
    source = metrics["models"].get(name, {}).get("directions") or metrics["baselines"].get(name)
    if source is None:
        known = [*metrics["models"], *metrics["baselines"]]
        raise SystemExit(f"{name!r} is not in this metrics.json; choose one of: {', '.join(known)}")
    return np.asarray(source[direction]["counterpart_ranks"], dtype=float)


def paired_bootstrap(first: np.ndarray, second: np.ndarray, draws: int = 10_000, seed: int = 0):
    """MRR of each, their difference (first - second) and its 95 % interval, resampling queries in pairs."""
    gain = 1 / first - 1 / second
    picks = np.random.default_rng(seed).integers(0, len(gain), (draws, len(gain)))
    low, high = np.percentile(gain[picks].mean(axis=1), [2.5, 97.5])
    return float(np.mean(1 / first)), float(np.mean(1 / second)), float(gain.mean()), float(low), float(high)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics")
    parser.add_argument("first")
    parser.add_argument("second")
    args = parser.parse_args(argv)
    with open(args.metrics) as handle:
        metrics = json.load(handle)
    print(f"| direction | MRR {args.first} | MRR {args.second} | difference | 95 % interval |")
    print("|---|---|---|---|---|")
    for direction in DIRECTIONS:
        a, b, diff, low, high = paired_bootstrap(counterpart_ranks(metrics, args.first, direction),
                                                 counterpart_ranks(metrics, args.second, direction))
        print(f"| {direction.replace('_', '->').upper()} | {a:.3f} | {b:.3f} | {diff:+.3f} | {low:+.3f} .. {high:+.3f} |")


if __name__ == "__main__":
    main()

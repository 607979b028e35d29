""""Search both sensors" before and after score calibration, on index bundles (default: the committed demo ones).

    .venv/bin/python scripts/measure_merge.py [--bundle assets/bundles/demo ...] [--k 10] [--json out.json]

For every bundle, every query searches S1 and S2 together (the app's default filters: the query's own pair
left out), once merged by raw cosine and once by calibrated score (csmae_core.retrieval.calibration).
Reported per bundle and protocol: mean label precision of the merged top k (P@k: share of each result's
labels that the query has, as in the app), the cross-sensor share (results of the other sensor than the
query's), and the mean cosine of a pair's S1 and S2 embeddings. Two protocols: "all" (every patch queries
the whole archive, as in the app) and "held-out" (validation + test queries against validation + test patches).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.search import Filters, Query, SearchEngine

ROOT = Path(__file__).resolve().parents[1]
DEMO_BUNDLES = [ROOT / "assets" / "bundles" / name for name in ("demo", "demo-train", "cmid-demo", "cmid-demo-train")]
PROTOCOLS = {"all": None, "held-out": frozenset({"validation", "test"})}


def merged_lists(engine: SearchEngine, splits: frozenset[str] | None, k: int, calibrate: bool) -> dict[str, float]:
    """Mean P@k and cross-sensor share of both-sensor searches by every query row (of `splits`) in each sensor."""
    table, filters = engine.bundle.table, Filters(splits=splits)
    rows = [r for r in range(len(table)) if splits is None or table.at[r, "split"] in splits]
    precision, cross = [], []
    for row in rows:
        for sensor in ("s1", "s2"):
            query = Query(engine.bundle.embeddings[sensor][row], sensor, labels=table.at[row, "labels"], pair_row=row)
            response = engine.search(query, ("s1", "s2"), k, filters, counterpart=False, calibrate=calibrate)
            precision.append(response.metrics["P@k"])
            cross.append(np.mean([r.sensor != sensor for r in response.results]))
    return {"precision_at_k": float(np.mean(precision)), "cross_sensor_share": float(np.mean(cross)),
            "searches": len(precision)}


def measure(bundle_path: Path, k: int) -> dict:
    engine = SearchEngine(Bundle(bundle_path))
    s1, s2 = engine.bundle.embeddings["s1"], engine.bundle.embeddings["s2"]
    out = {"bundle": str(bundle_path), "pair_cosine": float(np.mean(np.sum(s1 * s2, axis=1))), "k": k}
    for protocol, splits in PROTOCOLS.items():
        out[protocol] = {merge: merged_lists(engine, splits, k, merge == "calibrated")
                         for merge in ("raw", "calibrated")}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, action="append",
                        help="index bundle (repeatable; default: the demo ones)")
    parser.add_argument("--k", type=int, default=10, help="results per search (default 10)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.k < 1:
        print("error: --k must be at least 1", file=sys.stderr)
        return 2
    from csmae_core.errors import CsmaeError
    try:
        reports = [measure(path, args.k) for path in (args.bundle or DEMO_BUNDLES)]
    except CsmaeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"| bundle | pair cosine | protocol | P@{args.k} raw | P@{args.k} calibrated | cross-sensor raw | "
          f"cross-sensor calibrated |\n|---|---|---|---|---|---|---|")
    for report in reports:
        for protocol in PROTOCOLS:
            raw, cal = report[protocol]["raw"], report[protocol]["calibrated"]
            print(f"| {Path(report['bundle']).name} | {report['pair_cosine']:.2f} | {protocol} | "
                  f"{raw['precision_at_k']:.3f} | {cal['precision_at_k']:.3f} | {raw['cross_sensor_share']:.2f} | "
                  f"{cal['cross_sensor_share']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Retrieval evaluation in the four directions S1->S1, S2->S2, S1->S2, S2->S1, with baselines.

    python scripts/evaluate.py --bundle assets/bundles/demo --out eval/          # published protocol
    python scripts/evaluate.py --bundle assets/bundles/demo --model assets/models/demo-train.pt \
        --queries validation,test --archive-split validation,test --out assets/evaluation/demo

Default protocol (the published one): validation queries against the test archive. Each --bundle and
--model is one encoder of any family (CSMAE, CMID; a --model is embedded on the fly over the bundle's
archive): one table compares them. Models whose S1 and S2 spaces are separate get S1->S1 and S2->S2 only. Baselines (random,
band statistics, pixel correlation) need the archive's pixels: --archive, or the path in the first
bundle's manifest. Writes metrics.json, metrics.csv, plots (PNG) and prints a table.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from csmae_core.cli import run_script


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, action="append", required=True, help="index bundle (repeatable)")
    p.add_argument("--model", type=Path, action="append", default=[], help="extra model to embed and compare")
    p.add_argument("--archive", type=Path, help="archive of the bundle (default: from its manifest)")
    p.add_argument("--metadata", type=Path, help="reBEN metadata.parquet for v2 trees / rico-hdl LMDBs")
    p.add_argument("--queries", default="validation", help="split(s) of the queries (comma-separated, or all)")
    p.add_argument("--archive-split", default="test", help="split(s) searched (comma-separated, or all)")
    p.add_argument("--k", type=int, nargs="+", default=[10, 5], help="cut-offs (default 10 5)")
    p.add_argument("--no-baselines", action="store_true", help="skip baselines (no archive pixels needed)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    return p.parse_args(argv)


def run(args) -> int:
    from csmae_core.evaluation.compare import Protocol
    from csmae_core.evaluation.report import print_table, write_outputs
    from csmae_core.retrieval.evaluate_bundles import evaluate_bundles

    report = evaluate_bundles(args.bundle, args.model, Protocol(args.queries, args.archive_split, tuple(args.k)),
                              archive=args.archive, metadata=args.metadata, baselines=not args.no_baselines,
                              command="python scripts/evaluate.py " + shlex.join(sys.argv[1:] or []))
    flat = write_outputs(args.out, report)
    for k in args.k:
        print(print_table(flat, k))
    print(f"wrote {args.out}/metrics.json, metrics.csv and plots")
    return 0


def main(argv=None) -> int:
    return run_script(run, parse_args(argv), verbose=False)


if __name__ == "__main__":
    sys.exit(main())

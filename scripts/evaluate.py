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

ROOT = Path(__file__).resolve().parents[1]

from csmae_core.cli import run_script
from csmae_core.errors import InputError


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


def rows_of(table, splits: str):
    import numpy as np

    if splits == "all":
        return np.arange(len(table))
    wanted = {s.strip() for s in splits.split(",")}
    rows = np.flatnonzero(table["split"].isin(wanted).to_numpy())
    if len(rows) == 0:
        raise InputError(f"no pairs of split {splits!r}; the bundle has {sorted(table['split'].dropna().unique())}")
    return rows


def describe(card: dict, fallback: str) -> str:
    data = card.get("data") or {}
    if data:
        return (f"trained self-supervised on {data.get('pairs')} pairs of split '{data.get('split')}' "
                f"({card.get('epochs')} epochs; labels never used)")
    return card.get("origin", fallback)


def archive_inputs(args, first_bundle):
    import torch

    from csmae_core.io.detect import open_archive
    from csmae_core.preprocess import model_input

    path = args.archive or Path(first_bundle.manifest["archive"]["path"])
    archive = open_archive(path, args.metadata)
    if list(archive.table["pair_id"]) != list(first_bundle.table["pair_id"]):
        raise InputError(f"the archive at {path} does not hold the bundle's pairs in the bundle's order")
    pairs = [archive[i] for i in range(len(archive))]
    return {s: torch.stack([model_input(p.record(s)) for p in pairs]) for s in ("s1", "s2")}


def run(args) -> int:
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.embedding import embed_inputs
    from csmae_core.models.load import load_model
    from csmae_core.evaluation.run import (BASELINE_DIRECTIONS, BASELINES, DIRECTIONS, evaluate_embeddings, random_embeddings)
    from csmae_core.labels import multi_hot_matrix
    from csmae_core.evaluation.metrics import DEFINITIONS
    from csmae_core.evaluation.report import print_table, write_outputs

    bundles = [Bundle(path) for path in args.bundle]
    table = bundles[0].table
    labels = multi_hot_matrix(table["labels"])
    queries, archive = rows_of(table, args.queries), rows_of(table, args.archive_split)
    models = {}
    for bundle in bundles:
        models[bundle.manifest["name"]] = {"description": describe(bundle.manifest["model"].get("card", {}), "bundle"),
                                           "family": bundle.family, "encoder": bundle.model_description,
                                           "cross_sensor": bundle.cross_sensor, "model_hash": bundle.model_hash,
                                           "embeddings": bundle.embeddings}
    inputs = archive_inputs(args, bundles[0]) if (args.model or not args.no_baselines) else None
    for path in args.model:
        encoder = load_model(path, "cpu")
        oriented = {s: x.transpose(-1, -2) if encoder.transpose_input else x for s, x in inputs.items()}
        models[path.stem] = {"description": describe(encoder.card, str(path)), "family": encoder.family,
                             "encoder": encoder.describe(), "cross_sensor": encoder.cross_sensor,
                             "model_hash": encoder.content_hash, "embeddings": embed_inputs(encoder, oriented)}
    report = {"definitions": DEFINITIONS, "command": "python scripts/evaluate.py " + shlex.join(sys.argv[1:] or []),
              "protocol": {"queries": args.queries, "archive": args.archive_split, "k": args.k,
                           "query_count": len(queries), "archive_count": len(archive),
                           "pair_ids": list(table["pair_id"])}, "models": {}, "baselines": {}}
    for name, model in models.items():
        # separately trained S1 and S2 spaces: cross-sensor distances mean nothing, so they are not reported
        directions = evaluate_embeddings(model.pop("embeddings"), labels, queries, archive, args.k,
                                         DIRECTIONS if model["cross_sensor"] else DIRECTIONS[:2])
        report["models"][name] = {**model, "directions": directions}
    report.update(next(iter(report["models"].values()))["directions"])  # the first model's directions on top
    if not args.no_baselines:
        baseline_embeddings = {"random": random_embeddings(len(table), bundles[0].dim),
                               **{name: make(inputs) for name, make in BASELINES.items()}}
        for name, embeddings in baseline_embeddings.items():
            report["baselines"][name] = evaluate_embeddings(embeddings, labels, queries, archive, args.k,
                                                            BASELINE_DIRECTIONS[name])
    flat = write_outputs(args.out, report)
    for k in args.k:
        print(print_table(flat, k))
    print(f"wrote {args.out}/metrics.json, metrics.csv and plots")
    return 0


def main(argv=None) -> int:
    return run_script(run, parse_args(argv), verbose=False)


if __name__ == "__main__":
    sys.exit(main())

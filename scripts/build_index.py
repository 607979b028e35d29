"""Embed an archive with a model and write an index bundle (embeddings, FAISS index per sensor,
metadata table, manifest) — atomically: an interrupted build leaves the previous bundle untouched.

    python scripts/build_index.py --model assets/models/demo.pt --out assets/bundles/demo
    python scripts/build_index.py --model M.pt --archive BigEarthNet-v2 --metadata metadata.parquet \
        --out bundles/reben --index auto --accelerator gpu --devices 4 --strategy ddp --workers 8

--index auto: exact inner-product search up to 200k pairs, IVF-RaBitQ with an exact re-rank above (see
csmae_core/retrieval/faiss_index.py); approximate indexes report their recall@10 against exact search at
build time.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from csmae_core.cli import run_script
from csmae_core.training.parallel import DEFAULT_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[1]

log = logging.getLogger("build_index")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="checkpoint (any format load_model accepts)")
    p.add_argument("--archive", type=Path, default=ROOT / "assets" / "demo", help="archive folder (default: the demo)")
    p.add_argument("--metadata", type=Path, help="reBEN metadata.parquet (v2 trees and rico-hdl LMDBs)")
    p.add_argument("--out", type=Path, required=True, help="bundle folder to write (replaced atomically)")
    p.add_argument("--index", default="auto", help="auto, flat, hnsw, ivfsq8, ivfpq, ivfpq_sq8, ivfrabitq or ivfrabitq4")
    p.add_argument("--batch-size", type=int, default=64, help="pairs per embedding batch")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes reading the archive")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="embedding precision")
    p.add_argument("--accelerator", default="auto", help="cpu, gpu or auto")
    p.add_argument("--devices", default="auto", help="devices per node")
    p.add_argument("--num-nodes", type=int, default=1, help="nodes")
    p.add_argument("--strategy", default="auto", help="Lightning strategy for multi-GPU embedding (e.g. ddp)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="seconds a DDP process waits for the others in a collective before giving up (a hung or "
                        f"unreachable peer ends the build; default {DEFAULT_TIMEOUT_S})")
    p.add_argument("--name", help="display name of the bundle (default: the output folder's name)")
    return p.parse_args(argv)


def run(args) -> int:
    from csmae_core.io.detect import open_archive
    from csmae_core.models.load import load_model
    from csmae_core.retrieval.bundle import (
        TABLE,
        bundle_manifest,
        bundle_table,
        model_manifest,
        new_workdir,
        write_bundle,
    )
    from csmae_core.retrieval.embedding import embed_archive, is_launching_process
    from csmae_core.retrieval.faiss_index import choose_spec
    from csmae_core.retrieval.indexing import write_indexes

    encoder = load_model(args.model, "cuda" if args.accelerator == "gpu" else None)
    encoder.precision = args.precision
    archive = open_archive(args.archive, args.metadata)
    if not is_launching_process():  # another rank of a multi-process build: rank 0 owns the work folder
        embed_archive(encoder, archive, None, args.batch_size, args.workers, args.accelerator, args.devices,
                      args.num_nodes, args.strategy, timeout_s=args.timeout)
        return 0
    for stale in args.out.parent.glob(f".{args.out.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed build
    workdir = new_workdir(args.out)
    try:
        if not embed_archive(encoder, archive, workdir, args.batch_size, args.workers, args.accelerator,
                             args.devices, args.num_nodes, args.strategy, timeout_s=args.timeout):
            return 0  # cannot happen on rank 0; kept so a misconfigured launch never writes a bundle
        bundle_table(archive.table).to_parquet(workdir / TABLE, index=False)
        sensors = [s for s in ("s1", "s2") if s in encoder.sensors]
        spec = choose_spec(args.index, len(archive), encoder.dim)
        report = write_indexes(workdir, sensors, spec, encoder.cross_sensor)
        manifest = bundle_manifest(args.name or args.out.name, model_manifest(encoder, args.model.name),
                                   {"path": str(args.archive), "source": archive.source}, len(archive), sensors,
                                   encoder.dim, spec.to_dict(), report["recall_at_10"], args.precision)
        write_bundle(args.out, workdir, manifest)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    print(f"wrote bundle {args.out}: {len(archive)} pairs x {len(sensors)} sensor(s), {encoder.dim}-d, "
          f"index {manifest['index']['spec']['kind']}, model {encoder.content_hash[:12]}")
    return 0


def main(argv=None) -> int:
    return run_script(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""Images per second of embedding an archive the way build_index.py does (`embed_archive`: reading,
preprocessing, the encoder, shard writing and merging), fp32 against bf16 autocast, as a share of the
dense-matmul peak measured in the same run; and where the time goes (reading + preprocessing alone, the
encoder alone on preloaded batches).

    python scripts/bench_embedding.py                               # the demo model and archive
    python scripts/bench_embedding.py --workers 0 1 2 --batch-size 64 128 --repeats 3 --json out.json
    python scripts/bench_embedding.py --random-size base    # a ViT-B CSMAE-SECD of seeded random weights

An image is one sensor's patch (a pair is two). FLOPs per image are counted by torch while the encoder runs
(`csmae_core.models.throughput.embedding_flops`); the peak is a 2048^3 matmul at the same precision.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "assets" / "models" / "demo.pt")
    p.add_argument("--archive", type=Path, default=ROOT / "assets" / "demo")
    p.add_argument("--metadata", type=Path, help="reBEN metadata.parquet (v2 trees and rico-hdl LMDBs)")
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1], help="DataLoader workers to compare")
    p.add_argument("--batch-size", type=int, nargs="+", default=[64], help="pairs per batch to compare")
    p.add_argument("--repeats", type=int, default=3, help="runs per setting (median reported)")
    p.add_argument("--random-size", help="instead of --model: a CSMAE-SECD of this size (tiny, small, base, large) "
                                         "with seeded random weights (the published size is base)")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def random_model(size: str, folder: Path) -> Path:
    """A CSMAE-SECD checkpoint of `size` with seeded random weights, written in the project's format."""
    from csmae_core.models.csmae.checkpoint import Checkpoint, save_checkpoint
    from csmae_core.models.csmae.config import CSMAEConfig
    from csmae_core.models.csmae.model import CSMAEEncoder

    torch.manual_seed(0)
    config = CSMAEConfig(variant="secd", size=size)
    path = folder / f"random-secd-{size}.pt"
    save_checkpoint(Checkpoint(config, CSMAEEncoder(config).state_dict(), source_format="random"), path)
    return path


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def end_to_end(encoder, archive, workers: int, batch: int, repeats: int) -> float:
    """Median seconds of `embed_archive` into a scratch folder (as build_index.py calls it)."""
    from csmae_core.retrieval.embedding import embed_archive

    def run():
        with tempfile.TemporaryDirectory() as folder:
            embed_archive(encoder, archive, Path(folder), batch, workers, accelerator="cpu", devices=1,
                          progress=False)
    run()  # warm-up: file cache, allocator, the Trainer's first start
    return median_seconds(run, repeats)


def reading_only(encoder, archive, workers: int, batch: int, repeats: int) -> float:
    from csmae_core.retrieval.embedding import ArchiveInputs

    inputs = ArchiveInputs(archive, encoder.transpose_input)
    return median_seconds(lambda: [None for _ in DataLoader(inputs, batch_size=batch, num_workers=workers)], repeats)


def encoder_only(encoder, archive, batch: int, repeats: int) -> float:
    from csmae_core.retrieval.embedding import ArchiveInputs

    batches = list(DataLoader(ArchiveInputs(archive, encoder.transpose_input), batch_size=batch))
    encoder.embed_pair(batches[0][1], batches[0][2])
    return median_seconds(lambda: [encoder.embed_pair(x1, x2) for _, x1, x2 in batches], repeats)


def measure(encoder, archive, args, flops_per_image: float) -> list[dict]:
    """One row per (precision, batch, workers); the peak is measured again beside every row, so a row's share
    of it does not depend on what else the machine did meanwhile."""
    from csmae_core.models.throughput import matmul_peak

    images, dtypes = 2 * len(archive), {"fp32": torch.float32, "bf16": torch.bfloat16}
    rows = []
    for precision in args.precisions:
        encoder.precision = precision
        for batch in args.batch_size:
            for workers in args.workers:
                peak = matmul_peak(torch.device("cpu"), dtypes[precision])
                model_s = encoder_only(encoder, archive, batch, args.repeats)
                total_s = end_to_end(encoder, archive, workers, batch, args.repeats)
                read_s = reading_only(encoder, archive, workers, batch, args.repeats)
                peak = (peak + matmul_peak(torch.device("cpu"), dtypes[precision])) / 2
                rows.append({"precision": precision, "batch": batch, "workers": workers, "peak_flops": peak,
                             "images_per_s": images / total_s, "reading_images_per_s": images / read_s,
                             "encoder_images_per_s": images / model_s,
                             "share_of_peak": images * flops_per_image / total_s / peak,
                             "encoder_share_of_peak": images * flops_per_image / model_s / peak})
                print_row(rows[-1])
    return rows


def print_row(row: dict) -> None:
    print(f"{row['precision']:5} batch {row['batch']:4} workers {row['workers']} | end to end "
          f"{row['images_per_s']:7.1f} img/s = {100 * row['share_of_peak']:5.1f} % of peak | reading + "
          f"preprocessing alone {row['reading_images_per_s']:7.1f} img/s | encoder alone "
          f"{row['encoder_images_per_s']:7.1f} img/s = {100 * row['encoder_share_of_peak']:5.1f} % | peak "
          f"{row['peak_flops'] / 1e9:5.1f} GFLOP/s", flush=True)


def main(argv=None) -> int:
    from csmae_core.io.detect import open_archive
    from csmae_core.models.load import load_model
    from csmae_core.models.throughput import embedding_flops

    args = parse_args(argv)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    scratch = tempfile.TemporaryDirectory()
    if args.random_size:
        args.model = random_model(args.random_size, Path(scratch.name))
    encoder = load_model(args.model, "cpu")
    archive = open_archive(args.archive, args.metadata)
    flops = statistics.mean(embedding_flops(encoder, s) for s in ("s1", "s2"))
    print(f"{args.model.name} on {len(archive)} pairs ({2 * len(archive)} images) of {args.archive.name}; "
          f"{flops / 1e9:.3f} GFLOP per image; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")
    rows = measure(encoder, archive, args, flops)
    scratch.cleanup()
    if args.json:
        args.json.write_text(json.dumps({"flops_per_image": flops, "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

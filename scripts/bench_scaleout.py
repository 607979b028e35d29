"""Scale-out on one machine: training steps/s and embedding pairs/s with 1 vs N CPU processes (Lightning DDP,
gloo), in one run, plus the memory per vector of each FAISS index type (what decides when search outgrows
one machine).

Training: the demo configs (CSMAE and CMID) on the demo archive with the same GLOBAL batch for every process
count (the data-parallel step equals the one-process step, tests/test_distributed_training.py), timed on rank 0
between barriers after warm-up steps. Embedding: the demo models over the demo archive repeated, Lightning
predict as in scripts/build_index.py. Lightning gives each of N CPU processes cores/N threads, so the ratio
says what splitting the same cores into processes costs or gains (on 2 cores expect little; on N GPUs each
process has its own device). Index memory: serialized FAISS indexes of random unit vectors at two sizes; the
slope is the bytes per vector, the intercept the fixed part (centroids, codebooks).

    python scripts/bench_scaleout.py                                  # 1 vs 2 processes, index memory
    python scripts/bench_scaleout.py --processes 1 2 4 --steps 30 --json scaleout.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"csmae": ROOT / "configs" / "demo.yaml", "cmid": ROOT / "configs" / "cmid_demo.yaml"}
MODELS = {"csmae": ROOT / "assets" / "models" / "demo.pt", "cmid": ROOT / "assets" / "models" / "cmid-demo.pt"}
INDEX_KINDS = ("flat", "hnsw", "ivfsq8", "ivfpq", "ivfpq_sq8")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts to compare")
    p.add_argument("--methods", nargs="+", default=["csmae", "cmid"], help="families to train and embed with")
    p.add_argument("--steps", type=int, default=10, help="timed training steps (after --warmup)")
    p.add_argument("--warmup", type=int, default=2, help="untimed training steps first")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement, process counts interleaved (median)")
    p.add_argument("--batch", type=int, default=16, help="global training batch (pairs per step, all processes)")
    p.add_argument("--repeat-archive", type=int, default=8, help="embed the 60 demo pairs this many times")
    p.add_argument("--index-sizes", type=int, nargs=2, default=[10_000, 30_000], help="vectors per index (two sizes)")
    p.add_argument("--skip-index", action="store_true", help="no index memory measurement")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--worker", choices=("train", "embed"), help=argparse.SUPPRESS)  # one measurement, in DDP
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--devices", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def timer_callback(result: Path, start_batch: int, count: int, unit: str):
    """Seconds between barriers from batch `start_batch` to the end, written by rank 0 as JSON."""
    import lightning as L
    import torch

    class Timer(L.Callback):
        def _start(self, trainer, batch_index):
            if batch_index == start_batch:
                trainer.strategy.barrier()
                self.started = time.perf_counter()

        def _end(self, trainer):
            trainer.strategy.barrier()
            seconds = time.perf_counter() - self.started
            if trainer.is_global_zero:
                result.write_text(json.dumps({"processes": trainer.world_size, "threads": torch.get_num_threads(),
                                              "seconds": seconds, unit: count, f"{unit}_per_s": count / seconds}))

        def on_train_batch_start(self, trainer, module, batch, batch_index):
            self._start(trainer, trainer.global_step)

        def on_train_end(self, trainer, module):
            self._end(trainer)

        def on_predict_batch_start(self, trainer, module, batch, batch_index, dataloader_index=0):
            self._start(trainer, batch_index)

        def on_predict_end(self, trainer, module):
            self._end(trainer)

    return Timer()


def trainer_for(args, callback, **settings):
    import lightning as L

    from csmae_core.training.parallel import ddp_strategy

    strategy = ddp_strategy("ddp") if args.devices > 1 else "auto"
    return L.Trainer(accelerator="cpu", devices=args.devices, strategy=strategy,
                     logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                     callbacks=[callback], **settings)


def train_worker(args) -> None:
    import lightning as L

    from csmae_core.io.packed import PackedArchive
    from csmae_core.training.config import TrainConfig
    from csmae_core.training.data import make_loader
    from csmae_core.training.families import LIGHTNING_MODULES

    config = TrainConfig.from_yaml(CONFIGS[args.method])
    L.seed_everything(config.seed)
    archive = PackedArchive(ROOT / "assets" / "demo")
    family = LIGHTNING_MODULES[config.method]
    dataset = family.make_dataset(archive, list(range(len(archive))), config)
    loader = make_loader(dataset, args.batch // args.devices, 0)
    trainer = trainer_for(args, timer_callback(args.result, args.warmup, args.steps, "steps"),
                          max_steps=args.warmup + args.steps, max_epochs=-1, precision=config.precision)
    trainer.fit(family(config.to_dict()), loader)


def embed_worker(args) -> None:
    from torch.utils.data import ConcatDataset, DataLoader

    from csmae_core.io.packed import PackedArchive
    from csmae_core.models.load import load_model
    from csmae_core.retrieval.embedding import ArchiveInputs, EmbedModule

    encoder = load_model(MODELS[args.method], "cpu")
    pairs = ConcatDataset([ArchiveInputs(PackedArchive(ROOT / "assets" / "demo"), encoder.transpose_input)]
                          * args.repeat_archive)
    if len(pairs) <= 32 * args.devices:
        raise SystemExit("raise --repeat-archive: every process needs more than one batch of 32")
    loader = DataLoader(pairs, batch_size=32, shuffle=False)
    timed = len(pairs) - 32 * args.devices  # the first batch of every process is warm-up
    trainer = trainer_for(args, timer_callback(args.result, 1, timed, "pairs"), precision="32-true")
    trainer.predict(EmbedModule(encoder), loader, return_predictions=False)


def measure(kind: str, method: str, processes: int, args, folder: Path) -> dict:
    """One worker run (its own processes, launched by Lightning) -> its rank 0's result."""
    result = folder / f"{kind}-{method}-{processes}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--method", method,
               "--devices", str(processes), "--result", str(result), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--batch", str(args.batch), "--repeat-archive", str(args.repeat_archive)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(result.read_text())


def index_memory(sizes: list[int], dim: int = 768) -> dict:
    """Bytes per vector (slope between the two sizes) and fixed bytes of each index type (nlist 256)."""
    import numpy as np

    from csmae_core.retrieval.faiss_index import build_index, choose_spec, index_bytes

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((max(sizes), dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    report = {}
    for kind in INDEX_KINDS:
        spec = choose_spec(kind, min(sizes), dim)
        spec.nlist = min(spec.nlist, 256)
        started = time.perf_counter()
        sizes_bytes = [index_bytes(build_index(vectors[:n], spec)) for n in sizes]
        per_vector = (sizes_bytes[1] - sizes_bytes[0]) / (sizes[1] - sizes[0])
        report[kind] = {"bytes_per_vector": per_vector, "fixed_bytes": sizes_bytes[0] - per_vector * sizes[0],
                        "build_s": time.perf_counter() - started, "spec": spec.to_dict()}
    return report


def repeated(kind: str, method: str, args, folder: Path) -> list[dict]:
    """Per process count: the median rate of `args.repeats` runs (counts interleaved, so a busy spell of the
    machine hits all of them) and every run's rate."""
    runs: dict[int, list[dict]] = {n: [] for n in args.processes}
    for _ in range(args.repeats):
        for n in args.processes:
            runs[n].append(measure(kind, method, n, args, folder))
    rate = next(k for k in runs[args.processes[0]][0] if k.endswith("_per_s"))
    return [{"processes": n, "threads": runs[n][0]["threads"], "median": statistics.median(r[rate] for r in runs[n]),
             "runs": [r[rate] for r in runs[n]]} for n in args.processes]


def print_report(report: dict) -> None:
    print(f"Data-parallel throughput, CPU ({report['cpus']} cores), same global work per process count, "
          f"median of {report['repeats']} (each run's rate in brackets):")
    for name, rows in report["throughput"].items():
        base = rows[0]["median"]
        cells = [f"{r['processes']} proc x {r['threads']} threads {r['median']:7.2f} "
                 f"[{', '.join(f'{v:.2f}' for v in r['runs'])}]" for r in rows]
        ratios = "  ".join(f"x{r['processes']}/x1 {r['median'] / base:.2f}" for r in rows[1:])
        print(f"  {name:28} " + " | ".join(cells) + f" | {ratios}")
    if report.get("index_memory"):
        print("\nFAISS index memory (d = 768, serialized):")
        for kind, row in report["index_memory"].items():
            print(f"  {kind:10} {row['bytes_per_vector']:9.1f} B/vector + {row['fixed_bytes'] / 2**20:7.2f} MiB fixed "
                  f"(nlist {row['spec']['nlist']}, built in {row['build_s']:.1f} s)")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        (train_worker if args.worker == "train" else embed_worker)(args)
        return 0
    report = {"processes": args.processes, "cpus": os.cpu_count(), "repeats": args.repeats, "throughput": {}}
    with tempfile.TemporaryDirectory() as folder:
        for method in args.methods:
            report["throughput"][f"{method} training steps/s"] = repeated("train", method, args, Path(folder))
            report["throughput"][f"{method} embedding pairs/s"] = repeated("embed", method, args, Path(folder))
    if not args.skip_index:
        report["index_memory"] = index_memory(args.index_sizes)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

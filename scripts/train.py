"""Train CSMAE or CMID (self-supervised; labels are never used) on any BigEarthNet archive.

    python scripts/train.py --config configs/csmae_secd.yaml --archive PATH [--metadata M] --out runs/secd
    python scripts/train.py --config configs/demo.yaml --split all --export assets/models/demo.pt
    python scripts/train.py --config configs/cmid_demo.yaml --split all --export models/cmid-demo.pt

The config's `method` (csmae by default, or cmid; --method overrides it) picks the model and its
LightningModule; --export writes that family's project checkpoint.

The same command trains on CPU, one GPU or many nodes: --accelerator/--devices/--num-nodes/--strategy/
--precision pass through to Lightning (--batch-size is per process; a step on N processes is the step of one
process on the N batches together). Rerunning with the same --out resumes from its last checkpoint
(after a crash or kill -9 of any process). Logs: CSV (and TensorBoard when installed) under --out/logs.
See docs/SCALING.md for torchrun / SLURM command lines.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path

from csmae_core.cli import run_script
from csmae_core.training.config import METHODS
from csmae_core.training.parallel import DEFAULT_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[1]

log = logging.getLogger("train")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, required=True, help="experiment YAML (configs/*.yaml)")
    p.add_argument("--method", choices=METHODS, help="override the config's method (default csmae)")
    p.add_argument("--archive", type=Path, default=ROOT / "assets" / "demo",
                   help="archive folder: packed demo, v2 tree, rico-hdl or encoder LMDB (default: the demo)")
    p.add_argument("--metadata", type=Path, help="reBEN metadata.parquet (v2 trees and rico-hdl LMDBs)")
    p.add_argument("--split", help="split(s) to train on, e.g. train, 'train,validation' or all (overrides config)")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "train", help="run folder (checkpoints, logs)")
    p.add_argument("--epochs", type=int, help="override optim.epochs")
    p.add_argument("--batch-size", type=int, help="override optim.batch_size (per process: the global batch is this x "
                   "devices x nodes)")
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (smoke tests)")
    p.add_argument("--workers", type=int, help="DataLoader worker processes (overrides data.num_workers)")
    p.add_argument("--accelerator", default="auto", help="cpu, gpu or auto (default: GPU when present)")
    p.add_argument("--devices", default="auto", help="devices per node: a count, a list or auto")
    p.add_argument("--num-nodes", type=int, default=1, help="nodes for multi-node training")
    p.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="seconds a DDP process waits for the others in a collective before giving up (a hung or "
                        f"unreachable peer ends the run; default {DEFAULT_TIMEOUT_S}, torch's own is 1800)")
    p.add_argument("--precision", help="32-true, 16-mixed or bf16-mixed (overrides config)")
    p.add_argument("--checkpoint-every", type=int, default=50, help="also checkpoint every N steps (resume mid-epoch)")
    p.add_argument("--fresh", action="store_true", help="ignore an existing last checkpoint in --out")
    p.add_argument("--export", type=Path, help="write the trained model in the project's checkpoint format here")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set model.size=tiny (repeatable)")
    return p.parse_args(argv)


def build_config(args):
    from csmae_core.training.config import TrainConfig

    overrides = list(args.overrides)
    for flag, key in ((args.epochs, "optim.epochs"), (args.batch_size, "optim.batch_size"),
                      (args.split, "data.split"), (args.workers, "data.num_workers"),
                      (args.precision, "precision"), (args.method, "method")):
        if flag is not None:
            overrides.append(f"{key}={flag}")
    return TrainConfig.from_yaml(args.config, overrides)


def make_trainer(args, config):
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from csmae_core.training.parallel import ddp_strategy

    loggers = [CSVLogger(args.out, name="logs")]
    try:
        import tensorboard  # noqa: F401
        loggers.append(TensorBoardLogger(args.out, name="tensorboard"))
    except ImportError:
        pass
    # One rolling `last.ckpt`, written atomically every N steps (not every epoch: on a small archive an
    # epoch is one step and saving would cost more than training).
    checkpoints = ModelCheckpoint(dirpath=args.out / "checkpoints", save_last=True, save_top_k=0,
                                  every_n_train_steps=args.checkpoint_every)
    return L.Trainer(max_epochs=config.optim.epochs, max_steps=args.max_steps, accelerator=args.accelerator,
                     devices=args.devices, num_nodes=args.num_nodes,
                     strategy=ddp_strategy(args.strategy, args.timeout),
                     precision=config.precision, logger=loggers, callbacks=[checkpoints],
                     log_every_n_steps=1, enable_progress_bar=True, deterministic=False)


def model_card(config, args, dataset, trainer, seconds: float) -> dict:
    losses = {k.removeprefix("train/"): round(float(v), 4) for k, v in trainer.callback_metrics.items()
              if k.startswith("train/")}
    return {"method": config.method, "model": config.model.to_dict(), "optim": config.to_dict()["optim"],
            "data": {"archive": args.archive.name, "split": config.data.split, "pairs": len(dataset),
                     "pair_ids": [dataset.archive.table["pair_id"].iloc[i] for i in dataset.indices],
                     "labels_used": False},
            "epochs": trainer.current_epoch, "steps": trainer.global_step, "final_losses": losses,
            "wall_time_s": round(seconds, 1), "precision": config.precision,
            "command": "python scripts/train.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])}


def run(args) -> int:
    import lightning as L

    from csmae_core.io.detect import open_archive
    from csmae_core.training.data import make_loader, select_split
    from csmae_core.training.families import LIGHTNING_MODULES

    config = build_config(args)
    L.seed_everything(config.seed, workers=True)
    archive = open_archive(args.archive, args.metadata)
    lightning_module = LIGHTNING_MODULES[config.method]
    dataset = lightning_module.make_dataset(archive, select_split(archive, config.data.split), config)
    module = lightning_module(config.to_dict())
    loader = make_loader(dataset, config.optim.batch_size, config.data.num_workers)
    trainer = make_trainer(args, config)
    last = args.out / "checkpoints" / "last.ckpt"
    resume = str(last) if last.is_file() and not args.fresh else None
    if resume:
        log.info("resuming from %s", last)
    started = time.time()
    trainer.fit(module, loader, ckpt_path=resume)
    if args.export and trainer.is_global_zero:
        digest = module.export(args.export, model_card(config, args, dataset, trainer, time.time() - started))
        log.info("exported %s (encoder hash %s)", args.export, digest[:12])
    return 0


def main(argv=None) -> int:
    return run_script(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

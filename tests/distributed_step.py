"""Driver of tests/test_distributed_training.py: ONE optimizer step of each family's production LightningModule
on the same global batch of 8 real demo pairs, run by however many processes the command line asks for, and
what the step did saved by global rank 0 (one file per case): the loss terms averaged over the processes,
the gradients DDP applied, and the whole state after the step (student, teacher, BatchNorm statistics,
queue, centre).

    python -m tests.distributed_step OUT --devices 1                  # the reference: one process
    python -m tests.distributed_step OUT --devices 2                  # two processes, Lightning's launcher
    NODE_RANK=r MASTER_ADDR=127.0.0.1 MASTER_PORT=p python -m tests.distributed_step OUT --num-nodes 2
    python -m tests.distributed_step OUT --devices 2 --accelerator gpu --precision bf16-mixed   # 2 GPUs

What would differ between process counts for reasons other than the data-parallel maths is held fixed:
augmentation, jitter and shuffling are off, and every sample brings its own mask noise (seeded by its index),
so each process draws the masks its samples would get in a one-process run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from tests.conftest import DEMO, ROOT

GLOBAL_BATCH = 8
NO_AUGMENTATION = ["data.flips=false", "data.rotations=false", "data.crop_min=120"]
CMID_SMALL = ["model.depth=1", "model.projection_dim=16", "model.projection_hidden_dim=32", "model.num_prototypes=16",
              "model.local_hidden_dim=32", "model.local_bottleneck_dim=16", "model.local_layers=3",
              "model.spectral_jitter=0"]
# name -> (config, overrides): NT-Xent; in-batch InfoNCE + the frequency loss's batch spectrum; BatchNorm in the
# backbone and the prototype head + the MoCo queue.
CASES = {
    "csmae": ("configs/demo.yaml", ["model.size=tiny", "model.specific_depth=1", "model.shared_depth=1",
                                    "model.decoder_dim=32", "model.decoder_depth=1", "model.decoder_heads=2"]),
    "cmid": ("configs/cmid_demo.yaml", [*CMID_SMALL, "model.queue_size=0"]),
    "cmid_resnet_queue": ("configs/cmid_demo.yaml", [
        *CMID_SMALL, "model.queue_size=64", "model.backbone=resnet50",
        "model.backbone_args={layers: [1, 1, 1, 1], channels: [8, 8, 16, 16]}"]),
}


class WithMaskNoise(Dataset):
    """A family's training dataset whose items also carry their mask noise, drawn from the sample's index."""

    def __init__(self, dataset: Dataset, method: str, blocks: int):
        self.dataset, self.method = dataset, method
        self.shape = (2, blocks) if method == "csmae" else (2, 2, blocks)  # (sensor, [view,] block)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        noise = torch.rand(self.shape, generator=torch.Generator().manual_seed(1000 + index))
        item = self.dataset[index]
        return (*item, noise) if self.method == "csmae" else {**item, "noise": noise}


def make_callback(path: Path):
    import lightning as L

    class RecordStep(L.Callback):
        """Gradients as DDP averaged them, then (after the step) losses and the module's whole state."""

        def on_before_optimizer_step(self, trainer, module, optimizer):
            self.grads = {n: p.grad.detach().cpu().clone() for n, p in module.named_parameters() if p.grad is not None}

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_index):
            losses = {k.removeprefix("train/"): float(trainer.strategy.reduce(v.detach().clone(), reduce_op="mean"))
                      for k, v in sorted(trainer.callback_metrics.items()) if k.startswith("train/")}
            if trainer.is_global_zero:
                state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
                torch.save({"losses": losses, "grads": self.grads, "state": state, "world_size": trainer.world_size},
                           path)

    return RecordStep()


def run_case(name: str, out: Path, devices: int, num_nodes: int, accelerator: str = "cpu",
             precision: str = "32-true") -> None:
    import lightning as L

    from csmae_core.io.packed import PackedArchive
    from csmae_core.training.config import TrainConfig
    from csmae_core.training.families import LIGHTNING_MODULES
    from csmae_core.training.parallel import ddp_strategy

    config_path, overrides = CASES[name]
    config = TrainConfig.from_yaml(ROOT / config_path, [*overrides, *NO_AUGMENTATION])
    L.seed_everything(config.seed)
    family = LIGHTNING_MODULES[config.method]
    model = config.model
    blocks = (model.img_size // (model.patch_size if config.method == "csmae" else model.mask_patch_size)) ** 2
    dataset = WithMaskNoise(family.make_dataset(PackedArchive(DEMO), list(range(GLOBAL_BATCH)), config),
                            config.method, blocks)
    processes = devices * num_nodes
    loader = DataLoader(dataset, batch_size=GLOBAL_BATCH // processes, shuffle=False)
    trainer = L.Trainer(max_steps=1, accelerator=accelerator, devices=devices, num_nodes=num_nodes,
                        strategy=ddp_strategy("ddp", timeout_s=120) if processes > 1 else "auto",
                        precision=precision, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[make_callback(out / f"{name}.pt")])
    trainer.fit(family(config.to_dict()), loader)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--num-nodes", type=int, default=1)
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--precision", default="32-true")
    p.add_argument("--cases", default=",".join(CASES))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.cases.split(","):
        run_case(name, args.out, args.devices, args.num_nodes, args.accelerator, args.precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())

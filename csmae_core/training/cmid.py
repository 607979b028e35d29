"""Training CMID with PyTorch Lightning, next to `csmae_core.training.csmae.CSMAELightning`: the same config
dict (method/model/optim/data/seed/precision), optimizer, schedule and non-finite guard.

The teacher, the queues and the centres are module state (parameters without gradient and buffers), so
Lightning checkpoints carry them and a resumed run continues with the same teacher. The EMA update runs
once per optimizer step, right after it (so a checkpoint written at step N holds the teacher of step N),
as the official EMAHook does after every iteration.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch

from csmae_core.io.archive import PairArchive
from csmae_core.models.cmid.checkpoint import save_cmid_checkpoint, student_checkpoint
from csmae_core.models.cmid.losses import cosine_momentum, teacher_temperature
from csmae_core.models.cmid.model import CMID
from csmae_core.training.config import TrainConfig
from csmae_core.training.parallel import share_global_batch
from csmae_core.training.schedules import adamw_with_schedule, check_finite
from csmae_core.training.views import TwoViewDataset


class CMIDLightning(L.LightningModule):
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.train_config = TrainConfig.from_dict({**config, "method": "cmid"})
        # Plain data only, so checkpoints load with weights_only=True and in load_model.
        self.save_hyperparameters({"train_config": self.train_config.to_dict(),
                                   "cmid_config": self.train_config.model.to_dict(), "method": "cmid",
                                   "transpose_input": False})
        self.model = CMID(self.train_config.model)

    @staticmethod
    def make_dataset(archive: PairArchive, indices: list[int], config: TrainConfig) -> TwoViewDataset:
        """Two co-registered views of every pair, with pixel locations."""
        return TwoViewDataset(archive, indices, config.data, config.model.spectral_jitter)

    def teacher_temperature(self) -> float:
        cfg = self.train_config.model
        return teacher_temperature(self.current_epoch, cfg.teacher_temperature_warmup, cfg.teacher_temperature,
                                   cfg.teacher_temperature_warmup_epochs)

    def momentum(self, step: int) -> float:
        cfg = self.train_config.model
        total = max(1, int(self.trainer.estimated_stepping_batches))
        return cosine_momentum(step, total, cfg.momentum_base, cfg.momentum_final)

    def setup(self, stage: str) -> None:
        share_global_batch(self.model, self.trainer.world_size)

    def training_step(self, batch, batch_index):
        # a batch may carry per-sample mask noise under "noise" (tests compare process counts)
        output = self.model(batch, self.teacher_temperature(), None, batch.get("noise"))
        check_finite(output.losses, self.global_step, self.current_epoch)
        self._update_running_state(output)
        size = batch["a"]["s1"].shape[0]
        self.log_dict({f"train/{k}": v for k, v in output.losses.items()}, on_step=True, batch_size=size)
        self.log("loss", output.losses["loss"], prog_bar=True, batch_size=size)
        self.log_dict({"schedule/momentum": self.momentum(self.global_step),
                       "schedule/teacher_temperature": self.teacher_temperature()}, on_step=True, batch_size=size)
        return output.losses["loss"]

    @torch.no_grad()
    def _update_running_state(self, output) -> None:
        """Queue and centre see every device's teacher outputs (the official code gathers them too)."""
        dim, prototypes = self.train_config.model.projection_dim, self.train_config.model.num_prototypes
        keys = {s: self.all_gather(k).reshape(-1, dim) for s, k in output.keys.items()}
        means = {s: self.all_gather(m).reshape(-1, prototypes).mean(dim=0) for s, m in output.center_means.items()}
        self.model.update_state(keys, means)

    def optimizer_step(self, epoch, batch_index, optimizer, optimizer_closure=None):
        # The teacher follows right after each optimizer step, before any callback (e.g. the checkpoint
        # written at this step) sees the module. global_step still counts the steps before this one.
        super().optimizer_step(epoch, batch_index, optimizer, optimizer_closure)
        self.model.update_teacher(self.momentum(self.global_step))

    def configure_optimizers(self):
        return adamw_with_schedule(self.model.student_parameters(), self.train_config.optim, self.trainer)

    def export(self, path: str | Path, card: dict) -> str:
        """The student networks (what CMID hands to downstream tasks) in the project format; returns the hash."""
        cfg = self.train_config.model
        card = {**card, "backbone": cfg.backbone, "cross_sensor": cfg.cross_sensor, "retrieval_weights": "student"}
        return save_cmid_checkpoint(student_checkpoint(self, card), path)

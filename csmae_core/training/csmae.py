"""Training CSMAE with PyTorch Lightning: losses from the model, AdamW with warm-up + cosine, the
non-finite guard, and the export of the trained encoder in the project format."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L

from csmae_core.io.archive import PairArchive
from csmae_core.models.csmae.checkpoint import Checkpoint, save_checkpoint, split_state
from csmae_core.models.csmae.compat import published_to_model_keys
from csmae_core.models.csmae.model import CSMAE
from csmae_core.training.config import TrainConfig
from csmae_core.training.data import PairDataset
from csmae_core.training.parallel import share_global_batch
from csmae_core.training.schedules import adamw_with_schedule, check_finite


class CSMAELightning(L.LightningModule):
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        # Plain data only, so checkpoints load with weights_only=True and in load_model.
        self.save_hyperparameters({"train_config": config, "csmae_config": config["model"],
                                   "transpose_input": False})
        self.train_config = TrainConfig.from_dict(config)
        self.model = CSMAE(self.train_config.model)

    @staticmethod
    def make_dataset(archive: PairArchive, indices: list[int], config: TrainConfig) -> PairDataset:
        """(S1, S2) pairs, augmented jointly."""
        return PairDataset(archive, indices, config.data)

    def setup(self, stage: str) -> None:
        share_global_batch(self.model, self.trainer.world_size)

    def training_step(self, batch, batch_index):
        # a batch may carry per-sample mask noise (N, 2, L) after the images (tests compare process counts)
        x_s1, x_s2, *mask_noise = batch
        losses = self.model(x_s1, x_s2, None, *mask_noise)
        check_finite(losses, self.global_step, self.current_epoch)
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=False, on_step=True,
                      batch_size=x_s1.shape[0])
        self.log("loss", losses["loss"], prog_bar=True, batch_size=x_s1.shape[0])
        return losses["loss"]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A run resumed from a `last.ckpt` written before the key renaming: its published names become
        this model's (parameter order is unchanged, so the optimiser state still fits)."""
        checkpoint["state_dict"] = published_to_model_keys(checkpoint["state_dict"])

    def configure_optimizers(self):
        return adamw_with_schedule(self.model.parameters(), self.train_config.optim, self.trainer)

    def export(self, path: str | Path, card: dict) -> str:
        """The trained encoder (and decoders) in the project format; returns the encoder hash."""
        encoder, decoder = split_state(self.model.state_dict())
        card = {**card, "variant": self.train_config.model.variant}
        return save_checkpoint(Checkpoint(self.train_config.model, encoder, decoder, False, card, "project"), path)

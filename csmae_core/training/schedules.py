"""Optimiser, learning-rate schedule and the non-finite guard, shared by every family's LightningModule."""
from __future__ import annotations

import math

import torch

from csmae_core.errors import NonFiniteLossError
from csmae_core.training.config import OptimConfig


def warmup_cosine(step: int, warmup: int, total: int, floor: float) -> float:
    """LR multiplier: linear warm-up over `warmup` steps, then cosine from 1 to `floor` at `total`."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def check_finite(losses: dict[str, torch.Tensor], step: int, epoch: int) -> None:
    """Stop with the step and every loss term named when any term is NaN/inf."""
    if not all(torch.isfinite(v).item() for v in losses.values()):
        values = {k: float(v) for k, v in losses.items()}
        raise NonFiniteLossError(f"non-finite loss at step {step} (epoch {epoch}): {values}; lower the "
                                 "learning rate or use 32-bit precision")


def adamw_with_schedule(parameters, optim: OptimConfig, trainer) -> dict:
    """AdamW with linear warm-up then cosine decay to min_lr, stepped per optimizer step."""
    optimizer = torch.optim.AdamW(parameters, lr=optim.lr, weight_decay=optim.weight_decay, betas=optim.betas)
    total = max(1, int(trainer.estimated_stepping_batches))
    warmup = int(round(optim.warmup_epochs * total / max(1, trainer.max_epochs)))
    floor = optim.min_lr / optim.lr if optim.lr else 0.0
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total, floor))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

"""What changes when one training run spans several processes (GPUs, nodes; Lightning DDP).

The model must see the global batch, not its process's slice: `share_global_batch` hands it the process
group (`csmae_core.models.collectives`: gathered negatives, global averages) and makes its BatchNorm
layers use every process's samples, so a step on W processes equals the step of one process on the
same global batch. `ddp_strategy` bounds how long a process waits for the others: when a peer hangs or its
node becomes unreachable, the run ends after `timeout_s` instead of torch's 30 minutes (a peer that dies
on a reachable host is noticed at once: its connections close).
"""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from csmae_core.errors import InputError

if TYPE_CHECKING:
    import torch.nn as nn

DEFAULT_TIMEOUT_S = 600  # longer than any checkpoint write or step of a large model; far below torch's 30 min


def share_global_batch(model: nn.Module, world_size: int) -> None:
    """Called by the LightningModules once the process group is up (their `setup` hook); nothing to do on
    one process, whose results stay exactly what they were."""
    from csmae_core.models.collectives import ProcessGroupRanks, convert_batchnorm  # torch: not for --help

    if world_size > 1:
        model.ranks = ProcessGroupRanks()
        convert_batchnorm(model, model.ranks)


def ddp_strategy(name: str, timeout_s: float = DEFAULT_TIMEOUT_S):
    """The Lightning strategy called `name` ('ddp', 'ddp_spawn', 'ddp_find_unused_parameters_true', ...) with
    the collective timeout set; any other name (auto, fsdp, deepspeed, ...) is passed on to Lightning as is."""
    from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry

    if not timeout_s > 0:
        raise InputError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}")
    entry = StrategyRegistry[name] if isinstance(name, str) and name in StrategyRegistry else None
    if entry is None or not issubclass(entry["strategy"], DDPStrategy):
        return name
    return entry["strategy"](**entry["init_params"], timeout=timedelta(seconds=timeout_s))

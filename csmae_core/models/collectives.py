"""What a training loss needs from the other processes of a data-parallel run, behind one small object.

A data-parallel step (W processes, each holding its slice of the global batch) equals the one-process step
on the global batch only if every term that mixes samples sees the whole global batch: the negatives of
NT-Xent and InfoNCE, a batch-average spectrum, BatchNorm statistics. Models hold a `Ranks`:
`SINGLE_PROCESS` (the default: every method is the identity, so one-process results stay bit for bit what
they were) or `ProcessGroupRanks()` (torch.distributed, set by the training module once the process group is
up). The models never ask torch.distributed anything themselves.

Gradients: each process's loss is the mean over its own samples, plus, for batch-global statistics, the
global value itself. `gather` and `sum` add up the gradients of all processes in their backward pass, so
every process holds W x its share of the global-batch gradient, and DDP's average over the W processes is
exactly the gradient of the global-batch loss (tests/test_distributed_training.py compares the weights).
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn


class Ranks:
    """One process (the default of every model): there is nothing to gather."""

    @property
    def world_size(self) -> int:
        return 1

    @property
    def rank(self) -> int:
        return 0

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """(n, ...) on every process -> (W * n, ...), process 0's rows first; gradients flow back."""
        return x

    def sum(self, x: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over the processes (real or complex); gradients flow back."""
        return x

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        return x


SINGLE_PROCESS = Ranks()


class _GatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group, ctx.rows = group, x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, x.contiguous(), group=group)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        # every process's loss may use these rows: their gradient is the sum over processes
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        start = dist.get_rank(ctx.group) * ctx.rows
        return grad[start:start + ctx.rows], None


class _SumOverRanks(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        total = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total, group=group)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class ProcessGroupRanks(Ranks):
    """The processes of a torch.distributed process group (the default group: all of them). Every process
    must call each method in the same order with tensors of the same shape (equal batches per process)."""

    def __init__(self, group=None):
        self.group = group

    @property
    def world_size(self) -> int:
        return dist.get_world_size(self.group)

    @property
    def rank(self) -> int:
        return dist.get_rank(self.group)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        return _GatherRows.apply(x, self.group)

    def sum(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_complex():
            return torch.view_as_complex(self.sum(torch.view_as_real(x)))
        return _SumOverRanks.apply(x, self.group)

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.sum(x) / self.world_size


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch (every process's samples), on any
    device (torch's SyncBatchNorm runs on GPUs only). It takes over the parameters and buffers of the layer it
    replaces, so state_dict keys and values are unchanged; evaluation uses the running statistics as usual."""

    def __init__(self, layer: nn.modules.batchnorm._BatchNorm, ranks: Ranks):
        super().__init__(layer.num_features, layer.eps, layer.momentum, layer.affine, layer.track_running_stats)
        self.weight, self.bias = layer.weight, layer.bias
        if layer.track_running_stats:
            self.running_mean, self.running_var = layer.running_mean, layer.running_var
            self.num_batches_tracked = layer.num_batches_tracked
        self.ranks = ranks

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (N, C, ...), got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.ranks.world_size == 1:
            return super().forward(x)
        self._check_input_dim(x)
        dims, shape = [0, *range(2, x.dim())], [1, -1] + [1] * (x.dim() - 2)
        values = x.float()  # statistics in float32 also under bf16/fp16 autocast, as torch's BatchNorm does
        count = self.ranks.sum(torch.tensor(float(x.numel() // x.shape[1]), device=x.device))
        mean = self.ranks.sum(values.sum(dims)) / count
        centred = values - mean.view(shape)
        variance = self.ranks.sum((centred * centred).sum(dims)) / count  # two passes: no cancellation
        out = centred * torch.rsqrt(variance + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        out = out.to(x.dtype)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), factor)
                unbiased = variance.detach() * count / (count - 1).clamp_min(1)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        return out


def convert_batchnorm(module: nn.Module, ranks: Ranks) -> nn.Module:
    """Every BatchNorm1d/2d/3d in `module` (in place, recursively) becomes a GlobalBatchNorm over `ranks`."""
    for name, child in module.named_children():
        if type(child) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
            setattr(module, name, GlobalBatchNorm(child, ranks))
        else:
            convert_batchnorm(child, ranks)
    return module

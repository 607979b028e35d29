"""What a throughput figure is measured against: the FLOPs one embedding costs (counted by torch while it
runs, so any encoder family counts the same way) and the dense-matmul FLOP rate of the same machine in the
same run (the ceiling: a benchmark reports its rate as a share of it)."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from csmae_core.bands import PATCH_PIXELS, model_channels
from csmae_core.models.base import EncoderBase


def timed(fn: Callable, repeats: int, device: torch.device) -> float:
    """Median seconds of `fn()` after one warm-up call (CUDA work is waited for)."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(device: torch.device, dtype: torch.dtype, repeats: int = 3) -> float:
    """Dense matmul FLOP/s at `dtype`: the ceiling an encoder's FLOP rate is compared with."""
    n = 2048 if device.type == "cpu" else 8192
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n ** 3 / timed(lambda: a @ b, repeats, device)


@torch.inference_mode()
def embedding_flops(encoder: EncoderBase, sensor: str) -> float:
    """FLOPs of one `sensor` embedding as torch counts them (matmuls, convolutions, attention) at fp32."""
    x = torch.zeros(1, model_channels(sensor), PATCH_PIXELS, PATCH_PIXELS, device=encoder.device)
    precision, encoder.precision = encoder.precision, "fp32"
    try:
        with FlopCounterMode(display=False) as counter:
            encoder.embed(x, sensor)
    finally:
        encoder.precision = precision
    return float(counter.get_total_flops())

"""Throughput of `encoder.embed` against a straightforward reference, in one run.

Reference: the same weights in an eager timm-based two-branch encoder (csmae_core.models.csmae.reference) that, like
the published code, computes both sensors on every call; ours gets its weights in the published layout, through
the loaders' key filter. Ours: `CSMAERetrievalEncoder.embed` computes only the
query's sensor; `embed_pair` runs the shared blocks once on the concatenated S1+S2 batch.
Reported per (precision, batch): patches/s of S1 queries, S2 queries and pairs for ours and the reference,
speed-up ratios, max |difference| of the embeddings (fp32 must be identical up to float error), and the
achieved FLOP rate against a dense-matmul peak measured in the same run.

    python scripts/bench_encoder.py                      # ViT-B SECD, batch 1 and 64, fp32 and bf16
    python scripts/bench_encoder.py --variant cecd --batches 1 8 --repeats 5 --json out.json
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

from csmae_core.models.base import default_device
from csmae_core.models.csmae.checkpoint import Checkpoint, split_state
from csmae_core.models.csmae.config import CSMAEConfig
from csmae_core.models.csmae.encoder import CSMAERetrievalEncoder
from csmae_core.models.csmae.model import encoder_flops
from csmae_core.models.csmae.reference import PublishedLayoutEncoder
from csmae_core.models.throughput import matmul_peak, timed


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="secd", help="cecd, cesd, secd or sesd (default secd: 10 + 2 blocks)")
    p.add_argument("--size", default="base", help="tiny, small, base or large (default base)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64], help="batch sizes")
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], help="fp32 and/or bf16 (autocast)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (median reported)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def build(cfg: CSMAEConfig, device: torch.device):
    """(ours, reference) holding the same weights: the reference's published-layout state, renamed by
    `split_state` as every loader renames a published checkpoint."""
    torch.manual_seed(0)
    reference = PublishedLayoutEncoder(cfg.embed_dim, cfg.num_heads, cfg.specific_depth, cfg.shared_depth,
                                       cfg.img_size, cfg.patch_size, cfg.mlp_ratio)
    encoder_state, _ = split_state({f"backbone.{k}": v for k, v in reference.state_dict().items()})
    checkpoint = Checkpoint(cfg, encoder_state)
    ours = CSMAERetrievalEncoder(checkpoint.build_encoder(), checkpoint, device)
    return ours, reference.to(device).eval()


def measure(ours, reference, batch: int, precision: str, repeats: int, device: torch.device) -> dict:
    cfg = ours.config
    x_s1 = torch.randn(batch, 2, cfg.img_size, cfg.img_size, device=device)
    x_s2 = torch.randn(batch, 10, cfg.img_size, cfg.img_size, device=device)
    stacked = torch.cat([x_s2, x_s1], dim=1)
    ours.precision = precision
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16"
                else torch.autocast(device.type, enabled=False))

    def run_reference():
        with torch.inference_mode(), autocast:
            return reference(stacked)

    seconds = {"ours_s1": timed(lambda: ours.embed(x_s1, "s1"), repeats, device),
               "ours_s2": timed(lambda: ours.embed(x_s2, "s2"), repeats, device),
               "ours_pair": timed(lambda: ours.embed_pair(x_s1, x_s2), repeats, device),
               "reference_call": timed(run_reference, repeats, device)}
    expected = run_reference()
    s1, s2 = ours.embed_pair(x_s1, x_s2)
    difference = max((ours.embed(x_s1, "s1") - expected["s1"].float()).abs().max().item(),
                     (s1 - expected["s1"].float()).abs().max().item(), (s2 - expected["s2"].float()).abs().max().item())
    flops_pair = encoder_flops(cfg, "s1") + encoder_flops(cfg, "s2")
    return {"batch": batch, "precision": precision, "seconds": seconds,
            "patches_per_s": {k: batch / v for k, v in seconds.items()},
            "speedup_s1_query": seconds["reference_call"] / seconds["ours_s1"],
            "speedup_s2_query": seconds["reference_call"] / seconds["ours_s2"],
            "speedup_pair": seconds["reference_call"] / seconds["ours_pair"],
            "max_abs_difference": difference,
            "achieved_flops_pair": batch * flops_pair / seconds["ours_pair"]}


def print_table(results: list[dict], peaks: dict, header: str) -> None:
    print(header)
    print(f"{'prec':5} {'batch':>5} | {'S1 q/s':>8} {'S2 q/s':>8} {'pair/s':>8} {'ref pair/s':>10} | "
          f"{'S1 x':>6} {'S2 x':>6} {'pair x':>6} | {'max|diff|':>9} | {'GFLOP/s':>8} {'% peak':>6}")
    for r in results:
        p = r["patches_per_s"]
        rate = r["achieved_flops_pair"]
        print(f"{r['precision']:5} {r['batch']:>5} | {p['ours_s1']:8.1f} {p['ours_s2']:8.1f} {p['ours_pair']:8.1f} "
              f"{p['reference_call']:10.1f} | {r['speedup_s1_query']:6.2f} {r['speedup_s2_query']:6.2f} "
              f"{r['speedup_pair']:6.2f} | {r['max_abs_difference']:9.1e} | {rate / 1e9:8.1f} "
              f"{100 * rate / peaks[r['precision']]:6.1f}")
    for precision, peak in peaks.items():
        print(f"dense matmul peak ({precision}): {peak / 1e9:.1f} GFLOP/s")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else default_device()
    cfg = CSMAEConfig(variant=args.variant, size=args.size)
    ours, reference = build(cfg, device)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    peaks = {p: matmul_peak(device, dtypes[p], args.repeats) for p in args.precisions}
    results = [measure(ours, reference, b, p, args.repeats, device) for p in args.precisions for b in args.batches]
    header = (f"CSMAE-{cfg.variant.upper()} ViT-{args.size} ({cfg.specific_depth}+{cfg.shared_depth} blocks), "
              f"{device} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), "
              f"torch {torch.__version__}, median of {args.repeats}")
    print_table(results, peaks, header)
    if args.json:
        args.json.write_text(json.dumps({"header": header, "peaks": peaks, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the frozen fixture tests/data/published_backbone.npz: retrieval embeddings that the PUBLISHED CSMAE
backbone code (github jakhac/CSMAE, src/csmae_backbone.py) computes for seeded random weights.

Run once, by hand, with a checkout of the published code; only numbers are committed (the published code
never enters this repository, and nothing of it is copied here):

    git -C MIRROR archive HEAD src | tar -x -C /tmp/csmae-published      # or any work tree of jakhac/CSMAE
    .venv/bin/python scripts/make_published_fixture.py --published /tmp/csmae-published

(--published defaults to $CSMAE_PUBLISHED_CODE.) For each layout, CE (0 sensor-specific + 2 shared blocks)
and SE (2 + 1), a ViT-Tiny backbone of the published code (`vit_tiny`: 192-d, 3 heads, LayerNorm eps 1e-6,
patch 15 on 120 px, avg pooling with fc_norm) gets weights from `seeded_published_state` (a rule on the key
names and shapes, so tests/test_published_fixture.py rebuilds the same weights without the published code),
embeds seeded random S1 and S2 inputs as the published pipeline feeds them (stacked [S2, S1], transposed
H <-> W as its data loader does), and the L2-normalised vectors are stored with the key names and shapes, the
published sin-cos positional table, the seeds and the versions. The fixed table (`pos_embed`) is not drawn:
it is what the published code computes.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "data" / "published_backbone.npz"
WEIGHT_SEED = 20240113
INPUT_SEED = 7
SAMPLES = 3
IMG_SIZE, PATCH_SIZE = 120, 15
# layout -> (multi_sensor_encoder_depth, cross_sensor_encoder_depth), the published kwargs' names
LAYOUTS = {"ce": (0, 2), "se": (2, 1)}
FIXED = ("pos_embed",)  # published sin-cos table: stored as the published code computes it, not drawn


def seeded_published_state(names: list[str], shapes: list[tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """The fixture's weights, drawn in the given key order from one generator: LayerNorm gains
    0.05 x (1 + 0.2 x N(0, 1)) and biases 0.005 x N(0, 1), everything else 0.02 x N(0, 1). Small gains keep
    the LayerNorms' inputs small (fc_norm's above all), so a wrong eps (1e-5 for 1e-6) moves the embeddings
    several times the test's tolerance while the inputs still matter (tests/test_published_fixture.py)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in zip(names, shapes):
        noise = torch.randn(tuple(shape), generator=generator)
        parts = name.split(".")
        is_norm = len(parts) > 1 and "norm" in parts[-2]
        if is_norm and parts[-1] == "weight":
            state[name] = 0.05 * (1.0 + 0.2 * noise)
        else:
            state[name] = (0.005 if is_norm else 0.02) * noise
    return state


def seeded_inputs(seed: int = INPUT_SEED, n: int = SAMPLES) -> dict[str, torch.Tensor]:
    """Model-input S1 (n, 2, 120, 120) and S2 (n, 10, 120, 120) in the model's orientation (not transposed):
    noise plus a per-sample band offset (pure noise would pool to nearly the same vector for every sample)."""
    generator = torch.Generator().manual_seed(seed)
    return {sensor: torch.randn(n, bands, IMG_SIZE, IMG_SIZE, generator=generator)
            + torch.randn(n, bands, 1, 1, generator=generator) for sensor, bands in (("s1", 2), ("s2", 10))}


def _import_published_backbone(folder: Path):
    """src.csmae_backbone from a checkout, in the environment it was written for: its unused `src.utils`
    import (Lightning callbacks, omegaconf) is stood in for, since the backbone uses nothing from it, and
    `np.float` (removed in NumPy 1.24) is the builtin float it used to be."""
    if not (folder / "src" / "csmae_backbone.py").is_file():
        raise FileNotFoundError(f"{folder} holds no src/csmae_backbone.py: pass a checkout of jakhac/CSMAE")
    package = types.ModuleType("src")  # the published `src` folder as a package, found by its own path
    package.__path__ = [str(folder / "src")]
    stand_in = types.ModuleType("src.utils")
    stand_in.Messages = object
    sys.modules.update({"src": package, "src.utils": stand_in})
    if not hasattr(np, "float"):  # the published pos_encoding uses np.float, the builtin float before NumPy 1.24
        np.float = float
    return importlib.import_module("src.csmae_backbone")


def _published_commit(folder: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("CSMAE_PUBLISHED_COMMIT", "unknown")


def layout_arrays(published, layout: str, inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    specific, shared = LAYOUTS[layout]
    model = published.vit_tiny(img_size=IMG_SIZE, patch_size=PATCH_SIZE, in_chans=12, global_pool="avg",
                               multi_sensor_encoder_depth=specific, cross_sensor_encoder_depth=shared,
                               masking_strategy="random", num_classes=0).eval()
    reference = model.state_dict()
    names = sorted(k for k in reference if k not in FIXED)
    shapes = [tuple(reference[k].shape) for k in names]
    model.load_state_dict({**reference, **seeded_published_state(names, shapes, WEIGHT_SEED)})
    stacked = torch.cat([inputs["s2"], inputs["s1"]], dim=1).transpose(-1, -2)  # the published loader's transpose
    with torch.no_grad():
        out = model(stacked)
    return {f"{layout}_names": np.array(names), f"{layout}_shapes": np.array(json.dumps(shapes)),
            f"{layout}_pos_embed": reference["pos_embed"].numpy().astype(np.float32),
            **{f"{layout}_{s}": F.normalize(out[s], dim=-1).numpy().astype(np.float32) for s in ("s1", "s2")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--published", default=os.environ.get("CSMAE_PUBLISHED_CODE"),
                        help="folder with the published code's src/ (default: $CSMAE_PUBLISHED_CODE)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the .npz to write")
    args = parser.parse_args(argv)
    if not args.published:
        print("error: no published code: pass --published FOLDER or set CSMAE_PUBLISHED_CODE", file=sys.stderr)
        return 2
    try:
        published = _import_published_backbone(Path(args.published))
    except (FileNotFoundError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    import timm
    inputs = seeded_inputs()
    arrays = {"weight_seed": np.array(WEIGHT_SEED), "input_seed": np.array(INPUT_SEED),
              "samples": np.array(SAMPLES), "timm_version": np.array(timm.__version__),
              "torch_version": np.array(torch.__version__),
              "published_commit": np.array(_published_commit(Path(args.published)))}
    for layout in LAYOUTS:
        arrays.update(layout_arrays(published, layout, inputs))
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size} bytes): layouts {', '.join(LAYOUTS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

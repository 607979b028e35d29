"""Our loader against numbers computed by the PUBLISHED CSMAE backbone code (tests/data/published_backbone.npz,
written once by scripts/make_published_fixture.py from a checkout of jakhac/CSMAE; no published code is in
this repository). Unlike tests/test_checkpoint.py's reference, nothing of ours (positional table, LayerNorm
eps, transpose, pooling) goes into the expected values."""
import json

import numpy as np
import pytest
import torch
import yaml

import csmae_core
from csmae_core.models.csmae.model import sincos_pos_embed
from scripts.make_published_fixture import LAYOUTS, seeded_inputs, seeded_published_state
from tests.conftest import ROOT

FIXTURE = np.load(ROOT / "tests" / "data" / "published_backbone.npz")
TOLERANCE = 1e-5


def published_folder(tmp_path, layout):
    """A published checkpoint folder (cfg.yaml + weights.ckpt) holding the fixture's seeded weights."""
    names = [str(n) for n in FIXTURE[f"{layout}_names"]]
    shapes = [tuple(s) for s in json.loads(str(FIXTURE[f"{layout}_shapes"]))]
    state = seeded_published_state(names, shapes, int(FIXTURE["weight_seed"]))
    state["pos_embed"] = torch.from_numpy(FIXTURE[f"{layout}_pos_embed"])
    folder = tmp_path / layout
    folder.mkdir()
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in state.items()}, "epoch": 0}, folder / "weights.ckpt")
    specific, shared = LAYOUTS[layout]
    kwargs = {"patch_size": 15, "img_size": 120, "in_chans": 12, "multi_sensor_encoder_depth": specific,
              "cross_sensor_encoder_depth": shared, "masking_strategy": "random", "global_pool": "avg"}
    (folder / "cfg.yaml").write_text(yaml.safe_dump({"kwargs": kwargs}))
    return folder


def our_embeddings(encoder):
    """As the app feeds a published model: the encoder's orientation (transposed), model-input units."""
    inputs = seeded_inputs(int(FIXTURE["input_seed"]), int(FIXTURE["samples"]))
    orient = (lambda x: x.transpose(-1, -2)) if encoder.transpose_input else (lambda x: x)
    return {s: encoder.embed(orient(x), s).numpy() for s, x in inputs.items()}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_loader_reproduces_the_published_backbone(tmp_path, layout):
    encoder = csmae_core.load_model(published_folder(tmp_path, layout), device="cpu")
    assert encoder.transpose_input  # the published data loader transposes H and W
    specific, shared = LAYOUTS[layout]
    assert (encoder.config.specific_depth, encoder.config.shared_depth) == (specific, shared)
    ours = our_embeddings(encoder)
    for sensor in ("s1", "s2"):
        assert np.abs(ours[sensor] - FIXTURE[f"{layout}_{sensor}"]).max() < TOLERANCE, (layout, sensor)


def test_our_positional_table_is_the_published_one():
    for layout in LAYOUTS:
        assert np.abs(sincos_pos_embed(192, 8).numpy() - FIXTURE[f"{layout}_pos_embed"]).max() < 1e-6


@pytest.mark.parametrize("defect", ["layernorm eps 1e-5", "no transpose"])
def test_the_fixture_catches_the_published_pitfalls(tmp_path, defect):
    """The check can fail: the README snippet's eps 1e-5, or a forgotten transpose, miss the fixture."""
    encoder = csmae_core.load_model(published_folder(tmp_path, "se"), device="cpu")
    if defect == "no transpose":
        encoder.transpose_input = False
    else:
        for module in encoder.backbone.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.eps = 1e-5
    ours = our_embeddings(encoder)
    assert max(np.abs(ours[s] - FIXTURE[f"se_{s}"]).max() for s in ("s1", "s2")) > 3 * TOLERANCE

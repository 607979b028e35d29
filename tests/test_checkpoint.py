"""Checkpoint formats: published layout equivalence, Lightning files, the project format, errors."""
import os

import numpy as np
import pytest
import torch
import yaml

import csmae_core
from csmae_core.bands import BANDS, STORED_BANDS
from csmae_core.errors import CheckpointError
from csmae_core.models.csmae.checkpoint import Checkpoint, load_checkpoint, save_checkpoint, split_state
from csmae_core.models.csmae.config import CSMAEConfig
from csmae_core.models.csmae.model import CSMAE
from csmae_core.models.csmae.reference import PublishedLayoutEncoder
from csmae_core.preprocess import model_input
from csmae_core.record import PatchRecord

SMALL = dict(embed_dim=192, num_heads=3, specific_depth=2, shared_depth=2)


class DictConfig:  # stands for omegaconf's class, which a published Lightning file pickles
    def __init__(self, content):
        self.content = content


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def randomised_reference(seed=0, **kwargs):
    torch.manual_seed(seed)
    reference = PublishedLayoutEncoder(**{**SMALL, **kwargs}).eval()
    with torch.no_grad():
        for name, parameter in reference.named_parameters():
            if name != "pos_embed":
                parameter.add_(torch.randn_like(parameter) * 0.05)
    return reference


def records(sensor, n=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        bands = {}
        for name in STORED_BANDS[sensor]:
            side = BANDS[name].native_pixels
            bands[name] = (rng.normal(-15, 4, (side, side)).astype(np.float32) if sensor == "s1"
                           else rng.integers(1, 6000, (side, side)).astype(np.uint16))
        out.append(PatchRecord(sensor, bands, f"p{i}"))
    return out


def write_published_dir(folder, reference, marker=None, **cfg_overrides):
    folder.mkdir()
    state = {f"backbone.{k}": v for k, v in reference.state_dict().items()}
    hyper = {"cfg": DictConfig({"backbone": {"name": "vit_tiny"}})}
    if marker is not None:
        hyper["evil"] = RunsCode(marker)
    torch.save({"state_dict": state, "epoch": 149, "hyper_parameters": hyper}, folder / "weights.ckpt")
    kwargs = {"patch_size": 15, "img_size": 120, "in_chans": 12, "multi_sensor_encoder_depth": SMALL["specific_depth"],
              "cross_sensor_encoder_depth": SMALL["shared_depth"], "masking_strategy": "random", "global_pool": "avg"}
    kwargs.update(cfg_overrides)
    (folder / "cfg.yaml").write_text(yaml.safe_dump({"kwargs": kwargs}))
    return folder


def test_published_checkpoint_gives_the_published_embeddings(tmp_path):
    reference = randomised_reference()
    marker = tmp_path / "executed"
    folder = write_published_dir(tmp_path / "secd", reference, marker)
    encoder = csmae_core.load_model(folder, device="cpu")
    assert not marker.exists()  # the pickled object was not run
    assert encoder.transpose_input  # published weights were trained on transposed images
    s1, s2 = records("s1"), records("s2")
    ours = {sensor: encoder.embed(encoder.prepare(recs, sensor), sensor) for sensor, recs in (("s1", s1), ("s2", s2))}
    # the published pipeline: each image transposed (H <-> W), stacked [S2, S1], both sensors per call
    stacked = torch.cat([torch.stack([model_input(r).transpose(1, 2) for r in s2]),
                         torch.stack([model_input(r).transpose(1, 2) for r in s1])], dim=1)
    with torch.no_grad():
        published = reference(stacked)
    for sensor in ("s1", "s2"):
        assert (ours[sensor] - published[sensor]).abs().max().item() < 1e-5


def test_common_encoder_checkpoint_infers_zero_specific_blocks(tmp_path):
    reference = randomised_reference(specific_depth=0, shared_depth=3)
    folder = write_published_dir(tmp_path / "cecd", reference, multi_sensor_encoder_depth=0,
                                 cross_sensor_encoder_depth=3)
    checkpoint = load_checkpoint(folder)
    assert (checkpoint.config.specific_depth, checkpoint.config.shared_depth) == (0, 3)
    assert checkpoint.config.variant == "cecd"


def test_yaml_that_contradicts_the_weights_is_refused(tmp_path):
    # e.g. the published CE training yaml (12 specific + 0 shared) beside CE weights (0 + 12)
    folder = write_published_dir(tmp_path / "bad", randomised_reference(), multi_sensor_encoder_depth=4)
    with pytest.raises(CheckpointError, match="multi_sensor_encoder_depth=4 but the weights hold 2"):
        load_checkpoint(folder)


def test_missing_and_misshapen_keys_are_named(tmp_path):
    reference = randomised_reference()
    state = {f"backbone.{k}": v for k, v in reference.state_dict().items()}
    del state["backbone.blocks.1.attn.qkv.weight"]
    state["backbone.norm.weight"] = torch.ones(7)
    state["backbone.extra.thing"] = torch.ones(1)
    torch.save({"state_dict": state}, tmp_path / "broken.ckpt")
    with pytest.raises(CheckpointError) as error:
        csmae_core.load_model(tmp_path / "broken.ckpt", device="cpu")
    message = str(error.value)
    assert "missing keys: blocks.1.attn.qkv.weight" in message
    assert "unexpected keys: extra.thing" in message
    assert "norm.weight: checkpoint (7,) vs model (192,)" in message


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "x.ckpt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "x.ckpt")
    torch.save({"state_dict": {"classifier.weight": torch.ones(1)}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="no encoder weights"):
        load_checkpoint(tmp_path / "other.ckpt")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "none.pt")


def test_project_format_round_trip_is_plain_data(tmp_path):
    cfg = CSMAEConfig(size="tiny", specific_depth=1, shared_depth=1, decoder_dim=32, decoder_depth=1, decoder_heads=2)
    model = CSMAE(cfg).eval()
    encoder_state, decoder_state = split_state(model.state_dict())
    checkpoint = Checkpoint(cfg, encoder_state, decoder_state, False, {"note": "test"}, "project")
    digest = save_checkpoint(checkpoint, tmp_path / "m.pt", include_decoders=True)
    raw = torch.load(tmp_path / "m.pt", weights_only=True)  # plain data only
    assert raw["encoder_hash"] == digest and raw["bands"]["s1"] == ["VH", "VV"]
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.content_hash == digest and loaded.card == {"note": "test"}
    rebuilt = loaded.build_model()
    for key, value in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], value)
    x = torch.randn(2, 10, 120, 120)
    encoder = csmae_core.load_model(tmp_path / "m.pt", device="cpu")
    assert torch.allclose(encoder.embed(x, "s2"), model.backbone.embed(x, "s2"), atol=1e-6)


def test_altered_project_checkpoint_is_detected(tmp_path):
    cfg = CSMAEConfig(size="tiny", depth=2)
    encoder_state, _ = split_state(CSMAE(cfg).state_dict())
    save_checkpoint(Checkpoint(cfg, encoder_state, {}, False, {}, "project"), tmp_path / "m.pt")
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    raw["state_dict"]["backbone.norm.weight"] += 1
    torch.save(raw, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="do not match their recorded hash"):
        load_checkpoint(tmp_path / "m.pt")


def test_embed_rejects_wrong_input_shapes(tmp_path):
    cfg = CSMAEConfig(size="tiny", depth=2)
    save_checkpoint(Checkpoint(cfg, split_state(CSMAE(cfg).state_dict())[0], {}, False, {}, "project"), tmp_path / "m.pt")
    encoder = csmae_core.load_model(tmp_path / "m.pt", device="cpu")
    with pytest.raises(ValueError, match=r"S1 input must be \(N, 2, 120, 120\)"):
        encoder.embed(torch.zeros(1, 10, 120, 120), "s1")
    encoder.precision = "bf16"
    out = encoder.embed(torch.zeros(2, 2, 120, 120), "s1")
    assert out.dtype == torch.float32 and torch.isfinite(out).all()

"""CSMAE key layouts: the published names (the authors' checkpoints, our format-version-1 files) go through
ONE filter at load time; version-1 files keep their recorded hash; bundles built before the renaming still
match their model (hash aliases)."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import csmae_core
from csmae_core.bands import MODEL_BANDS, SENSORS
from csmae_core.errors import BundleError, CheckpointError
from csmae_core.models.csmae import checkpoint as checkpoint_module
from csmae_core.models.csmae.checkpoint import load_checkpoint
from csmae_core.models.csmae.compat import published_to_model_keys
from csmae_core.models.csmae.config import CSMAEConfig
from csmae_core.models.csmae.model import CSMAE
from csmae_core.models.weights import FORMAT, content_hash
from csmae_core.retrieval.bundle import Bundle, check_model
from csmae_core.training.config import TrainConfig
from csmae_core.training.csmae import CSMAELightning
from scripts import build_index, convert_checkpoint
from tests.conftest import ROOT
from tests.test_checkpoint import SMALL, randomised_reference, write_published_dir

ASSETS = ROOT / "assets"
TINY = dict(size="tiny", depth=3, decoder_dim=32, decoder_depth=1, decoder_heads=2)
V1_CONFIG = CSMAEConfig(size="tiny", specific_depth=SMALL["specific_depth"], shared_depth=SMALL["shared_depth"])

# The published names, written out independently of the filter (the inverse of its rules) to make test files.
_ENCODER_TO_PUBLISHED = ((r"^patch_embed\.s1\.", "patch_embed."), (r"^patch_embed\.s2\.", "patch_embed_s2."),
                         (r"^cls_token\.s1$", "cls_token"), (r"^cls_token\.s2$", "cls_token_s2"),
                         (r"^specific_blocks\.(s1|s2)\.", r"blocks_\1."), (r"^specific_norm\.(s1|s2)\.", r"norm_\1."))
_DECODER_TO_PUBLISHED = {"common": "decoder", "s1": "decoder_s2_to_s1", "s2": "decoder_s1_to_s2"}
_HEAD_TO_PUBLISHED = {"s1": "decoder_pred_s2_to_s1", "s2": "decoder_pred_s1_to_s2"}


def _published_name(key: str) -> str:
    if key.startswith("backbone."):
        name = key[len("backbone."):]
        for pattern, replacement in _ENCODER_TO_PUBLISHED:
            name = re.sub(pattern, replacement, name)
        return "backbone." + name
    _, entry, part, rest = (key.split(".", 3) + [""])[:4]
    if part == "heads":
        target, rest = rest.split(".", 1)
        head = _HEAD_TO_PUBLISHED[target] if entry == "common" else "decoder_pred"
        return f"{_DECODER_TO_PUBLISHED[entry]}.{head}.{rest}"
    return f"{_DECODER_TO_PUBLISHED[entry]}.{'mask_token' if part == 'mask_token' else 'decoder_' + part}" + (
        f".{rest}" if rest else "")


def published_state(state: dict) -> dict:
    return {_published_name(k): v for k, v in state.items()}


def write_v1_file(path: Path, reference, **changes) -> Path:
    """A project file exactly as format version 1 wrote it: published key names, hash of those."""
    encoder_state = reference.state_dict()
    payload = {"format": FORMAT, "format_version": 1, "model": "csmae", "config": V1_CONFIG.to_dict(),
               "bands": {s: list(MODEL_BANDS[s]) for s in SENSORS}, "transpose_input": False,
               "encoder_hash": content_hash(encoder_state), "card": {"name": "v1"},
               "state_dict": {f"backbone.{k}": v.clone() for k, v in encoder_state.items()}}
    payload.update(changes)
    torch.save(payload, path)
    return path


@pytest.fixture
def filter_calls(monkeypatch):
    """Every call of the one filter, as the readers make it."""
    calls = []

    def spy(state):
        calls.append(sorted(state))
        return published_to_model_keys(state)
    monkeypatch.setattr(checkpoint_module, "published_to_model_keys", spy)
    return calls


# ---------------------------------------------------------------- the filter itself
def test_filter_renames_every_kind_of_published_key():
    t = torch.zeros(1)
    renamed = published_to_model_keys({
        "backbone.patch_embed.proj.weight": t, "backbone.patch_embed_s2.proj.bias": t, "backbone.cls_token": t,
        "backbone.cls_token_s2": t, "backbone.blocks_s1.0.attn.qkv.weight": t, "backbone.norm_s2.bias": t,
        "backbone.blocks.1.norm1.weight": t, "backbone.norm.weight": t, "backbone.fc_norm.bias": t,
        "backbone.pos_embed": t, "model.decoder.decoder_embed.weight": t, "decoder.decoder_pred_s2_to_s1.bias": t,
        "decoder.decoder_pred_s1_to_s2.weight": t, "decoder_s2_to_s1.decoder_pred.weight": t,
        "decoder_s1_to_s2.decoder_blocks.0.mlp.fc1.weight": t, "decoder_s1_to_s2.mask_token": t,
        "decoder_s1_to_s2.decoder_pos_embed": t, "decoder.decoder_norm.weight": t, "other.thing": t})
    assert list(renamed) == [
        "backbone.patch_embed.s1.proj.weight", "backbone.patch_embed.s2.proj.bias", "backbone.cls_token.s1",
        "backbone.cls_token.s2", "backbone.specific_blocks.s1.0.attn.qkv.weight", "backbone.specific_norm.s2.bias",
        "backbone.blocks.1.norm1.weight", "backbone.norm.weight", "backbone.fc_norm.bias",
        "backbone.pos_embed", "model.decoders.common.embed.weight", "decoders.common.heads.s1.bias",
        "decoders.common.heads.s2.weight", "decoders.s1.heads.s1.weight",
        "decoders.s2.blocks.0.mlp.fc1.weight", "decoders.s2.mask_token",
        "decoders.s2.pos_embed", "decoders.common.norm.weight", "other.thing"]
    assert all(value is t for value in renamed.values())  # renamed, never copied


@pytest.mark.parametrize("variant", ["cecd", "cesd", "secd", "sesd"])
def test_filter_maps_the_published_layout_onto_the_model_and_passes_the_model_layout(variant):
    state = CSMAE(CSMAEConfig(variant=variant, **TINY)).state_dict()
    published = published_state(state)
    assert "backbone.cls_token_s2" in published and "backbone.cls_token.s2" not in published
    assert published_to_model_keys(published) == state
    assert published_to_model_keys(state) == state  # the model's own layout passes through


def test_a_state_mixing_both_layouts_is_refused():
    with pytest.raises(CheckpointError, match="holds the weight backbone.cls_token.s1 twice"):
        published_to_model_keys({"backbone.cls_token": torch.zeros(1), "backbone.cls_token.s1": torch.zeros(1)})


# ---------------------------------------------------------------- (b) every reader goes through it
@pytest.mark.parametrize("variant", ["cecd", "sesd"])
def test_published_lightning_file_with_decoders_loads_through_the_filter(tmp_path, variant, filter_calls):
    torch.manual_seed(0)
    model = CSMAE(CSMAEConfig(variant=variant, **TINY))
    torch.save({"state_dict": published_state(model.state_dict())}, tmp_path / "published.ckpt")
    checkpoint = load_checkpoint(tmp_path / "published.ckpt")
    assert any("backbone.cls_token" in keys for keys in filter_calls)
    assert checkpoint.config.variant == variant and checkpoint.source_format == "published"
    rebuilt = checkpoint.build_model().state_dict()
    assert rebuilt.keys() == model.state_dict().keys()
    assert all(torch.equal(rebuilt[k], v) for k, v in model.state_dict().items())
    stored = {k[len("backbone."):]: v for k, v in published_state(model.state_dict()).items()
              if k.startswith("backbone.")}
    assert checkpoint.hash_aliases == (content_hash(stored),)
    assert checkpoint.content_hash != content_hash(stored)


def test_published_folder_and_v1_file_load_through_the_filter(tmp_path, filter_calls):
    reference = randomised_reference()
    folder = write_published_dir(tmp_path / "secd", reference)
    from_folder = csmae_core.load_model(folder, device="cpu")
    from_v1 = csmae_core.load_model(write_v1_file(tmp_path / "v1.pt", reference), device="cpu")
    assert len(filter_calls) >= 2 and all("backbone.patch_embed_s2.proj.weight" in keys for keys in filter_calls)
    assert from_folder.content_hash == from_v1.content_hash
    assert from_v1.hash_aliases == (content_hash(reference.state_dict()),)


def test_a_run_resumed_from_a_published_layout_lightning_file_gets_the_new_names():
    config = TrainConfig.from_yaml(ROOT / "configs/demo.yaml", ["model.size=tiny", "model.specific_depth=1",
                                                                   "model.shared_depth=1"]).to_dict()
    module = CSMAELightning(config)
    old = {f"model.{k}": v for k, v in published_state(module.model.state_dict()).items()}
    checkpoint = {"state_dict": old}
    module.on_load_checkpoint(checkpoint)
    module.load_state_dict(checkpoint["state_dict"], strict=True)


# ---------------------------------------------------------------- (a) v1 -> v2, bundles built before
@pytest.fixture(scope="module")
def v1_and_bundle(tmp_path_factory):
    """A v1 file and a bundle built from it as before the renaming: its manifest records the v1 hash."""
    folder = tmp_path_factory.mktemp("v1")
    v1 = write_v1_file(folder / "v1.pt", randomised_reference(seed=3))
    assert build_index.main(["--model", str(v1), "--out", str(folder / "bundle"), "--accelerator", "cpu",
                             "--devices", "1"]) == 0
    manifest = json.loads((folder / "bundle" / "manifest.json").read_text())
    manifest["model"]["content_hash"] = torch.load(v1, weights_only=True)["encoder_hash"]
    (folder / "bundle" / "manifest.json").write_text(json.dumps(manifest))  # the checksums cover the other files
    return v1, folder / "bundle"


def test_v1_file_and_its_v2_re_export_embed_identically_and_share_bundles(v1_and_bundle, tmp_path, demo_archive):
    v1, bundle_path = v1_and_bundle
    assert convert_checkpoint.main([str(v1), str(tmp_path / "v2.pt")]) == 0
    raw = torch.load(tmp_path / "v2.pt", weights_only=True)
    assert raw["format_version"] == 2 and "backbone.cls_token.s2" in raw["state_dict"]
    assert "backbone.cls_token_s2" not in raw["state_dict"]
    old, new = (csmae_core.load_model(path, device="cpu") for path in (v1, tmp_path / "v2.pt"))
    assert old.content_hash == new.content_hash == raw["encoder_hash"]
    recorded = torch.load(v1, weights_only=True)["encoder_hash"]
    assert old.hash_aliases == new.hash_aliases == (recorded,) and raw["hash_aliases"] == [recorded]
    assert new.accepted_hashes == (new.content_hash, recorded)
    pairs = [demo_archive[i] for i in range(4)]
    for sensor in SENSORS:
        records = [getattr(pair, sensor) for pair in pairs]
        assert np.array_equal(old.embed_records(records, sensor), new.embed_records(records, sensor))
    bundle = Bundle(bundle_path, expected_model_hash=new.accepted_hashes)  # built from the v1 file
    assert bundle.model_hash == recorded
    with pytest.raises(BundleError, match="was built with model"):
        Bundle(bundle_path, expected_model_hash=new.content_hash)


@pytest.mark.parametrize("name", ["demo", "demo-train"])
def test_committed_demo_models_accept_their_committed_bundles(name):
    encoder = csmae_core.load_model(ASSETS / "models" / f"{name}.pt", device="cpu")
    bundle = Bundle(ASSETS / "bundles" / name, expected_model_hash=encoder.accepted_hashes)
    assert bundle.model_hash in encoder.accepted_hashes


def test_check_model_takes_one_hash_or_several():
    manifest, path = {"model": {"content_hash": "a" * 64}}, Path("bundle")
    check_model(manifest, "a" * 64, path)
    check_model(manifest, ("b" * 64, "a" * 64), path)
    check_model(manifest, None, path)
    with pytest.raises(BundleError, match="the model in use is bbbbbbbbbbbb"):
        check_model(manifest, ["b" * 64, "c" * 64], path)


# ---------------------------------------------------------------- (c) the v1 recorded hash
def test_v1_file_with_a_tampered_recorded_hash_is_refused(tmp_path):
    reference = randomised_reference()
    with pytest.raises(CheckpointError, match="do not match their recorded hash"):
        load_checkpoint(write_v1_file(tmp_path / "forged.pt", reference, encoder_hash="0" * 64))
    # the recorded hash is of the weights as stored: their hash under the new names is not accepted either
    renamed_hash = load_checkpoint(write_v1_file(tmp_path / "good.pt", reference)).content_hash
    with pytest.raises(CheckpointError, match="corrupt or was altered"):
        load_checkpoint(write_v1_file(tmp_path / "renamed.pt", reference, encoder_hash=renamed_hash))
    altered = torch.load(tmp_path / "good.pt", weights_only=True)
    altered["state_dict"]["backbone.cls_token_s2"] += 1
    torch.save(altered, tmp_path / "altered.pt")
    with pytest.raises(CheckpointError, match="do not match their recorded hash"):
        load_checkpoint(tmp_path / "altered.pt")

"""CMID checkpoints: our project format and Lightning files, the official ResNet-50 / Swin-B layouts
(written here from timm networks renamed to the official keys), the S2-only restriction, unsafe pickles."""
from collections import OrderedDict

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F

import csmae_core
from csmae_core.errors import CheckpointError, InputError
from csmae_core.models.cmid import official
from csmae_core.models.cmid.checkpoint import CMIDCheckpoint, save_cmid_checkpoint, student_checkpoint
from csmae_core.models.cmid.config import CMIDConfig
from csmae_core.models.cmid.model import CMID
from csmae_core.models.csmae.checkpoint import load_checkpoint
from csmae_core.training.cmid import CMIDLightning
from csmae_core.training.config import TrainConfig
from tests.test_checkpoint import DictConfig, RunsCode, records

TINY = dict(size="tiny", depth=1, projection_dim=16, projection_hidden_dim=32, num_prototypes=8,
            local_hidden_dim=32, local_bottleneck_dim=8, queue_size=0)
SMALL_RESNET = {"layers": [1, 1, 1, 1], "channels": [8, 8, 16, 16]}
SMALL_SWIN = {"embed_dim": 16, "depths": [1, 1, 2, 1], "num_heads": [1, 2, 4, 8], "window_size": 7}


def randomised(module, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.randn_like(tensor) * 0.05 + (1.0 if name.endswith("running_var") else 0.0))
    return module.eval()


# ---------------------------------------------------------------- ours
def test_project_format_is_plain_data_and_embeds_like_the_student(tmp_path):
    model = randomised(CMID(CMIDConfig(**TINY)))
    digest = save_cmid_checkpoint(student_checkpoint(model, {"note": "test"}), tmp_path / "m.pt")
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    assert raw["family"] == "cmid" and raw["format"] == "csmae-retrieval-checkpoint" and raw["format_version"] == 1
    assert set(raw["encoder_state"]) == {"s1", "s2"} and raw["encoder_hash"] == digest
    assert raw["retrieval_weights"] == "student"
    encoder = csmae_core.load_model(tmp_path / "m.pt", device="cpu")
    assert (encoder.family, encoder.sensors, encoder.cross_sensor, encoder.dim) == ("cmid", ("s1", "s2"), True, 192)
    assert encoder.describe() == "CMID cross-sensor ViT 192-d, 1 blocks" and encoder.content_hash == digest
    assert encoder.card == {"note": "test"} and not encoder.transpose_input
    x1, x2 = torch.randn(3, 2, 120, 120), torch.randn(3, 10, 120, 120)
    with torch.no_grad():
        expected = F.normalize(model.student.s2(x2).mean(dim=(1, 2)), dim=-1)
    s1, s2 = encoder.embed_pair(x1, x2)
    assert torch.allclose(s2, expected, atol=1e-5) and torch.allclose(encoder.embed(x1, "s1"), s1, atol=1e-6)
    assert torch.allclose(s1.norm(dim=1), torch.ones(3))
    assert encoder.config_dict()["cross_sensor"] is True
    with pytest.raises(CheckpointError, match="holds a cmid encoder, not CSMAE"):
        load_checkpoint(tmp_path / "m.pt")


def test_altered_or_incomplete_project_checkpoints_are_refused(tmp_path):
    save_cmid_checkpoint(student_checkpoint(CMID(CMIDConfig(**TINY)), {}), tmp_path / "m.pt")
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    raw["encoder_state"]["s1"]["mask_token"] += 1
    torch.save(raw, tmp_path / "altered.pt")
    with pytest.raises(CheckpointError, match="do not match their recorded hash"):
        csmae_core.load_model(tmp_path / "altered.pt", device="cpu")
    del raw["encoder_state"]
    torch.save(raw, tmp_path / "incomplete.pt")
    with pytest.raises(CheckpointError, match="lacks encoder_state"):
        csmae_core.load_model(tmp_path / "incomplete.pt", device="cpu")


def test_uni_modal_checkpoint_says_its_spaces_are_separate(tmp_path):
    config = CMIDConfig(**TINY, cross_sensor=False)
    save_cmid_checkpoint(CMIDCheckpoint(config, student_checkpoint(CMID(config), {}).encoder_state), tmp_path / "u.pt")
    encoder = csmae_core.load_model(tmp_path / "u.pt", device="cpu")
    assert not encoder.cross_sensor and encoder.describe().startswith("CMID uni-modal")


def lightning_file(path, extra_hparams=None, state=None):
    config = TrainConfig.from_dict({"method": "cmid", "model": TINY}).to_dict()
    module = CMIDLightning(config)
    hparams = {**dict(module.hparams), **(extra_hparams or {})}
    torch.save({"state_dict": state if state is not None else module.state_dict(), "hyper_parameters": hparams,
                "global_step": 0, "cfg": DictConfig({"x": 1})}, path)
    return module


def test_lightning_checkpoint_with_a_pickled_os_system_loads_inertly(tmp_path):
    marker = tmp_path / "executed"
    module = lightning_file(tmp_path / "evil.ckpt", {"evil": RunsCode(marker)})
    encoder = csmae_core.load_model(tmp_path / "evil.ckpt", device="cpu")
    assert not marker.exists()  # the pickled call was replaced, never run
    assert encoder.family == "cmid" and encoder.card["trained_with"] == "scripts/train.py"
    x = torch.randn(2, 2, 120, 120)
    with torch.no_grad():
        assert torch.allclose(encoder.embed(x, "s1"), module.model.student.embed(x, "s1"), atol=1e-6)
    lightning_file(tmp_path / "worse.ckpt", state=RunsCode(marker))
    with pytest.raises(CheckpointError, match="not a mapping of weights"):
        csmae_core.load_model(tmp_path / "worse.ckpt", device="cpu")
    assert not marker.exists()


# ---------------------------------------------------------------- official layouts
def mmcls_relative_position_index(window):
    """The official (mmcls WindowMSA) formula, independent of timm's."""
    rows = torch.arange(0, (2 * window - 1) * window, 2 * window - 1)
    coords = (rows[:, None] + torch.arange(window)[None, :]).reshape(1, -1)
    return (coords + coords.T).flip(1).contiguous()


def official_swin_state(model):
    state = official.timm_to_swin(model.state_dict())
    for key in [k for k in state if k.endswith("attn.w_msa.relative_position_bias_table")]:
        state[key.replace("bias_table", "index")] = mmcls_relative_position_index(7)
    return state


def reference_embedding(model, kind, recs):
    """What the official network computes on S2 true colour: from the raw bands, not from our model input."""
    rgb = torch.stack([torch.from_numpy(np.stack([r.bands[b].astype(np.float32) for b in ("B04", "B03", "B02")]))
                       for r in recs])
    rgb = F.interpolate((rgb / 3000).clamp(0, 1), size=(224, 224), mode="bilinear", align_corners=False)
    rgb = (rgb - torch.tensor(official.MILLIONAID_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        official.MILLIONAID_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        features = model.forward_features(rgb)
    pooled = features.mean(dim=(2, 3)) if kind == "resnet50" else features.mean(dim=(1, 2))
    return F.normalize(pooled, dim=-1)


def small_resnet():
    return randomised(timm.create_model("resnet50", pretrained=False, num_classes=0, global_pool="",
                                        layers=(1, 1, 1, 1), channels=(8, 8, 16, 16)))


def test_official_resnet_full_and_backbone_only_files_give_the_student_embeddings(tmp_path):
    student, teacher = small_resnet(), randomised(small_resnet(), seed=1)
    full = {"model": {**{f"online_encoder.model.{k}": v for k, v in student.state_dict().items()},
                      "online_encoder.mask_token": torch.zeros(1, 64, 1, 1),
                      **{f"branch_encoder.{k}": v for k, v in teacher.state_dict().items()},
                      "queue": torch.randn(256, 1024)},
            "epoch": 199, "num_gpus": 4, "optimizer": {"state": {}}, "metric_storage": DictConfig({"loss": 1})}
    torch.save(full, tmp_path / "cmid_resnet50_full.pth")
    torch.save(OrderedDict(student.state_dict()), tmp_path / "cmid_resnet50_backbone.pth")  # what extract.py writes
    recs = records("s2", n=2)
    expected = reference_embedding(student, "resnet50", recs)
    for name in ("cmid_resnet50_full.pth", "cmid_resnet50_backbone.pth"):
        encoder = csmae_core.load_model(tmp_path / name, device="cpu")
        assert (encoder.family, encoder.sensors, encoder.cross_sensor, encoder.dim) == ("cmid-official", ("s2",),
                                                                                        False, 64)
        assert torch.allclose(encoder.embed(encoder.prepare(recs, "s2"), "s2"), expected, atol=1e-4)
        assert "student network" in encoder.card["origin"]
        assert encoder.config_dict()["architecture"] == SMALL_RESNET
    with pytest.raises(InputError, match="cannot embed S1 patches; it embeds S2 only"):
        encoder.embed(torch.zeros(1, 2, 120, 120), "s1")
    with pytest.raises(InputError, match="cannot embed S1"):
        encoder.embed_pair(torch.zeros(1, 2, 120, 120), torch.zeros(1, 10, 120, 120))
    with pytest.raises(InputError, match=r"RGB model: it embeds S2 \(true colour\) only, not S1"):
        encoder.backbone.embed(torch.zeros(1, 2, 120, 120), "s1")


def test_official_swin_layout_maps_onto_timm(tmp_path):
    swin = randomised(timm.create_model("swin_base_patch4_window7_224", pretrained=False, num_classes=0,
                                        embed_dim=16, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8)))
    state = official_swin_state(swin)
    assert "stages.1.downsample.reduction.weight" in state and "norm3.weight" in state
    assert "stages.0.blocks.0.ffn.layers.0.0.weight" in state and "patch_embed.projection.weight" in state
    torch.save(OrderedDict(state), tmp_path / "cmid_swin_backbone.pth")
    encoder = csmae_core.load_model(tmp_path / "cmid_swin_backbone.pth", device="cpu")
    assert encoder.dim == 128 and encoder.config_dict()["architecture"] == SMALL_SWIN
    recs = records("s2", n=2)
    assert torch.allclose(encoder.embed(encoder.prepare(recs, "s2"), "s2"), reference_embedding(swin, "swin", recs),
                          atol=1e-4)
    state["stages.0.blocks.0.attn.w_msa.extra"] = torch.zeros(1)
    torch.save(OrderedDict(state), tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match="keys the official CMID Swin does not: stages.0.blocks.0.attn.w_msa.ex"):
        csmae_core.load_model(tmp_path / "odd.pth", device="cpu")


def test_mmcv_patch_merging_order_is_converted():
    """mmcv's PatchMerging (nn.Unfold, then LayerNorm and Linear over 4C) with the official weights equals
    timm's PatchMerging with the converted ones."""
    merge = randomised(timm.create_model("swin_base_patch4_window7_224", pretrained=False, num_classes=0,
                                         embed_dim=8, depths=(1, 1), num_heads=(1, 1))).layers[1].downsample
    ours = {f"layers.1.downsample.{k}": v for k, v in merge.state_dict().items()}
    theirs = official.timm_to_swin(ours)
    assert official.swin_to_timm(theirs).keys() == ours.keys()
    x = torch.randn(2, 6, 6, 8)  # (B, H, W, C)
    unfolded = torch.nn.Unfold(kernel_size=2, stride=2)(x.permute(0, 3, 1, 2)).transpose(1, 2)  # (B, 9, 4C)
    normed = F.layer_norm(unfolded, (32,), theirs["stages.0.downsample.norm.weight"],
                          theirs["stages.0.downsample.norm.bias"])
    mmcv = normed @ theirs["stages.0.downsample.reduction.weight"].T
    with torch.no_grad():
        assert torch.allclose(merge(x).reshape(2, 9, -1), mmcv, atol=1e-5)


def test_relative_position_index_of_the_official_swin_is_timms():
    swin = timm.create_model("swin_base_patch4_window7_224", pretrained=False, num_classes=0, embed_dim=8,
                             depths=(1,), num_heads=(1,))
    assert torch.equal(swin.layers[0].blocks[0].attn.relative_position_index, mmcls_relative_position_index(7))


def test_published_architectures_are_read_off_the_weights():
    # full-size networks on the meta device: names and shapes without the cost of initialising 88M weights
    resnet = timm.create_model("resnet50", pretrained=False, num_classes=0, global_pool="", device="meta")
    architecture = official.resnet_architecture(resnet.state_dict())
    assert official.OfficialConfig("resnet50", architecture).name == "ResNet-50"
    swin = timm.create_model("swin_base_patch4_window7_224", pretrained=False, num_classes=0, device="meta")
    state = official.timm_to_swin(swin.state_dict())
    for key in [k for k in state if k.endswith("relative_position_bias_table")]:
        state[key.replace("bias_table", "index")] = torch.zeros(1)
    assert official.backbone_kind(state) == "swin" and official.backbone_kind(resnet.state_dict()) == "resnet50"
    assert official.OfficialConfig("swin", official.swin_architecture(state)).name == "Swin-B"
    assert official.swin_to_timm(state).keys() == swin.state_dict().keys()


def test_non_rgb_official_layout_is_refused():
    state = small_resnet().state_dict()
    state["conv1.weight"] = torch.zeros(64, 4, 7, 7)
    with pytest.raises(CheckpointError, match="takes 4 channels; the official CMID networks take RGB"):
        official.build_official(state)

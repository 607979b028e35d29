"""CMID training through scripts/train.py on the real demo archive with tiny networks: every backbone family,
export and load_model, resume with the teacher intact, the method switch, the guards and the configs."""

import pytest
import torch

import csmae_core
from csmae_core.errors import InputError, NonFiniteLossError
from csmae_core.models.cmid.losses import cosine_momentum
from csmae_core.models.cmid.model import StepOutput
from csmae_core.training.cmid import CMIDLightning
from csmae_core.training.config import TrainConfig
from scripts import train
from tests.conftest import ROOT

CONFIG = str(ROOT / "configs/cmid_demo.yaml")
SMALL_HEADS = ["--set", "model.projection_dim=16", "--set", "model.projection_hidden_dim=32",
               "--set", "model.num_prototypes=16", "--set", "model.local_hidden_dim=32",
               "--set", "model.local_bottleneck_dim=16", "--set", "model.local_layers=2",
               "--batch-size", "4", "--split", "train", "--accelerator", "cpu", "--devices", "1"]
BACKBONES = {
    "vit": ["--set", "model.depth=1"],
    "resnet50": ["--set", "model.backbone=resnet50",
                 "--set", "model.backbone_args={layers: [1, 1, 1, 1], channels: [8, 8, 16, 16]}"],
    "swin": ["--set", "model.backbone=swin", "--set", "model.cross_sensor=false",
             "--set", "model.backbone_args={embed_dim: 16, depths: [1, 1, 1, 1], num_heads: [1, 2, 4, 8]}"],
}


@pytest.mark.parametrize("backbone, dim", [("vit", 192), ("resnet50", 64), ("swin", 128)])
def test_two_steps_per_backbone_then_export_and_load(tmp_path, backbone, dim):
    code = train.main(["--config", CONFIG, "--out", str(tmp_path / "run"), "--max-steps", "2",
                       "--export", str(tmp_path / "m.pt"), *SMALL_HEADS, *BACKBONES[backbone]])
    assert code == 0 and (tmp_path / "run" / "logs").is_dir()
    encoder = csmae_core.load_model(tmp_path / "m.pt", device="cpu")
    assert encoder.family == "cmid" and encoder.dim == dim and encoder.config.backbone == backbone
    assert encoder.cross_sensor == (backbone != "swin")
    card = encoder.card
    assert card["method"] == "cmid" and card["steps"] == 2 and card["retrieval_weights"] == "student"
    assert card["data"]["labels_used"] is False and card["data"]["pairs"] == 24
    assert {"mim_s1", "global", "local", "loss"} <= set(card["final_losses"])
    vectors = encoder.embed(torch.randn(2, 2, 120, 120), "s1")
    assert vectors.shape == (2, dim) and torch.allclose(vectors.norm(dim=1), torch.ones(2))


def test_resume_continues_the_teacher_from_the_checkpoint(tmp_path):
    args = ["--config", CONFIG, "--out", str(tmp_path), "--checkpoint-every", "1", *SMALL_HEADS, *BACKBONES["vit"]]
    assert train.main([*args, "--max-steps", "2"]) == 0
    first = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)
    assert first["global_step"] == 2 and first["hyper_parameters"]["method"] == "cmid"
    assert train.main([*args, "--max-steps", "3"]) == 0
    second = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)
    assert second["global_step"] == 3
    key = "s1.model.blocks.0.attn.qkv.weight"
    teacher_2, teacher_3 = first["state_dict"][f"model.teacher.{key}"], second["state_dict"][f"model.teacher.{key}"]
    student_3 = second["state_dict"][f"model.student.{key}"]
    # step 3's EMA started from the saved teacher: teacher_3 = m teacher_2 + (1 - m) student_3
    m = cosine_momentum(2, 3, 0.99, 1.0)
    assert torch.allclose(teacher_3, m * teacher_2 + (1 - m) * student_3, atol=1e-6)
    assert not torch.equal(teacher_3, student_3)
    # the Lightning checkpoint is a model too: the student networks
    encoder = csmae_core.load_model(tmp_path / "checkpoints/last.ckpt", device="cpu")
    assert encoder.family == "cmid" and torch.equal(encoder.backbone.s1.model.blocks[0].attn.qkv.weight, student_3)


def test_method_switch_and_its_errors(tmp_path, capsys):
    assert TrainConfig.from_yaml(ROOT / "configs/demo.yaml").method == "csmae"
    code = train.main(["--config", str(ROOT / "configs/demo.yaml"), "--method", "cmid", "--out", str(tmp_path)])
    assert code == 2 and "unknown CMID model setting(s) ['decoder_depth'" in capsys.readouterr().err
    with pytest.raises(InputError, match="method 'dino' is not valid; choose one of csmae, cmid"):
        TrainConfig.from_dict({"method": "dino"})


def test_non_finite_loss_stops_with_the_step_named():
    config = TrainConfig.from_yaml(CONFIG, ["model.depth=1"]).to_dict()
    module = CMIDLightning(config)
    module.model.forward = lambda *a: StepOutput({"loss": torch.tensor(float("nan")), "local": torch.tensor(1.0)},
                                                 {}, {})
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step 0 .*'loss': nan"):
        module.training_step({"a": {"s1": torch.zeros(1, 2, 120, 120)}}, 0)


def test_cmid_configs_parse_with_their_settings():
    demo = TrainConfig.from_yaml(CONFIG)
    assert demo.method == "cmid" and demo.model.backbone == "vit" and demo.model.cross_sensor
    assert (demo.model.embed_dim, demo.model.depth, demo.model.patch_size) == (192, 6, 15)
    assert demo.data.split == "all" and demo.precision == "32-true"
    base = TrainConfig.from_yaml(ROOT / "configs/cmid_vit_base.yaml")
    assert (base.model.embed_dim, base.model.depth, base.model.num_heads) == (768, 12, 12)
    assert base.model.queue_size == 65536 and base.model.num_prototypes == 2048 and base.model.mask_ratio == 0.6
    assert (base.model.global_temperature, base.model.student_temperature, base.model.teacher_temperature) == (
        0.2, 0.1, 0.07)
    assert base.to_dict()["method"] == "cmid"

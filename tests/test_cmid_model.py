"""CMID config, backbones, the training step per backbone family, cross-sensor vs uni-modal heads, the views."""
import pytest
import torch

from csmae_core.errors import InputError
from csmae_core.models.cmid.backbones import SensorBackbone
from csmae_core.models.cmid.config import CMIDConfig
from csmae_core.models.cmid.model import CMID, token_locations
from csmae_core.training.config import DataConfig
from csmae_core.training.views import augmented_view, location_map

HEADS = dict(projection_dim=16, projection_hidden_dim=32, num_prototypes=8, local_hidden_dim=32,
             local_bottleneck_dim=8, local_layers=2, queue_size=32)
TINY = {"vit": dict(backbone="vit", size="tiny", depth=1),
        "resnet50": dict(backbone="resnet50", backbone_args={"layers": [1, 1, 1, 1], "channels": [8, 8, 16, 16]}),
        "swin": dict(backbone="swin", backbone_args={"embed_dim": 16, "depths": [1, 1, 1, 1],
                                                     "num_heads": [1, 2, 4, 8]})}


def tiny(kind="vit", **overrides):
    return CMIDConfig(**{**TINY[kind], **HEADS, **overrides})


def views(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    loc = location_map(120).expand(n, -1, -1, -1)
    return {v: {"s1": torch.randn(n, 2, 120, 120, generator=g), "s2": torch.randn(n, 10, 120, 120, generator=g),
                "loc": loc} for v in ("a", "b")}


@pytest.mark.parametrize("values, message", [
    ({"backbone": "vgg"}, "choose one of vit, resnet50, swin"),
    ({"backbone_args": {"layers": [1, 1, 1, 1]}}, r"do not apply to vit"),
    ({"backbone": "swin", "backbone_args": {"colour": 1}}, r"allowed: depths, embed_dim, num_heads, window_size"),
    ({"mask_ratio": 1.0}, r"mask_ratio must be in \(0, 1\)"),
    ({"mask_patch_size": 16}, "not divisible by mask_patch_size"),
    ({"momentum_base": 0.999, "momentum_final": 0.99}, "momentum_base <= momentum_final"),
    ({"loss_weights": {"mim": 1, "pixel": 1}}, "unknown loss"),
    ({"num_prototypes": 0}, "num_prototypes must be > 0"),
    ({"patch_size": "fifteen"}, "model setting patch_size must be an integer, not 'fifteen'"),
    ({"cross_sensor": "yes"}, "model setting cross_sensor must be true or false, not 'yes'"),
    ({"loss_weights": {"mim": "high"}}, "loss_weights must map loss names to numbers"),
])
def test_config_validation_says_what_is_wrong(values, message):
    with pytest.raises(InputError, match=message):
        CMIDConfig(**values)


def test_config_sizes_follow_the_csmae_encoder_and_round_trip():
    assert (CMIDConfig().embed_dim, CMIDConfig().depth, CMIDConfig().num_heads) == (768, 12, 12)
    assert CMIDConfig(size="tiny", depth=6).feature_dim == 192
    assert CMIDConfig(backbone="resnet50").feature_dim == 2048 and CMIDConfig(backbone="swin").feature_dim == 1024
    assert CMIDConfig(backbone="resnet50").local_batchnorm and not CMIDConfig(backbone="swin").local_batchnorm
    config = tiny("swin", cross_sensor=False)
    assert CMIDConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InputError, match="unknown CMID model setting"):
        CMIDConfig.from_dict({"variant": "secd"})
    with pytest.raises(InputError, match="model settings must be a mapping"):
        CMIDConfig.from_dict(["vit"])


@pytest.mark.parametrize("kind, grid", [("vit", 8), ("resnet50", 4), ("swin", 4)])
def test_backbones_give_a_token_grid_and_the_mask_token_only_acts_where_masked(kind, grid):
    config = tiny(kind)
    backbone = SensorBackbone(config, "s2").eval()
    x = torch.randn(2, 10, 120, 120)
    tokens = backbone(x)
    assert tokens.shape == (2, grid, grid, config.feature_dim)
    assert torch.equal(backbone(x, torch.zeros(2, 8, 8)), tokens)  # nothing masked: no change
    assert not torch.allclose(backbone(x, torch.ones(2, 8, 8)), tokens)


@pytest.mark.parametrize("kind", ["vit", "resnet50", "swin"])
def test_training_step_per_backbone_trains_the_student_only(kind):
    torch.manual_seed(0)
    model = CMID(tiny(kind))
    output = model(views(), teacher_temperature=0.04)
    assert set(output.losses) == {"mim_s1", "mim_s2", "global", "global_uni", "global_cross", "local", "local_uni",
                                  "local_cross", "loss"}
    assert all(torch.isfinite(v) for v in output.losses.values())
    output.losses["loss"].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.student.s1.parameters())
    assert output.keys["joint"].shape == (2 * 2 * 2, 16)  # 2 sensors x 2 views x 2 pairs
    model.update_state(output.keys, output.center_means)
    assert int(model.queue_pointer_joint) == 8 and model.center_joint.abs().sum() > 0


def test_cross_sensor_shares_the_heads_and_uni_modal_keeps_two_spaces():
    cross, uni = CMID(tiny()), CMID(tiny(cross_sensor=False))
    assert set(cross.projector) == {"joint"} and set(uni.projector) == set(uni.prototypes) == {"s1", "s2"}
    assert hasattr(uni, "queue_s1") and hasattr(uni, "center_s2") and not hasattr(uni, "queue_joint")
    losses = uni(views(), 0.04).losses
    assert "global_cross" not in losses and losses["global"] == losses["global_uni"]


def test_teacher_follows_the_student_by_ema():
    model = CMID(tiny())
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(1.0)
    before = model.teacher.s1.mask_token.clone()
    model.update_teacher(0.9)
    assert torch.allclose(model.teacher.s1.mask_token, 0.9 * before + 0.1 * model.student.s1.mask_token)


def test_no_queue_uses_the_batch_negatives():
    output = CMID(tiny(queue_size=0))(views(n=3), 0.04)
    assert torch.isfinite(output.losses["global"])


def test_views_carry_where_each_pixel_came_from():
    torch.manual_seed(3)
    x_s1, x_s2 = torch.randn(2, 120, 120), torch.randn(10, 120, 120)
    view = augmented_view(x_s1, x_s2, DataConfig(flips=True, rotations=True, crop_min=120))
    rows, cols = (view["loc"] - 0.5).round().long()
    assert torch.equal(view["s1"], x_s1[:, rows, cols]) and torch.equal(view["s2"], x_s2[:, rows, cols])
    cropped = augmented_view(x_s1, x_s2, DataConfig(flips=False, rotations=False, crop_min=60))
    assert cropped["loc"].min() >= 0 and cropped["loc"].max() <= 120
    assert (cropped["loc"][1, :, 1:] > cropped["loc"][1, :, :-1]).all()  # columns still increase left to right


def test_token_locations_are_the_token_centres():
    centres = token_locations(location_map(120)[None], 8, 8)
    assert centres.shape == (1, 64, 2)
    assert centres[0, 9].tolist() == pytest.approx([22.5, 22.5])  # row 1, col 1 of 15 px tokens


def test_global_batchnorm_takes_over_the_layers_and_is_plain_batchnorm_on_one_process():
    """What a multi-process run swaps in (csmae_core.models.collectives): the same state_dict keys and tensors, so
    checkpoints of either kind load into the other; on one process it computes what BatchNorm does."""
    from csmae_core.models.collectives import SINGLE_PROCESS, GlobalBatchNorm, convert_batchnorm

    model = CMID(tiny("resnet50"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    reference = CMID(tiny("resnet50"))
    reference.load_state_dict(before)
    convert_batchnorm(model, SINGLE_PROCESS)
    assert any(isinstance(m, GlobalBatchNorm) for m in model.prototypes.modules())
    assert not any(type(m) is torch.nn.BatchNorm2d for m in model.modules())
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    torch.manual_seed(0)
    expected = reference(views(), 0.05).losses["loss"]
    torch.manual_seed(0)
    assert torch.equal(model(views(), 0.05).losses["loss"], expected)

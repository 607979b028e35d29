"""CSMAE model: shapes, masking, losses by hand, every variant/strategy trains, single-sensor embedding."""
import itertools

import pytest
import torch

from csmae_core.errors import InputError
from csmae_core.models.csmae.config import CSMAEConfig
from csmae_core.models.csmae.model import (
    CSMAE,
    draw_masks,
    mde_loss,
    nt_xent,
    parameter_count,
    patchify,
    reconstruction_loss,
    sincos_pos_embed,
)

TINY = dict(size="tiny", decoder_dim=32, decoder_depth=1, decoder_heads=2, img_size=60, patch_size=15)


def inputs(n=3, size=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, size, size, generator=g), torch.randn(n, 10, size, size, generator=g)


@pytest.mark.parametrize("variant, millions", [("cecd", 114.1), ("cesd", 139.7), ("secd", 185.0), ("sesd", 210.6)])
def test_vit_b_parameter_counts_match_the_paper(variant, millions):
    assert parameter_count(CSMAE(CSMAEConfig(variant=variant))) / 1e6 == pytest.approx(millions, abs=0.06)


def test_variant_presets_put_blocks_where_the_released_weights_have_them():
    assert (CSMAEConfig(variant="cecd").specific_depth, CSMAEConfig(variant="cecd").shared_depth) == (0, 12)
    assert (CSMAEConfig(variant="sesd").specific_depth, CSMAEConfig(variant="sesd").shared_depth) == (10, 2)
    assert CSMAEConfig(variant="cesd").decoder_kind == "specific"


@pytest.mark.parametrize("values, message", [
    ({"variant": "xx"}, "choose one of cecd, cesd, secd, sesd"),
    ({"patch_size": 16}, "not divisible by patch_size"),
    ({"masking": "half"}, "choose one of identical, disjoint, random"),
    ({"mask_ratio": 1.0}, r"mask_ratio must be in \[0, 1\)"),
    ({"loss_weights": {"umr": 1, "foo": 1}}, "unknown loss"),
])
def test_config_validation_lists_the_valid_choices(values, message):
    with pytest.raises(InputError, match=message):
        CSMAEConfig(**values)


@pytest.mark.parametrize("strategy", ["identical", "disjoint", "random"])
@pytest.mark.parametrize("ratio", [0.5, 0.25, 0.75])
def test_masking_keeps_exactly_the_right_tokens(strategy, ratio):
    masks = draw_masks(4, 64, ratio, strategy, generator=torch.Generator().manual_seed(1))
    keep = int(64 * (1 - ratio))
    assert masks.ids_keep["s1"].shape == (4, keep)
    assert (masks.mask["s1"].sum(1) == 64 - keep).all()
    if strategy == "identical":
        assert torch.equal(masks.mask["s1"], masks.mask["s2"])
    elif strategy == "disjoint":  # S2 sees exactly what S1 does not
        assert torch.equal(masks.mask["s2"], 1 - masks.mask["s1"])
    else:
        assert (masks.mask["s2"].sum(1) == 64 - keep).all()
    for sensor in ("s1", "s2"):  # visible ids are the positions with mask 0
        visible = torch.zeros(4, 64).scatter_(1, masks.ids_keep[sensor], 1)
        assert torch.equal(visible, 1 - masks.mask[sensor])


def test_patchify_layout_is_channels_last_within_a_patch():
    image = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    patches = patchify(image, 2)
    assert patches.shape == (1, 4, 8)
    assert patches[0, 0].tolist() == [0, 16, 1, 17, 4, 20, 5, 21]


def test_reconstruction_loss_by_hand():
    prediction = torch.tensor([[[1.0, 1.0], [0.0, 0.0], [2.0, 0.0]]])
    target = torch.zeros(1, 3, 2)
    mask = torch.tensor([[1.0, 0.0, 1.0]])
    # patch means 1 and 2 on the masked patches -> 1.5
    assert reconstruction_loss(prediction, target, mask).item() == pytest.approx(1.5)
    assert reconstruction_loss(prediction, target, torch.zeros(1, 3)).item() == 0.0  # no NaN


def test_nt_xent_by_hand():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = 0.5
    # row 0: positive sim 1, negatives: z1[1] (0), z2[1] (0)
    expected = -torch.log(torch.exp(torch.tensor(1 / t)) / (torch.exp(torch.tensor(1 / t)) + 2))
    assert nt_xent(z1, z2, t).item() == pytest.approx(expected.item(), rel=1e-5)


def test_mde_loss_by_hand():
    z = torch.tensor([[1.0, 0.0]])
    assert mde_loss(z, z).item() == pytest.approx(-torch.log1p(torch.exp(torch.tensor(1.0))).item())
    assert mde_loss(z, -z).item() == pytest.approx(-torch.log1p(torch.exp(torch.tensor(-1.0))).item())


def test_sincos_embedding_shape_and_cls_row():
    table = sincos_pos_embed(32, 4)
    assert table.shape == (1, 17, 32) and table[0, 0].abs().sum() == 0
    assert torch.allclose(table[0, 1, :8], torch.zeros(8))  # column 0: sin(0) = 0


@pytest.mark.parametrize("variant, masking, reconstruction", list(itertools.product(
    ["cecd", "cesd", "secd", "sesd"], ["identical", "disjoint", "random"], ["disjoint", "identical"])))
def test_every_combination_trains_two_steps_without_nan(variant, masking, reconstruction):
    if masking == reconstruction == "identical":
        # Issue 13: this combination has no meaning in the published code (its decoder would target the
        # source-visible positions); it is refused instead of silently training the disjoint task.
        with pytest.raises(InputError, match="model.reconstruction"):
            CSMAEConfig(variant=variant, masking=masking, reconstruction=reconstruction, depth=2, **TINY)
        return
    cfg = CSMAEConfig(variant=variant, masking=masking, reconstruction=reconstruction, depth=2,
                      loss_weights={"umr": 1, "cmr": 1, "mim": 1, "mde": 1}, **TINY)
    torch.manual_seed(0)
    model = CSMAE(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(2):
        losses = model(*inputs())
        assert all(torch.isfinite(v) for v in losses.values()), losses
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    model.eval()
    x_s1, x_s2 = inputs()
    for sensor, x in (("s1", x_s1), ("s2", x_s2)):  # disjoint masking gave NaN S2 embeddings in the published code
        embedding = model.backbone.embed(x, sensor)
        assert torch.isfinite(embedding).all()


def test_embedding_is_unit_norm_and_uses_only_its_sensor():
    model = CSMAE(CSMAEConfig(**TINY, depth=2)).eval()
    x_s1, x_s2 = inputs()
    with torch.no_grad():
        e1 = model.backbone.embed(x_s1, "s1")
        assert e1.shape == (3, 192)
        assert torch.allclose(e1.norm(dim=1), torch.ones(3), atol=1e-5)
        pair_s1, pair_s2 = model.backbone.embed_pair(x_s1, x_s2)
        assert torch.allclose(pair_s1, e1, atol=1e-5)
        assert torch.allclose(pair_s2, model.backbone.embed(x_s2, "s2"), atol=1e-5)
    # an S1 embedding never touches S2 modules
    touched = []
    hook = model.backbone.patch_embed["s2"].register_forward_hook(lambda *a: touched.append(1))
    model.backbone.embed(x_s1, "s1")
    hook.remove()
    assert not touched


def test_cls_pooling_option():
    model = CSMAE(CSMAEConfig(**TINY, depth=2, pool="cls")).eval()
    assert torch.isfinite(model.backbone.embed(inputs()[0], "s1")).all()


def test_mask_noise_fixes_each_samples_mask_whatever_batch_it_is_in():
    """Per-sample noise (as ViTMAE's forward(noise=)): a sample's mask is the same in a batch of 4 and in a batch of 2,
    so runs that split a global batch over processes mask every sample alike; without noise nothing changes."""
    noise = torch.rand(4, 2, 64, generator=torch.Generator().manual_seed(3))
    whole, half = draw_masks(4, 64, 0.5, "random", noise=noise), draw_masks(2, 64, 0.5, "random", noise=noise[2:])
    for sensor in ("s1", "s2"):
        assert torch.equal(whole.mask[sensor][2:], half.mask[sensor])
    assert not torch.equal(whole.mask["s1"], whole.mask["s2"])  # S2 uses its own noise row
    seeded = [draw_masks(4, 64, 0.5, "random", generator=torch.Generator().manual_seed(1)) for _ in range(2)]
    assert torch.equal(seeded[0].mask["s2"], seeded[1].mask["s2"])
    with pytest.raises(InputError, match=r"noise must have shape \(n, 2, patches\) = \(4, 2, 16\), not \(4, 2, 64\)"):
        draw_masks(4, 16, 0.5, "random", noise=noise)
    x_s1, x_s2 = inputs(4)  # 60 px: 16 patches
    noise = noise[..., :16]
    model = CSMAE(CSMAEConfig(**TINY, specific_depth=1, shared_depth=1)).eval()
    with torch.no_grad():  # the forward pass takes the noise through to the masks
        assert model(x_s1, x_s2, None, noise)["loss"] == model(x_s1, x_s2, None, noise)["loss"]
        assert model(x_s1, x_s2, None, noise)["loss"] != model(x_s1, x_s2, None, 1 - noise)["loss"]

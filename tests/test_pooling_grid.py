"""avg_grid pooling (issue 13's train-split experiment): the embedding keeps the coarse layout of the patch
(the avg feature, then the means of the four quadrants), in training (visible tokens only) and retrieval."""
import torch
import torch.nn.functional as F

from csmae_core.models.csmae.config import CSMAEConfig
from csmae_core.models.csmae.model import CSMAE

TINY = dict(size="tiny", decoder_dim=32, decoder_depth=1, decoder_heads=2, img_size=60, patch_size=15)


def model(pool="avg_grid"):
    torch.manual_seed(0)
    return CSMAE(CSMAEConfig(variant="secd", pool=pool, **TINY)).eval()


def inputs(n=3):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 2, 60, 60, generator=g), torch.randn(n, 10, 60, 60, generator=g)


def test_the_embedding_is_the_avg_feature_then_four_quadrants_at_half_weight():
    csmae = model()
    assert csmae.cfg.embedding_dim == 5 * csmae.cfg.embed_dim
    x1, _ = inputs()
    with torch.no_grad():
        tokens = csmae.backbone.tokens(x1, "s1")
        embedding = csmae.backbone.embed(x1, "s1")
    dim, grid = csmae.cfg.embed_dim, tokens[:, 1:].reshape(3, 4, 4, -1)  # 60 / 15 = a 4 x 4 grid
    whole = F.normalize(csmae.backbone.fc_norm(tokens[:, 1:].mean(1)), dim=-1)
    top_right = F.normalize(csmae.backbone.fc_norm(grid[:, :2, 2:].mean((1, 2))), dim=-1)  # quadrant 1
    expected_norm = (1 + 4 * 0.25) ** 0.5
    assert torch.allclose(embedding[:, :dim] * expected_norm, whole, atol=1e-5)
    assert torch.allclose(embedding[:, 2 * dim:3 * dim] * expected_norm, 0.5 * top_right, atol=1e-5)


def test_a_cosine_is_half_the_whole_patch_half_the_layout():
    csmae = model()
    x1, _ = inputs()
    with torch.no_grad():
        a, b = csmae.backbone.embed(x1[:1], "s1"), csmae.backbone.embed(x1[1:2], "s1")
    dim = csmae.cfg.embed_dim
    parts = [F.cosine_similarity(a[:, i * dim:(i + 1) * dim], b[:, i * dim:(i + 1) * dim]) for i in range(5)]
    assert torch.allclose((a * b).sum(), 0.5 * parts[0] + 0.5 * torch.stack(parts[1:]).mean(), atol=1e-5)


def test_quadrant_means_of_visible_tokens_follow_their_grid_positions():
    csmae = model()
    patches = torch.zeros(1, 2, csmae.cfg.embed_dim)
    patches[0, 0, 0], patches[0, 1, 1] = 1.0, 1.0  # token at grid position 15 (bottom right), then at 0
    means = csmae.backbone._quadrants(patches, torch.tensor([[15, 0]]))
    raw = torch.zeros(4, csmae.cfg.embed_dim)
    raw[3, 0], raw[0, 1] = 1.0, 1.0  # empty quadrants stay zero before the norm
    assert torch.allclose(means[0], csmae.backbone.fc_norm(raw), atol=1e-6)


def test_training_and_both_sensor_embedding_work_with_grid_pooling():
    csmae = model()
    x1, x2 = inputs()
    losses = csmae.train()(x1, x2)
    assert torch.isfinite(losses["loss"]) and losses["mim"] > 0
    losses["loss"].backward()
    with torch.no_grad():
        s1, s2 = csmae.eval().backbone.embed_pair(x1, x2)
        assert torch.allclose(s1, csmae.backbone.embed(x1, "s1"), atol=1e-5)
        assert torch.allclose(s2, csmae.backbone.embed(x2, "s2"), atol=1e-5)
    assert s1.shape == (3, 5 * csmae.cfg.embed_dim)

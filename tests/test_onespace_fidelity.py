"""Fidelity to the published CSMAE code (issue 13): decoder LayerNorm eps, "identical" reconstruction as
published (and refused where it has no meaning), one counterpart-rank rule for the app and the evaluation."""
import numpy as np
import pytest
import torch

from csmae_core.errors import InputError
from csmae_core.evaluation.metrics import counterpart_ranks
from csmae_core.models.csmae.config import CSMAEConfig
from csmae_core.models.csmae.model import CSMAE, draw_masks, patchify, reconstruction_loss

TINY = dict(size="tiny", depth=2, decoder_dim=32, decoder_depth=1, decoder_heads=2, img_size=60, patch_size=15)


def test_decoder_layernorms_use_the_published_eps_and_the_encoder_keeps_its_own():
    model = CSMAE(CSMAEConfig(variant="sesd", **TINY))
    decoder_eps = {m.eps for d in model.decoders.values() for m in d.modules() if isinstance(m, torch.nn.LayerNorm)}
    encoder_eps = {m.eps for m in model.backbone.modules() if isinstance(m, torch.nn.LayerNorm)}
    assert decoder_eps == {1e-5} and encoder_eps == {1e-6}


def pair_and_noise(n=2, seed=3):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 2, 60, 60, generator=g), torch.randn(n, 10, 60, 60, generator=g),
            torch.rand(n, 2, 16, generator=g))


@pytest.mark.parametrize("masking", ["random", "disjoint"])
def test_identical_reconstruction_puts_the_source_tokens_in_the_targets_visible_slots(masking):
    """Published meaning: decode the source with the TARGET's restore ids, score the target's masked patches."""
    cfg = CSMAEConfig(variant="secd", masking=masking, reconstruction="identical", mask_ratio=0.5, **TINY)
    torch.manual_seed(0)
    model = CSMAE(cfg).eval()
    x_s1, x_s2, noise = pair_and_noise()
    losses = model(x_s1, x_s2, noise=noise)
    masks = draw_masks(2, 16, 0.5, masking, noise=noise)
    with torch.no_grad():
        tokens = model.backbone.tokens(x_s1, "s1", masks.ids_keep["s1"])
        by_hand = model.decoder_for("s2")(tokens, masks.ids_restore["s2"], "s2")
        expected = reconstruction_loss(by_hand, patchify(x_s2, 15), masks.mask["s2"])
        own_slots = model.decoder_for("s2")(tokens, masks.ids_restore["s1"], "s2")
        redefined = reconstruction_loss(own_slots, patchify(x_s2, 15), masks.mask["s2"])
    assert losses["cmr_s2_from_s1"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert abs(losses["cmr_s2_from_s1"].item() - redefined.item()) > 1e-4  # the earlier definition differs


def test_disjoint_reconstruction_is_unchanged_source_slots_and_source_mask():
    cfg = CSMAEConfig(variant="cecd", masking="random", reconstruction="disjoint", **TINY)
    torch.manual_seed(0)
    model = CSMAE(cfg).eval()
    x_s1, x_s2, noise = pair_and_noise()
    losses = model(x_s1, x_s2, noise=noise)
    masks = draw_masks(2, 16, 0.5, "random", noise=noise)
    with torch.no_grad():
        tokens = model.backbone.tokens(x_s2, "s2", masks.ids_keep["s2"])
        pred = model.decoder_for("s1")(tokens, masks.ids_restore["s2"], "s1")
        expected = reconstruction_loss(pred, patchify(x_s1, 15), masks.mask["s2"])
    assert losses["cmr_s1_from_s2"].item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("values, named", [
    ({"masking": "identical", "reconstruction": "identical"}, r"model\.reconstruction.*model\.masking"),
    ({"masking": "disjoint", "reconstruction": "identical", "mask_ratio": 0.25}, r"model\.mask_ratio"),
])
def test_combinations_without_meaning_are_refused_naming_the_config_keys(values, named):
    with pytest.raises(InputError, match=named):
        CSMAEConfig(**TINY, **values)


def test_identical_reconstruction_is_accepted_where_it_is_defined():
    random = CSMAEConfig(**TINY, masking="random", reconstruction="identical", mask_ratio=0.75)
    assert random.reconstruction == "identical"
    assert CSMAEConfig(**TINY, masking="disjoint", reconstruction="identical", mask_ratio=0.5).masking == "disjoint"
    assert CSMAEConfig(**TINY, masking="identical", reconstruction="disjoint").masking == "identical"


def test_one_counterpart_rank_rule_ties_count_against_the_query():
    scores = np.array([[0.7, 0.7, 0.7, 0.1]])  # a model that scores three patches the same
    assert counterpart_ranks(scores, np.array([1])).tolist() == [3]
    assert counterpart_ranks(np.array([[0.2, 0.9, 0.9]]), np.array([1])).tolist() == [2]


def test_the_app_ranks_ties_like_the_evaluation():
    """A query scoring every archive patch the same (a zero vector): rank N for both, not 1 for the app."""
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.search import Query, SearchEngine
    from tests.conftest import ROOT

    engine = SearchEngine(Bundle(ROOT / "assets" / "bundles" / "demo"))
    count = len(engine.bundle.embeddings["s2"])
    query = Query(np.zeros(engine.bundle.dim, dtype=np.float32), "s1", pair_row=5)
    assert engine.counterpart_rank(query) == (count, False)
    scores = (engine.bundle.embeddings["s2"] @ query.embedding)[None]
    assert counterpart_ranks(scores, np.array([5])).tolist() == [count]

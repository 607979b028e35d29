"""CMID's retrieval vectors in one space for S1 and S2 (issue 13): the `align` term, its config, its effect."""
import logging

import pytest
import torch
import yaml

from csmae_core.models.cmid import losses as L
from csmae_core.models.cmid.config import CMIDConfig
from csmae_core.models.cmid.model import CMID
from csmae_core.training.config import TrainConfig
from tests.conftest import ROOT
from tests.test_cmid_model import tiny, views


def test_align_is_opt_in_on_by_the_committed_configs_and_ignored_for_separate_spaces(caplog):
    assert CMIDConfig().loss_weights["align"] == 0.0  # the published CMID's defaults
    for name in ("cmid_demo.yaml", "cmid_vit_base.yaml"):
        config = TrainConfig.from_dict(yaml.safe_load((ROOT / "configs" / name).read_text()))
        assert config.model.cross_sensor and config.model.loss_weights["align"] == 1.0
    with caplog.at_level(logging.WARNING):
        uni = tiny(cross_sensor=False, loss_weights={"mim": 1, "global": 1, "local": 1, "align": 1})
    assert uni.loss_weights["align"] == 0.0 and "cross_sensor models only" in caplog.text
    assert CMIDConfig.from_dict(tiny(loss_weights={"align": 2}).to_dict()).loss_weights["align"] == 2.0


def test_pair_ntxent_rewards_pairs_and_counts_same_sensor_negatives():
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    aligned = L.pair_ntxent(z, z.clone(), 0.2)
    shuffled = L.pair_ntxent(z, z[[1, 2, 3, 0]], 0.2)
    assert aligned < shuffled
    # by hand for row 0 of [z; z]: positive = row 4 (its pair), denominator = the 7 other rows
    everything = torch.cat([z, z]) @ torch.cat([z, z]).T / 0.2
    logits = torch.cat([everything[0, 1:]])
    expected = -(everything[0, 4] - torch.logsumexp(logits, dim=0))
    rows = [(everything[i, (i + 4) % 8] - torch.logsumexp(torch.cat([everything[i, :i], everything[i, i + 1:]]), 0))
            for i in range(8)]
    assert aligned.item() == pytest.approx(-torch.stack(rows).mean().item(), rel=1e-5)
    assert -rows[0].item() == pytest.approx(expected.item(), rel=1e-5)


def test_align_adds_its_term_to_the_loss():
    torch.manual_seed(0)
    with_align = CMID(tiny(loss_weights={"mim": 1, "global": 1, "local": 1, "align": 1}))
    without = CMID(tiny())
    without.load_state_dict(with_align.state_dict())
    a = with_align(views(), 0.04, torch.Generator().manual_seed(1))
    b = without(views(), 0.04, torch.Generator().manual_seed(1))
    assert "align" in a.losses and "align" not in b.losses
    assert (a.losses["loss"] - b.losses["loss"]).item() == pytest.approx(a.losses["align"].item(), rel=1e-4)


def pair_cosine(model, batch):
    with torch.no_grad():
        s1, s2 = model.student.embed_pair(batch["a"]["s1"], batch["a"]["s2"])
    return (s1 * s2).sum(dim=1).mean().item()


def test_training_on_align_brings_a_pairs_s1_and_s2_embeddings_together():
    """The retrieval vectors (the students' pooled features of the unmasked inputs) of a pair move together."""
    torch.manual_seed(0)
    model = CMID(tiny(loss_weights={"mim": 0, "global": 0, "local": 0, "align": 1}))
    batch = views(n=4, seed=3)
    before = pair_cosine(model, batch)
    optimizer = torch.optim.AdamW(model.student_parameters(), lr=1e-3)
    for step in range(8):
        loss = model(views(n=4, seed=3), 0.04, torch.Generator().manual_seed(step)).losses["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert pair_cosine(model, batch) > before + 0.1

"""Token similarity maps (csmae_core.retrieval.explain): the encoders' tokens (EncoderBase.embed_tokens /
record_tokens) on toy models built from the project's own configs, the maps' logic on hand-built tokens, the
refusals, the overlay, and pages.ui.match_view.match_panel (AppTest) on the real demo."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from csmae_core.errors import InputError
from csmae_core.models.cmid.checkpoint import CMIDCheckpoint
from csmae_core.models.cmid.config import CMIDConfig
from csmae_core.models.cmid.encoder import CMIDEncoder
from csmae_core.models.csmae.checkpoint import Checkpoint
from csmae_core.models.csmae.config import CSMAEConfig
from csmae_core.models.csmae.encoder import CSMAERetrievalEncoder
from csmae_core.models.csmae.model import CSMAEEncoder
from csmae_core.record import PatchRecord
from csmae_core.retrieval.explain import (
    best_positions,
    colour_scale,
    heat_overlay,
    maps_from_tokens,
    match_maps,
)
from tests.conftest import ROOT

CPU = torch.device("cpu")
S2_BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
DEMO_ARCHIVE = str(ROOT / "assets" / "demo")
MARKED = (1, 6)  # a grid cell off the diagonal: a transposed grid would put it at (6, 1)


def toy_csmae(transpose: bool = False, pool: str = "avg") -> CSMAERetrievalEncoder:
    torch.manual_seed(0)
    config = CSMAEConfig(variant="secd", size="tiny", embed_dim=32, num_heads=2, specific_depth=1, shared_depth=1,
                         decoder_dim=32, decoder_depth=1, decoder_heads=2, pool=pool)
    state = {k: v.clone() for k, v in CSMAEEncoder(config).state_dict().items()}
    checkpoint = Checkpoint(config, state, transpose_input=transpose, source_format="toy")
    return CSMAERetrievalEncoder(checkpoint.build_encoder(), checkpoint, CPU)


def toy_cmid(cross_sensor: bool = True) -> CMIDEncoder:
    torch.manual_seed(0)
    config = CMIDConfig(backbone="vit", size="tiny", depth=1, projection_dim=16, projection_hidden_dim=32,
                        num_prototypes=8, local_hidden_dim=32, local_bottleneck_dim=8, local_layers=2, queue_size=32,
                        cross_sensor=cross_sensor)
    from csmae_core.models.cmid.backbones import CMIDBackbone

    backbone = CMIDBackbone(config)
    state = {s: {k: v.clone() for k, v in getattr(backbone, s).state_dict().items()} for s in ("s1", "s2")}
    return CMIDEncoder(CMIDCheckpoint(config, state, source_format="toy"), CPU)


def s2_record(seed: int = 0, marked: tuple[int, int] | None = None) -> PatchRecord:
    """A smooth random S2 patch at native resolution; `marked`: that 15 x 15 cell (row, column of the 8 x 8
    grid at 10 m) made very different (bright, checkered) from the rest."""
    rng = np.random.default_rng(seed)
    bands = {}
    for name in S2_BANDS:
        size = 120 if name in ("B02", "B03", "B04", "B08") else 60
        base = rng.normal(1500, 60, (size, size)).astype(np.float32)
        if marked is not None:  # the pixels wholly inside the cell (a 20 m cell is 7.5 pixels wide)
            cell = 15 * size / 120
            rows, cols = (slice(int(np.ceil(i * cell)), int((i + 1) * cell)) for i in marked)
            block = base[rows, cols]
            block[:] = 6000 + 3000 * (np.indices(block.shape).sum(0) % 2)
        bands[name] = np.clip(base, 1, None).astype(np.uint16)
    return PatchRecord("s2", bands, f"toy-{seed}")


def s1_record(seed: int = 1) -> PatchRecord:
    rng = np.random.default_rng(seed)
    return PatchRecord("s1", {"VV": rng.normal(-12, 1, (120, 120)).astype(np.float32),
                              "VH": rng.normal(-19, 1, (120, 120)).astype(np.float32)}, f"toy-s1-{seed}")


# ---------------------------------------------------------------- the encoders' tokens
@pytest.mark.parametrize("make", [toy_csmae, lambda: toy_csmae(pool="cls"), toy_cmid],
                         ids=["csmae", "csmae-cls", "cmid"])
def test_pooled_vector_of_the_tokens_pass_is_the_embedding(make):
    encoder = make()
    for record in (s2_record(), s1_record()):
        tokens, pooled = encoder.record_tokens([record], record.sensor)
        assert tokens.shape == (1, 8, 8, encoder.dim) and tokens.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(tokens, axis=-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(pooled, encoder.embed_records([record], record.sensor), atol=1e-5)


def test_cmid_pooled_vector_is_the_mean_of_its_tokens():
    encoder = toy_cmid()
    x = encoder.prepare([s2_record()], "s2")
    grid = encoder.backbone.branch("s2")(x)
    _, pooled = encoder.embed_tokens(x, "s2")
    np.testing.assert_allclose(pooled.numpy(), torch.nn.functional.normalize(grid.mean((1, 2)), dim=-1).detach(),
                               atol=1e-6)


def test_official_cmid_tokens_cover_the_patch_and_pool_to_its_embedding():
    import timm

    from csmae_core.models.cmid import official
    from csmae_core.models.cmid.encoder import OfficialCMIDEncoder

    torch.manual_seed(0)
    resnet = timm.create_model("resnet50", pretrained=False, num_classes=0, global_pool="", layers=(1, 1, 1, 1),
                               channels=(8, 8, 16, 16))
    backbone, _ = official.build_official(resnet.state_dict())
    encoder = OfficialCMIDEncoder(backbone, "toy", {}, CPU)
    tokens, pooled = encoder.record_tokens([s2_record()], "s2")
    assert tokens.shape == (1, 7, 7, 64)                          # ResNet stride 32 on the 224 px true colour
    np.testing.assert_allclose(pooled, encoder.embed_records([s2_record()], "s2"), atol=1e-5)
    with pytest.raises(InputError, match="embeds S2 only, not S1"):
        match_maps(encoder, s1_record(), s2_record())
    with pytest.raises(InputError, match="cannot embed S1"):
        encoder.record_tokens([s1_record()], "s1")


@pytest.mark.parametrize("transpose", [False, True])
def test_a_changed_cell_is_found_at_its_displayed_position_whatever_the_model_orientation(transpose):
    encoder = toy_csmae(transpose=transpose)
    assert encoder.transpose_input is transpose
    plain, marked = s2_record(3), s2_record(3, marked=MARKED)
    maps = match_maps(encoder, plain, marked)
    # the result's changed cell is the token least like the query's whole patch, at (row, column) as displayed
    assert np.unravel_index(maps.result_map.argmin(), maps.grid) == MARKED
    changed = np.abs(encoder.record_tokens([marked], "s2")[0][0] - encoder.record_tokens([plain], "s2")[0][0]).sum(-1)
    assert np.unravel_index(changed.argmax(), changed.shape) == MARKED


def test_a_patch_against_itself_matches_every_token_at_its_own_position():
    maps = match_maps(toy_csmae(), s2_record(4), s2_record(4))
    assert maps.same_position_share() == 1.0
    np.testing.assert_allclose(maps.query_map, maps.result_map, atol=1e-6)
    assert maps.score == pytest.approx(1.0, abs=1e-5)


def test_cross_sensor_maps_have_the_shared_grid_and_a_cosine_score():
    encoder = toy_csmae()
    query, result = s1_record(), s2_record()
    maps = match_maps(encoder, query, result)
    assert (maps.query_sensor, maps.result_sensor, maps.grid) == ("s1", "s2", (8, 8))
    vectors = [encoder.embed_records([r], r.sensor)[0] for r in (query, result)]
    assert maps.score == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-5)
    for heat in (maps.query_map, maps.result_map):
        assert -1 <= maps.value_range(heat)[0] <= maps.value_range(heat)[1] <= 1


# ---------------------------------------------------------------- the maps' logic on hand-built tokens
def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_hand_built_tokens_light_up_where_they_match():
    rng = np.random.default_rng(0)
    query = unit(rng.standard_normal((8, 8, 16)))
    order = rng.permutation(64)
    result = query.reshape(64, 16)[order].reshape(8, 8, 16)        # result token i = query token order[i]
    best = best_positions(query, result)
    where = {int(o): i for i, o in enumerate(order)}
    for r, c in np.ndindex(8, 8):
        assert tuple(best[r, c]) == divmod(where[r * 8 + c], 8)
    pooled = query[2, 5]                                           # the result "is" the query's cell (2, 5)
    maps = maps_from_tokens(query, unit(query.mean((0, 1))), result, pooled, "s2", "s2")
    assert np.unravel_index(maps.query_map.argmax(), (8, 8)) == (2, 5)
    assert maps.query_map.max() == pytest.approx(1.0, abs=1e-6)
    assert maps.same_position_share() == pytest.approx(np.mean(order == np.arange(64)))


def test_best_positions_ignore_the_component_every_token_shares():
    rng = np.random.default_rng(1)
    detail = rng.standard_normal((4, 4, 8))
    common = np.zeros(8)
    common[0] = 50.0
    query = unit(detail + common)
    result = unit(detail[::-1] * 0.5 + common)                    # the same details, rows reversed
    best = best_positions(query, result)
    assert [tuple(best[r, 0]) for r in range(4)] == [(3, 0), (2, 0), (1, 0), (0, 0)]


# ---------------------------------------------------------------- refusals
def test_maps_are_refused_with_a_reason():
    with pytest.raises(InputError, match="no model"):
        match_maps(None, s2_record(), s2_record())
    with pytest.raises(InputError, match="no archive pixels"):
        match_maps(toy_csmae(), s2_record(), None)
    with pytest.raises(InputError, match="separate spaces"):
        match_maps(toy_cmid(cross_sensor=False), s1_record(), s2_record())
    assert match_maps(toy_cmid(cross_sensor=False), s2_record(1), s2_record(2)).grid == (8, 8)


# ---------------------------------------------------------------- drawing
def test_overlay_puts_each_cell_over_its_block_and_scale_runs_low_to_high():
    image = np.full((120, 120, 3), 128, dtype=np.uint8)
    heat = np.zeros((8, 8), dtype=np.float32)
    heat[MARKED] = 1.0
    drawn = heat_overlay(image, heat, 0.0, 1.0, alpha=0.5, scale=2)
    assert drawn.shape == (240, 240, 3)
    row, col = MARKED
    inside = drawn[row * 30:(row + 1) * 30, col * 30:(col + 1) * 30].reshape(-1, 3)
    assert (inside == inside[0]).all() and inside[0].sum() > drawn[0, 0].sum() + 100
    outside = np.delete(drawn.reshape(8, 30, 8, 30, 3).transpose(0, 2, 1, 3, 4).reshape(64, -1, 3), row * 8 + col, 0)
    assert (outside == drawn[0, 0]).all()
    bar = colour_scale(0.2, 0.9)
    assert bar.shape == (14, 256, 3) and bar[0, -1].sum() > bar[0, 0].sum()


# ---------------------------------------------------------------- match_panel (AppTest, real demo)
def panel_app(entry_json: str, query_archive: str | None) -> None:
    """match_panel for demo pair 0's S1 patch (read from `query_archive`; None: no query pixels) against the
    S2 patch of pair 1."""
    from csmae_core.io.packed import PackedArchive
    from csmae_core.retrieval.search import Result
    from pages.ui.match_view import match_panel
    from pages.ui.resources import load_backend

    backend = load_backend(entry_json)
    result = Result(rank=1, score=0.5, id="1:s2", sensor="s2", pair_id=str(backend.bundle.table.at[1, "pair_id"]),
                    row=1, labels=[], lon=0.0, lat=0.0, bbox=(0, 0, 1, 1), distance_km=None)
    query = PackedArchive(query_archive)[0].record("s1") if query_archive else None
    match_panel(backend, query, result)


def demo_entry(**changes) -> str:
    entry = {"name": "CSMAE demo", "encoder_family": "csmae", "model": str(ROOT / "assets/models/demo.pt"),
             "bundle": str(ROOT / "assets/bundles/demo"), "archive": str(ROOT / "assets/demo")}
    entry.update(changes)
    return json.dumps({k: v for k, v in entry.items() if v is not None})


def test_match_panel_draws_both_maps_a_scale_and_a_sentence():
    at = AppTest.from_function(panel_app, args=(demo_entry(), DEMO_ARCHIVE), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c for image in at.get("image") for c in image.captions]
    assert any(c.startswith("query (Sentinel-1)") for c in captions)
    assert any(c.startswith("#1 Sentinel-2") for c in captions)
    assert sum(c.startswith("cosine ") for c in captions) == 2          # each map its own scale
    sentence = [c.value for c in at.caption if "same grid position" in c.value]
    assert len(sentence) == 1 and "8x8" in sentence[0]


def test_match_panel_says_why_there_is_no_map():
    at = AppTest.from_function(panel_app, args=(demo_entry(), None), default_timeout=60).run()
    assert not at.exception and any("the query has no pixels" in i.value for i in at.info)
    at = AppTest.from_function(panel_app, args=(demo_entry(archive=None), DEMO_ARCHIVE), default_timeout=60).run()
    assert not at.exception and any("bundle has no archive pixels" in i.value for i in at.info)
    assert not at.get("image")
    at = AppTest.from_function(panel_app, args=(demo_entry(model=None), DEMO_ARCHIVE), default_timeout=60).run()
    assert not at.exception and any("no model" in i.value for i in at.info)


# ---------------------------------------------------------------- scripts/measure_token_agreement.py
def test_agreement_script_reports_counterparts_random_pairs_and_latency(tmp_path, capsys):
    from scripts import measure_token_agreement

    out, threads = tmp_path / "agreement.json", torch.get_num_threads()
    name = "CSMAE demo (self-supervised on all 60 pairs)"
    assert measure_token_agreement.main(["--entry", name, "--splits", "validation", "--random-per-query", "1",
                                         "--timing-runs", "2", "--threads", "1", "--json", str(out)]) == 0
    assert torch.get_num_threads() == threads                      # --threads is undone for the caller
    report = json.loads(out.read_text())[0]
    assert (report["entry"], report["pairs"], report["random_pairs"], report["grid"]) == (name, 15, 15, [8, 8])
    assert report["chance"] == pytest.approx(1 / 64)
    for values in report["directions"].values():
        assert set(values) == {f"{k}_{m}" for k in ("counterpart", "random", "difference_ci95")
                               for m in ("centred", "raw")}
        for mode in ("centred", "raw"):
            counterpart, random = values[f"counterpart_{mode}"], values[f"random_{mode}"]
            low, high = values[f"difference_ci95_{mode}"]
            assert 0 <= counterpart <= 1 and 0 <= random <= 1 and low <= counterpart - random + 1e-9 and low <= high
    assert 0 < report["latency"]["median_s"] <= report["latency"]["p95_s"]
    printed = capsys.readouterr().out
    assert "| S1→S2 |" in printed and "| S2→S1 |" in printed and "load average" in printed


def test_agreement_script_refuses_bad_arguments_with_a_reason(capsys):
    from scripts import measure_token_agreement

    assert measure_token_agreement.main(["--entry", "no such model"]) == 2
    assert "no entry with a model and archive named ['no such model']" in capsys.readouterr().err
    assert measure_token_agreement.main(["--splits", "nowhere", "--entry",
                                         "CSMAE demo (self-supervised on all 60 pairs)"]) == 2
    assert "random pairs need at least 2: pass other --splits" in capsys.readouterr().err
    assert measure_token_agreement.main(["--timing-runs", "0"]) == 2
    assert "must be at least 1" in capsys.readouterr().err

import numpy as np
import pytest
import torch

from csmae_core.bands import BANDS, MODEL_BANDS, STORED_BANDS
from csmae_core.errors import InputError
from csmae_core.preprocess import model_batch, model_input, normalise, stack_bands
from csmae_core.preview import preview, s1_false_colour, s2_true_colour
from csmae_core.record import PatchRecord


def synthetic_bands(sensor, seed=0):
    rng = np.random.default_rng(seed)
    bands = {}
    for name in STORED_BANDS[sensor]:
        side = BANDS[name].native_pixels
        if sensor == "s1":
            bands[name] = rng.normal(-15, 4, (side, side)).astype(np.float32)
        else:
            bands[name] = rng.integers(1, 5000, (side, side)).astype(np.uint16)
    return bands


def test_stack_follows_model_band_order_and_upsamples():
    bands = {name: np.full((BANDS[name].native_pixels,) * 2, i, dtype=np.uint16)
             for i, name in enumerate(STORED_BANDS["s2"])}
    stack = stack_bands(bands, "s2")
    assert stack.shape == (10, 120, 120) and stack.dtype == torch.float32
    expected = [STORED_BANDS["s2"].index(name) for name in MODEL_BANDS["s2"]]
    assert stack[:, 60, 60].tolist() == pytest.approx(expected)


def test_bicubic_upsampling_keeps_corners_align_corners_true():
    bands = synthetic_bands("s2")
    stack = stack_bands(bands, "s2")
    b05 = bands["B05"].astype(np.float32)
    channel = stack[MODEL_BANDS["s2"].index("B05")]
    for (r, c), (R, C) in (((0, 0), (0, 0)), ((0, 119), (0, 59)), ((119, 119), (59, 59))):
        assert channel[r, c].item() == pytest.approx(b05[R, C], rel=1e-5)


def test_normalisation_uses_band_statistics():
    bands = {name: np.full((120, 120), BANDS[name].mean + BANDS[name].std, dtype=np.float32)
             for name in MODEL_BANDS["s1"]}
    out = normalise(stack_bands(bands, "s1"), "s1")
    assert torch.allclose(out, torch.ones_like(out), atol=1e-5)


def test_transpose_option_swaps_height_and_width():
    record = PatchRecord("s1", synthetic_bands("s1"), "x")
    plain, transposed = model_input(record), model_input(record, transpose=True)
    assert torch.equal(plain.transpose(1, 2), transposed)


def test_batch_and_errors():
    records = [PatchRecord("s2", synthetic_bands("s2", seed), f"p{seed}") for seed in range(3)]
    assert model_batch(records, "s2").shape == (3, 10, 120, 120)
    with pytest.raises(InputError, match="other-sensor records"):
        model_batch(records, "s1")
    with pytest.raises(InputError, match="lacks band"):
        stack_bands({"VV": np.zeros((120, 120))}, "s1")


def test_previews_are_deterministic_uint8():
    s2, s1 = synthetic_bands("s2"), synthetic_bands("s1")
    first, again = s2_true_colour(s2), s2_true_colour(s2)
    assert first.dtype == np.uint8 and first.shape == (120, 120, 3) and np.array_equal(first, again)
    assert s1_false_colour(s1).shape == (120, 120, 3)
    assert np.array_equal(preview("s1", s1), s1_false_colour(s1))


def test_previews_survive_flat_and_nan_images():
    flat = {name: np.zeros((120, 120), dtype=np.float32) for name in ("VV", "VH")}
    assert s1_false_colour(flat).max() == 0
    nan = {name: np.full((120, 120), np.nan, dtype=np.float32) for name in ("B04", "B03", "B02")}
    assert s2_true_colour(nan).max() == 0
    with pytest.raises(InputError, match="preview needs band"):
        s2_true_colour({"B04": np.zeros((2, 2))})


def test_demo_preview_has_contrast(demo_archive):
    pair = demo_archive[0]
    image = preview("s2", pair.s2.bands)
    assert image.std() > 10

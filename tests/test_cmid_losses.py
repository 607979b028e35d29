"""CMID losses, schedules, EMA and masking on small hand-checked cases."""
import math

import numpy as np
import pytest
import torch

from csmae_core.errors import InputError
from csmae_core.models.cmid import losses as L
from csmae_core.models.cmid.masking import block_masks, fill_with_mean, pixel_mask


def test_focal_l1_weighs_an_error_by_its_own_size():
    prediction, target = torch.tensor([1.0, 0.0, 3.0]), torch.tensor([0.0, 0.0, 0.0])
    expected = [1 * (2 / (1 + math.exp(-0.2)) - 1), 0.0, 3 * (2 / (1 + math.exp(-0.6)) - 1)]
    assert L.focal_l1(prediction, target).tolist() == pytest.approx(expected, rel=1e-6)
    assert L.focal_l1(prediction, target, gamma=2.0)[0].item() == pytest.approx(expected[0] ** 2, rel=1e-5)


def test_pixel_loss_counts_the_masked_pixels_only():
    prediction = torch.zeros(1, 2, 2, 2)
    target = torch.full((1, 2, 2, 2), 100.0)  # huge errors everywhere ...
    target[0, :, 0, 0] = 1.0                  # ... except at the one masked pixel
    mask = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    assert L.masked_pixel_loss(prediction, target, mask).item() == pytest.approx(2 / (1 + math.exp(-0.2)) - 1)
    assert L.masked_pixel_loss(prediction, target, torch.zeros(1, 2, 2)).item() == 0.0


def test_block_masks_hide_exactly_ceil_ratio_blocks_and_pixel_masks_tile_them():
    masks = block_masks(5, 8, 0.6, generator=torch.Generator().manual_seed(0))
    assert masks.shape == (5, 8, 8) and (masks.sum(dim=(1, 2)) == math.ceil(64 * 0.6)).all()
    assert not torch.equal(masks[0], masks[1])  # drawn per image
    pixels = pixel_mask(masks, 120)
    assert pixels.shape == (5, 120, 120) and torch.equal(pixels[:, ::15, ::15], masks)
    # only masked positions count: a prediction wrong everywhere else still costs nothing
    target = torch.randn(5, 3, 120, 120)
    prediction = torch.where(pixels[:, None].bool(), target, target + 50)
    assert L.masked_pixel_loss(prediction, target, pixels).item() == 0.0


def test_masked_pixels_take_the_image_mean_and_the_rest_is_untouched():
    images = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    mask = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # top-left 2x2 block
    filled = fill_with_mean(images, mask)
    assert torch.equal(filled[0, :, :2, :2], images.mean(dim=(2, 3))[0, :, None, None].expand(2, 2, 2))
    assert torch.equal(filled[0, :, 2:], images[0, :, 2:]) and torch.equal(filled[0, :, :2, 2:], images[0, :, :2, 2:])


def test_frequency_loss_of_a_constant_offset_is_its_square_and_uses_the_batch_spectrum():
    target = torch.randn(1, 3, 8, 8)
    assert L.frequency_loss(target + 0.5, target).item() == pytest.approx(0.25, rel=1e-5)
    assert L.frequency_loss(target, target).item() == 0.0
    # opposite offsets cancel in the batch-average spectrum (the official ave_spectrum=True)
    pair = torch.cat([target, target])
    offsets = torch.tensor([0.5, -0.5]).view(2, 1, 1, 1)
    assert L.frequency_loss(pair + offsets, pair).item() == pytest.approx(0, abs=1e-6)


def test_frequency_input_keeps_the_masked_prediction_and_mostly_detaches_the_rest():
    prediction = torch.full((1, 1, 2, 2), 4.0, requires_grad=True)
    target = torch.zeros(1, 1, 2, 2)
    mask = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    out = L.frequency_input(prediction, target, mask, unmask_weight=0.0)
    assert out[0, 0].tolist() == [[4.0, 2.0], [2.0, 2.0]]  # visible: 0.5 * prediction + 0.5 * target
    out.sum().backward()
    assert prediction.grad[0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    prediction.grad = None
    L.frequency_input(prediction, target, mask, unmask_weight=0.001).sum().backward()
    assert prediction.grad[0, 0, 1, 1].item() == pytest.approx(0.001)


def test_moco_infonce_against_a_queue_of_orthogonal_keys():
    query = key = torch.tensor([[1.0, 0.0, 0.0]])
    queue = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # (D, K): two negatives
    # logits [1, 0, 0] / 0.5 -> -log(e^2 / (e^2 + 2))
    assert L.moco_infonce(query, key, queue, 0.5).item() == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)


def test_batch_infonce_uses_the_other_keys_as_negatives():
    eye = torch.eye(2)
    assert L.batch_infonce(eye, eye, 1.0).item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_queue_is_a_ring_buffer():
    queue = torch.zeros(2, 4)
    assert L.enqueue(queue, 3, torch.tensor([[1.0, 1.0], [2.0, 2.0]])) == 1
    assert queue.T.tolist() == [[2, 2], [0, 0], [0, 0], [1, 1]]


def test_position_match_keeps_the_closest_pairs():
    student = torch.tensor([[[0.0, 0.0], [10.0, 10.0], [5.0, 5.0]]])
    teacher = torch.tensor([[[10.0, 10.0], [0.0, 1.0], [50.0, 50.0]]])
    student_index, teacher_index = L.position_match(student, teacher, 2)
    assert student_index.tolist() == [[1, 0]] and teacher_index.tolist() == [[0, 1]]
    assert L.position_match(student, teacher, 20)[0].shape == (1, 3)  # at most all tokens


def test_prototype_consistency_by_hand():
    zeros = torch.zeros(2, 5, 4)
    assert L.prototype_consistency(zeros, zeros, torch.zeros(4), 0.1, 0.04).item() == pytest.approx(math.log(4))
    # a sharp teacher picks prototype 0; the student's log-softmax there is 1 - log(e + 2)
    teacher, student = torch.tensor([[10.0, 0.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]])
    assert L.prototype_consistency(student, teacher, torch.zeros(3), 1.0, 0.01).item() == pytest.approx(
        math.log(math.e + 2) - 1, rel=1e-5)
    # centring removes the teacher's preference: uniform target
    assert L.prototype_consistency(torch.zeros(1, 2), torch.tensor([[2.0, 0.0]]), torch.tensor([2.0, 0.0]),
                                   1.0, 0.04).item() == pytest.approx(math.log(2))


def test_center_is_an_ema_of_the_teacher_mean():
    center = L.updated_center(torch.zeros(2), torch.tensor([[1.0, 3.0], [3.0, 5.0]]), 0.9)
    assert center.tolist() == pytest.approx([0.2, 0.4])


def test_teacher_temperature_warms_up_like_the_official_linspace():
    schedule = np.linspace(0.04, 0.07, 4)
    assert [L.teacher_temperature(e, 0.04, 0.07, 4) for e in range(6)] == pytest.approx([*schedule, 0.07, 0.07])
    assert L.teacher_temperature(0, 0.04, 0.07, 0) == 0.07


def test_momentum_rises_on_a_cosine_from_base_to_final():
    assert L.cosine_momentum(0, 100, 0.996, 1.0) == pytest.approx(0.996)
    assert L.cosine_momentum(50, 100, 0.996, 1.0) == pytest.approx(0.998)
    assert L.cosine_momentum(100, 100, 0.996, 1.0) == pytest.approx(1.0)
    assert L.cosine_momentum(500, 100, 0.996, 1.0) == pytest.approx(1.0)


def test_ema_update_moves_parameters_and_leaves_buffers():
    teacher, student = torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    with torch.no_grad():
        teacher.weight.fill_(1.0), student.weight.fill_(3.0)
        student.running_mean.fill_(7.0)
    L.ema_update(teacher, student, 0.75)
    assert teacher.weight.tolist() == [1.5, 1.5]  # 0.75 * 1 + 0.25 * 3
    assert teacher.running_mean.tolist() == [0.0, 0.0] and student.weight.tolist() == [3.0, 3.0]


def test_block_mask_noise_masks_the_lowest_blocks_of_each_sample():
    noise = torch.rand(3, 64, generator=torch.Generator().manual_seed(0))
    masks = block_masks(3, 8, 0.25, noise=noise)
    lowest = noise.argsort(dim=1)[:, :16]
    assert torch.equal(masks.reshape(3, 64).nonzero()[:, 1].reshape(3, 16).sort().values, lowest.sort(dim=1).values)
    assert torch.equal(block_masks(1, 8, 0.25, noise=noise[2:]), masks[2:])  # a sample's mask, whatever its batch
    with pytest.raises(InputError, match=r"noise must have shape \(n, blocks\) = \(3, 16\), not \(3, 64\)"):
        block_masks(3, 4, 0.25, noise=noise)

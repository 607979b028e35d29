"""CMID's losses and schedules as small pure functions (no module state; the caller keeps centres/queues).

Definitions follow the official code (NJU-LHRS/official-CMID, Pretrain/models/loss_utils.py and
mim_utils.py, written from their description, not copied):
  MIM      focal L1 on the masked pixels + focal frequency loss on the reconstruction (A2MIM's pair);
  global   MoCo-v2 InfoNCE of the student's projection against the teacher's (queue negatives);
  align    (ours, cross-sensor) NT-Xent between the pooled S1 and S2 features of a pair;
  local    DINO-style cross-entropy between the teacher's centred, sharpened prototype assignment and
           the student's, on position-matched tokens;
  teacher  EMA of the student with a cosine momentum schedule.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from csmae_core.models.collectives import SINGLE_PROCESS, Ranks


# ---------------------------------------------------------------- masked image modelling
def focal_l1(prediction: torch.Tensor, target: torch.Tensor, alpha: float = 0.2, gamma: float = 1.0) -> torch.Tensor:
    """Element-wise |p - t| * (2 sigmoid(alpha |p - t|) - 1)^gamma: large errors weigh more than in L1."""
    error = (prediction - target).abs()
    return error * (2 * torch.sigmoid(alpha * error) - 1) ** gamma


def masked_pixel_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                      alpha: float = 0.2, gamma: float = 1.0) -> torch.Tensor:
    """Mean focal L1 over the masked pixels only. prediction/target (N, C, H, W); mask (N, H, W), 1 = masked.
    0 when nothing is masked."""
    weight = mask[:, None].to(prediction.dtype)
    per_element = focal_l1(prediction.float(), target.float(), alpha, gamma) * weight
    return per_element.sum() / (weight.sum() * prediction.shape[1]).clamp_min(1.0)


def frequency_input(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                    unmask_weight: float = 0.001) -> torch.Tensor:
    """The reconstruction the frequency loss sees: masked pixels as predicted; visible pixels mostly replaced
    by a detached mix of prediction and target (only `unmask_weight` of the prediction keeps its gradient),
    so the spectrum is judged on what had to be inferred."""
    keep = mask[:, None].to(prediction.dtype)
    keep = keep + (1 - keep) * unmask_weight
    replacement = 0.5 * prediction.detach() + 0.5 * target
    return prediction * keep + replacement * (1 - keep)


def frequency_loss(prediction: torch.Tensor, target: torch.Tensor, ranks: Ranks = SINGLE_PROCESS) -> torch.Tensor:
    """Focal frequency loss on the batch-average spectrum (orthonormal 2-D FFT per channel): squared
    spectral distance weighted by log(1 + distance), scaled to [0, 1] by its maximum over the batch
    (the weights carry no gradient). A prediction off by a constant d everywhere costs d^2. With several
    processes the average is over the global batch (every process gets the same value)."""
    spectrum_p = ranks.mean(torch.fft.fft2(prediction.float(), norm="ortho").mean(dim=0, keepdim=True))
    spectrum_t = ranks.mean(torch.fft.fft2(target.float(), norm="ortho").mean(dim=0, keepdim=True))
    distance = (spectrum_p - spectrum_t).abs() ** 2
    with torch.no_grad():
        weight = torch.log1p(distance.sqrt())
        weight = torch.nan_to_num(weight / weight.max()).clamp(0.0, 1.0)
    return (weight * distance).mean()


# ---------------------------------------------------------------- global branch
def moco_infonce(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE of L2-normalised queries (N, D) against their keys (N, D, positive) and a queue of
    negatives (D, K): cross-entropy with the positive in column 0."""
    positive = (query * key).sum(dim=1, keepdim=True)
    logits = torch.cat([positive, query @ queue], dim=1) / temperature
    return F.cross_entropy(logits.float(), torch.zeros(len(query), dtype=torch.long, device=query.device))


def batch_infonce(query: torch.Tensor, key: torch.Tensor, temperature: float,
                  ranks: Ranks = SINGLE_PROCESS) -> torch.Tensor:
    """InfoNCE without a queue: row i's positive is key i, the other keys of the global batch are its
    negatives (with several processes: every process's keys)."""
    everyone = ranks.gather(key)
    logits = query @ everyone.T / temperature
    positives = torch.arange(len(query), device=query.device) + ranks.rank * len(query)
    return F.cross_entropy(logits.float(), positives)


def pair_ntxent(z_s1: torch.Tensor, z_s2: torch.Tensor, temperature: float,
                ranks: Ranks = SINGLE_PROCESS) -> torch.Tensor:
    """Cross-sensor NT-Xent (ours) on the pooled features (N, D) of co-registered S1/S2 pairs: rows of
    [z_s1; z_s2], the positive of a row is its pair's other sensor, the negatives are all other rows of the
    global batch, same-sensor ones included, so a same-sensor neighbour closer than the counterpart is
    penalised (what "search both sensors" needs). The form of CSMAE's inter-modal loss."""
    z = F.normalize(torch.cat([z_s1, z_s2]).float(), dim=-1)
    everyone = ranks.gather(z)
    logits = z @ everyone.T / temperature
    offset, rows = ranks.rank * len(z), torch.arange(len(z), device=z.device)
    itself = torch.zeros(logits.shape, dtype=torch.bool, device=z.device)
    itself[rows, offset + rows] = True  # a row is not its own negative
    logits = logits.masked_fill(itself, float("-inf"))
    n = len(z_s1)
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device) + offset
    return F.cross_entropy(logits, positives)


def enqueue(queue: torch.Tensor, pointer: int, keys: torch.Tensor) -> int:
    """Write keys (N, D) into the ring buffer queue (D, K) from `pointer` on (in place, wrapping);
    returns the new pointer. Keys beyond K (a batch larger than the queue) keep the last K."""
    size = queue.shape[1]
    keys = keys[-size:]
    slots = (pointer + torch.arange(len(keys), device=queue.device)) % size
    queue[:, slots] = keys.T.to(queue.dtype)
    return int((pointer + len(keys)) % size)


# ---------------------------------------------------------------- local branch
def position_match(student_locations: torch.Tensor, teacher_locations: torch.Tensor,
                   matches: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each student token its nearest teacher token (by location in the original patch), keeping the
    `matches` student tokens whose nearest teacher token is closest. Locations (N, L, 2) -> student and
    teacher token indices (N, M), M = min(matches, L), student indices in ascending distance."""
    distances = torch.cdist(student_locations.float(), teacher_locations.float())
    nearest_distance, nearest = distances.min(dim=2)
    count = min(matches, student_locations.shape[1])
    student = nearest_distance.topk(count, dim=1, largest=False).indices
    return student, torch.gather(nearest, 1, student)


def prototype_consistency(student_logits: torch.Tensor, teacher_logits: torch.Tensor, center: torch.Tensor,
                          student_temperature: float, teacher_temperature: float) -> torch.Tensor:
    """Cross-entropy between the teacher's assignment softmax((t - center) / T_t) (no gradient) and the
    student's log-softmax(s / T_s) over the last (prototype) axis, averaged over all other axes."""
    targets = F.softmax((teacher_logits.float() - center) / teacher_temperature, dim=-1).detach()
    return -(targets * F.log_softmax(student_logits.float() / student_temperature, dim=-1)).sum(dim=-1).mean()


def updated_center(center: torch.Tensor, teacher_logits: torch.Tensor, momentum: float) -> torch.Tensor:
    """EMA of the teacher's mean logit per prototype (centring keeps one prototype from taking all)."""
    batch_mean = teacher_logits.detach().float().reshape(-1, teacher_logits.shape[-1]).mean(dim=0)
    return center * momentum + batch_mean * (1 - momentum)


def teacher_temperature(epoch: int, warmup_temperature: float, temperature: float, warmup_epochs: int) -> float:
    """Linear from `warmup_temperature` at epoch 0 to `temperature` at epoch warmup_epochs - 1, then flat
    (the official np.linspace schedule)."""
    if epoch >= warmup_epochs:
        return temperature
    return warmup_temperature + (temperature - warmup_temperature) * epoch / max(1, warmup_epochs - 1)


# ---------------------------------------------------------------- teacher
def cosine_momentum(step: int, total_steps: int, base: float, final: float) -> float:
    """EMA momentum: `base` at step 0 rising on a half cosine to `final` at `total_steps`."""
    progress = min(1.0, step / max(1, total_steps))
    return final - (final - base) * (math.cos(math.pi * progress) + 1) / 2


@torch.no_grad()
def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, momentum: float) -> None:
    """teacher <- momentum * teacher + (1 - momentum) * student, parameter by parameter (buffers such as
    BatchNorm statistics stay the teacher's own, as in the official code)."""
    for teacher_param, student_param in zip(teacher.parameters(), student.parameters(), strict=True):
        teacher_param.mul_(momentum).add_(student_param.detach(), alpha=1 - momentum)

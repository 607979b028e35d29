"""CMID (Muhtar et al., IEEE TGRS 2023) on Sentinel-1 / Sentinel-2 pairs, with our cross-sensor extension.

Per sensor, as in the paper: the teacher (EMA of the student) encodes two full views of a patch, the
student encodes the same two views masked. Three branches on the student's tokens, each in its own
space: masked image modelling (reconstruct the masked pixels of its own view), global (the student's
projected mean token of one view against the teacher's of the OTHER view, MoCo InfoNCE) and local
(student tokens against the teacher tokens at the nearest location in the other view, cross-entropy
of their prototype assignments).

Ours (`cross_sensor: true`): in the global and local branches each student is ALSO taught by the other
sensor's teacher on the co-registered other view (student S1 vs teacher S2, student S2 vs teacher S1),
with projector, prototypes, queue and centre shared by both sensors; and, with `loss_weights.align` > 0
(configs/cmid_*.yaml), an NT-Xent term pulls the pooled S1 and S2 features of a pair together: those
pooled features are the retrieval vectors, and the heads' shared space alone left them apart (pair cosine
0.38 without it), so S1 and S2 embeddings land in one space. With `cross_sensor: false` the two sensors are independent uni-modal CMIDs with their own
heads (separate spaces), trained in one run.

Views (batch dict): {"a": {"s1", "s2", "loc"}, "b": {...}}: S1 (N, 2, H, W), S2 (N, 10, H, W) and
loc (N, 2, H, W), the row/column in the original patch of every pixel of that view.

Data-parallel training: `ranks` (one process unless a trainer sets it) makes the batch-dependent terms
global: the in-batch InfoNCE negatives and the frequency loss's batch-average spectrum (the trainer also
turns BatchNorm layers into `GlobalBatchNorm`, and gathers the queue's keys and the centre's means).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from csmae_core.bands import SENSORS, model_channels
from csmae_core.models.cmid import losses as L
from csmae_core.models.cmid.backbones import CMIDBackbone, global_feature
from csmae_core.models.cmid.config import CMIDConfig
from csmae_core.models.cmid.heads import GlobalProjector, PrototypeHead, ReconstructionHead
from csmae_core.models.cmid.masking import block_masks, fill_with_mean, pixel_mask
from csmae_core.models.collectives import SINGLE_PROCESS, Ranks

OTHER = {"s1": "s2", "s2": "s1"}
VIEWS = ("a", "b")
OTHER_VIEW = {"a": "b", "b": "a"}
CNN_STRIDE = 32  # ResNet-50's output stride


@dataclass
class StepOutput:
    """Loss terms of one step, and what the step adds to the running state (after gathering over
    devices): teacher keys for the queue and the teacher's mean prototype logit for the centre."""

    losses: dict[str, torch.Tensor]
    keys: dict[str, torch.Tensor]
    center_means: dict[str, torch.Tensor]


def reconstruction_stride(config: CMIDConfig) -> int:
    if config.backbone == "vit":
        return config.patch_size
    if config.backbone == "resnet50":
        return CNN_STRIDE
    return 4 * 2 ** (len(config.architecture["depths"]) - 1)  # Swin: patch 4, one halving per later stage


def token_locations(locations: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, 2, H, W) pixel locations -> (N, height*width, 2): mean location of each token's pixels."""
    pooled = F.adaptive_avg_pool2d(locations.float(), (height, width))
    return pooled.flatten(2).transpose(1, 2)


def _gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    flat = tokens.flatten(1, 2)
    return torch.gather(flat, 1, index[..., None].expand(-1, -1, flat.shape[-1]))


class CMID(nn.Module):
    def __init__(self, config: CMIDConfig):
        super().__init__()
        self.config = config
        self.ranks: Ranks = SINGLE_PROCESS
        self.space_of = {s: ("joint" if config.cross_sensor else s) for s in SENSORS}
        self.spaces = tuple(dict.fromkeys(self.space_of.values()))
        width = config.feature_dim
        self.student = CMIDBackbone(config)
        self.reconstruct = nn.ModuleDict({s: ReconstructionHead(width, model_channels(s), reconstruction_stride(config),
                                                                config.img_size) for s in SENSORS})
        self.projector = nn.ModuleDict({space: GlobalProjector(width, config.projection_hidden_dim,
                                                               config.projection_dim) for space in self.spaces})
        self.prototypes = nn.ModuleDict({space: PrototypeHead(width, config.local_hidden_dim,
                                                              config.local_bottleneck_dim, config.num_prototypes,
                                                              config.local_layers, config.local_batchnorm)
                                         for space in self.spaces})
        # The teacher starts as a copy of the student and then only follows it by EMA (no gradients).
        self.teacher = copy.deepcopy(self.student)
        self.teacher_projector = copy.deepcopy(self.projector)
        self.teacher_prototypes = copy.deepcopy(self.prototypes)
        for module in self.momentum_pairs():
            module[1].requires_grad_(False)
        for space in self.spaces:
            queue = F.normalize(torch.randn(config.projection_dim, config.queue_size), dim=0)
            self.register_buffer(f"queue_{space}", queue)
            self.register_buffer(f"queue_pointer_{space}", torch.zeros(1, dtype=torch.long))
            self.register_buffer(f"center_{space}", torch.zeros(config.num_prototypes))

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(student part, teacher part): backbones, projectors, prototype heads (the official pairs)."""
        return [(self.student, self.teacher), (self.projector, self.teacher_projector),
                (self.prototypes, self.teacher_prototypes)]

    def update_teacher(self, momentum: float) -> None:
        for student, teacher in self.momentum_pairs():
            L.ema_update(teacher, student, momentum)

    def student_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    # ------------------------------------------------------------ running state (queue, centre)
    @torch.no_grad()
    def update_state(self, keys: dict[str, torch.Tensor], center_means: dict[str, torch.Tensor]) -> None:
        for space in self.spaces:
            if self.config.queue_size:
                pointer = getattr(self, f"queue_pointer_{space}")
                pointer[0] = L.enqueue(getattr(self, f"queue_{space}"), int(pointer[0]), keys[space])
            center = getattr(self, f"center_{space}")
            center.copy_(center * self.config.center_momentum + center_means[space] * (1 - self.config.center_momentum))

    # ------------------------------------------------------------ the training step
    def forward(self, views: dict, teacher_temperature: float, generator: torch.Generator | None = None,
                noise: torch.Tensor | None = None) -> StepOutput:
        """Loss terms of one batch; `noise` (N, 2 sensors, 2 views, blocks) fixes the masks per sample."""
        cfg = self.config
        n = views["a"]["s1"].shape[0]
        grid = cfg.img_size // cfg.mask_patch_size
        images = {s: torch.cat([views[v][s] for v in VIEWS]) for s in SENSORS}  # both views in one batch
        per_sample = {s: None if noise is None else torch.cat([noise[:, i, 0], noise[:, i, 1]])
                      for i, s in enumerate(SENSORS)}
        masks = {s: block_masks(2 * n, grid, cfg.mask_ratio, images[s].device, generator, per_sample[s])
                 for s in SENSORS}
        student = {s: self.student.branch(s)(fill_with_mean(images[s], masks[s]), masks[s]) for s in SENSORS}
        with torch.no_grad():
            teacher = {s: self.teacher.branch(s)(images[s]) for s in SENSORS}
        losses = {f"mim_{s}": self._mim(s, student[s], images[s], masks[s]) for s in SENSORS}
        split = lambda t: dict(zip(VIEWS, t.split(n)))  # noqa: E731
        student_tokens = {s: split(student[s]) for s in SENSORS}
        teacher_tokens = {s: split(teacher[s]) for s in SENSORS}
        keys = self._global(student_tokens, teacher_tokens, losses)
        center_means = self._local(student_tokens, teacher_tokens, views, teacher_temperature, losses)
        weights = cfg.loss_weights
        losses["loss"] = (weights["mim"] * (losses["mim_s1"] + losses["mim_s2"]) / 2
                          + weights["global"] * losses["global"] + weights["local"] * losses["local"])
        if weights["align"]:
            losses["align"] = self._align(student_tokens)
            losses["loss"] = losses["loss"] + weights["align"] * losses["align"]
        return StepOutput(losses, keys, center_means)

    def _mim(self, sensor: str, tokens: torch.Tensor, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        reconstruction = self.reconstruct[sensor](tokens)
        where = pixel_mask(masks, cfg.img_size)
        spatial = L.masked_pixel_loss(reconstruction, images, where, cfg.focal_alpha, cfg.focal_gamma)
        if not cfg.fft_weight:
            return spatial
        spectrum = L.frequency_loss(L.frequency_input(reconstruction, images, where, cfg.fft_unmask_weight), images,
                                    self.ranks)
        return spatial + cfg.fft_weight * spectrum

    def _align(self, student_tokens) -> torch.Tensor:
        """Ours: the pooled features of S1 and S2 of each view (co-registered, the retrieval vector's
        definition) pulled together, the other pairs pushed away; mean over the two views."""
        terms = [L.pair_ntxent(global_feature(student_tokens["s1"][v]), global_feature(student_tokens["s2"][v]),
                               self.config.align_temperature, self.ranks) for v in VIEWS]
        return torch.stack(terms).mean()

    def _teachers_of(self, sensor: str) -> tuple[str, ...]:
        """Whose teacher teaches this student: its own sensor's, and in cross-sensor mode also the other's."""
        return (sensor, OTHER[sensor]) if self.config.cross_sensor else (sensor,)

    def _global(self, student_tokens, teacher_tokens, losses) -> dict[str, torch.Tensor]:
        cfg = self.config
        queries = {s: {v: self.projector[self.space_of[s]](global_feature(student_tokens[s][v])) for v in VIEWS}
                   for s in SENSORS}
        with torch.no_grad():
            keys = {s: {v: self.teacher_projector[self.space_of[s]](global_feature(teacher_tokens[s][v]))
                        for v in VIEWS} for s in SENSORS}
        terms: dict[str, list[torch.Tensor]] = {"uni": [], "cross": []}
        for s in SENSORS:
            queue = getattr(self, f"queue_{self.space_of[s]}").clone().detach()
            for v in VIEWS:
                for t in self._teachers_of(s):
                    key = keys[t][OTHER_VIEW[v]]
                    term = (L.moco_infonce(queries[s][v], key, queue, cfg.global_temperature) if cfg.queue_size
                            else L.batch_infonce(queries[s][v], key, cfg.global_temperature, self.ranks))
                    terms["uni" if t == s else "cross"].append(term)
        self._record(losses, "global", terms)
        return {space: torch.cat([keys[s][v] for s in SENSORS if self.space_of[s] == space for v in VIEWS])
                for space in self.spaces}

    def _local(self, student_tokens, teacher_tokens, views, temperature, losses) -> dict[str, torch.Tensor]:
        cfg = self.config
        _, height, width, _ = student_tokens["s1"]["a"].shape
        where = {v: token_locations(views[v]["loc"], height, width) for v in VIEWS}
        matches = {v: L.position_match(where[v], where[OTHER_VIEW[v]], cfg.local_matches) for v in VIEWS}
        terms: dict[str, list[torch.Tensor]] = {"uni": [], "cross": []}
        targets: dict[tuple[str, str], torch.Tensor] = {}  # (teacher sensor, student view) -> teacher logits
        for s in SENSORS:
            space = self.space_of[s]
            for v in VIEWS:
                student_index, teacher_index = matches[v]
                logits = self.prototypes[space](_gather_tokens(student_tokens[s][v], student_index))
                for t in self._teachers_of(s):
                    if (t, v) not in targets:
                        with torch.no_grad():
                            targets[t, v] = self.teacher_prototypes[space](
                                _gather_tokens(teacher_tokens[t][OTHER_VIEW[v]], teacher_index))
                    term = L.prototype_consistency(logits, targets[t, v], getattr(self, f"center_{space}"),
                                                   cfg.student_temperature, temperature)
                    terms["uni" if t == s else "cross"].append(term)
        self._record(losses, "local", terms)
        return {space: torch.cat([logits.reshape(-1, logits.shape[-1]) for (t, _), logits in targets.items()
                                  if self.space_of[t] == space]).float().mean(dim=0) for space in self.spaces}

    @staticmethod
    def _record(losses: dict, branch: str, terms: dict[str, list[torch.Tensor]]) -> None:
        """branch loss = mean of all its terms; the uni-modal and cross-sensor parts are logged apart."""
        everything = terms["uni"] + terms["cross"]
        losses[branch] = torch.stack(everything).mean()
        losses[f"{branch}_uni"] = torch.stack(terms["uni"]).mean()
        if terms["cross"]:
            losses[f"{branch}_cross"] = torch.stack(terms["cross"]).mean()

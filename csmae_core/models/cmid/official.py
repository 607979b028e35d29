"""The official CMID checkpoints (ResNet-50 / Swin-B pre-trained on MillionAID RGB) as S2 true-colour encoders.

Key layouts, from the official code (NJU-LHRS/official-CMID):
  full pre-training checkpoint  {"epoch", "num_gpus", "model": state_dict, "optimizer", "metric_storage",
                                 "hooks"} (Exploring/trainer.py save_checkpoint); the student network is
                                 `online_encoder.model.*`, the EMA teacher `branch_encoder.*`;
  "backbone only" file          the student's keys without that prefix, a plain OrderedDict (extract.py,
                                 which is how the authors hand the network to every downstream task).
  ResNet-50                     timm's resnet50 (num_classes=0): the names are timm's (= torchvision's).
  Swin-B                        mmcls' SwinTransformer (Pretrain/models/swin_transformer.py): patch_embed.
                                 projection, stages.i.blocks.j.attn.w_msa.*, ffn.layers.0.0 / ffn.layers.1,
                                 stages.i.downsample (mmcv PatchMerging: nn.Unfold order), norm3.
Both are mapped onto timm networks (`swin_base_patch4_window7_224` naming); the architecture is read off
the weights. We use the student, as extract.py does.

Input: from the project's 10-band S2 model input (normalised, model band order) we take B04, B03, B02,
undo the band normalisation (back to reflectance x 10000), divide by 3000 and clip to [0, 1] (a fixed
true-colour scaling: 0.3 reflectance is white, so vegetation and soil stay mid-grey rather than black;
MillionAID images are 8-bit photographs with a similar range), resize to 224 px bilinearly (the
pre-training size; Swin-B's windows need it) and standardise with the MillionAID statistics the
official pre-training normalised with (Pretrain/Dataset/transform.py), not ImageNet's.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from csmae_core.bands import MODEL_BANDS, normalisation
from csmae_core.errors import CheckpointError, InputError
from csmae_core.models.cmid.backbones import body, build_timm, global_feature, stem
from csmae_core.models.cmid.config import RESNET50, SWIN_B
from csmae_core.models.weights import strict_load

STUDENT_PREFIX = "online_encoder.model."
RGB_BANDS = ("B04", "B03", "B02")
REFLECTANCE_WHITE = 3000.0  # reflectance x 10000 shown as full brightness
OFFICIAL_SIZE = 224
MILLIONAID_MEAN = (0.33797, 0.3605, 0.3348)
MILLIONAID_STD = (0.1359, 0.1352, 0.1407)
UNFOLD_TO_CONCAT = [0, 2, 1, 3]  # 2x2 neighbour order: mmcv Unfold (row-major) <-> timm / Swin concat


# ---------------------------------------------------------------- recognising the layouts
def _is_state(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, torch.Tensor) for v in value.values())


def backbone_kind(state: dict) -> str | None:
    if "conv1.weight" in state and "layer1.0.conv1.weight" in state:
        return "resnet50"
    if "patch_embed.projection.weight" in state and any(k.startswith("stages.") for k in state):
        return "swin"
    return None


def official_backbone_state(payload: Any) -> dict | None:
    """The student network's weights if `payload` is an official CMID file, else None."""
    if isinstance(payload, dict) and isinstance(payload.get("model"), dict):
        student = {k[len(STUDENT_PREFIX):]: v for k, v in payload["model"].items() if k.startswith(STUDENT_PREFIX)}
        if not (student and backbone_kind(student)):
            return None
        if not _is_state(student):  # e.g. a pickled call where weights belong (replaced by an inert stand-in)
            raise CheckpointError("the official CMID checkpoint's student network is not a mapping of weights "
                                  "(name -> tensor); check where this file comes from")
        return student
    if _is_state(payload) and backbone_kind(payload):
        return dict(payload)
    return None


# ---------------------------------------------------------------- architecture read off the weights
def _count(state: dict, pattern: str) -> int:
    found = {int(m.group(1)) for k in state for m in [re.match(pattern, k)] if m}
    return max(found) + 1 if found else 0


def resnet_architecture(state: dict) -> dict:
    layers = [_count(state, rf"layer{i}\.(\d+)\.") for i in range(1, 5)]
    try:
        channels = [state[f"layer{i}.0.conv3.weight"].shape[0] // 4 for i in range(1, 5)]
    except KeyError as error:
        raise CheckpointError(f"the ResNet checkpoint lacks {error}: not a ResNet-50-style (bottleneck) network")
    return {"layers": layers, "channels": channels}


def swin_architecture(state: dict) -> dict:
    stages = _count(state, r"stages\.(\d+)\.")
    depths = [_count(state, rf"stages\.{i}\.blocks\.(\d+)\.") for i in range(stages)]
    tables = [state[f"stages.{i}.blocks.0.attn.w_msa.relative_position_bias_table"] for i in range(stages)]
    window = (math.isqrt(tables[0].shape[0]) + 1) // 2
    return {"embed_dim": state["patch_embed.projection.weight"].shape[0], "depths": depths,
            "num_heads": [t.shape[1] for t in tables], "window_size": window}


# ---------------------------------------------------------------- Swin: mmcls names <-> timm names
def _unfold_to_concat(tensor: torch.Tensor) -> torch.Tensor:
    """Patch-merging weights over 4C inputs: mmcv Unfold order (channel-major, c*4 + neighbour) ->
    timm order (neighbour-major, neighbour*C + c, neighbours (0,0) (1,0) (0,1) (1,1) as row, col)."""
    *lead, features = tensor.shape
    grouped = tensor.reshape(*lead, features // 4, 4)[..., UNFOLD_TO_CONCAT]
    return grouped.transpose(-1, -2).reshape(*lead, features)


def _concat_to_unfold(tensor: torch.Tensor) -> torch.Tensor:
    *lead, features = tensor.shape
    grouped = tensor.reshape(*lead, 4, features // 4)[..., UNFOLD_TO_CONCAT, :]
    return grouped.transpose(-1, -2).reshape(*lead, features)


_SWIN_TO_TIMM = [
    (r"patch_embed\.projection\.(.+)", "patch_embed.proj.{0}"),
    (r"patch_embed\.norm\.(.+)", "patch_embed.norm.{0}"),
    (r"stages\.(\d+)\.blocks\.(\d+)\.attn\.w_msa\.(qkv|proj|relative_position_bias_table)(.*)",
     "layers.{0}.blocks.{1}.attn.{2}{3}"),
    (r"stages\.(\d+)\.blocks\.(\d+)\.ffn\.layers\.0\.0\.(.+)", "layers.{0}.blocks.{1}.mlp.fc1.{2}"),
    (r"stages\.(\d+)\.blocks\.(\d+)\.ffn\.layers\.1\.(.+)", "layers.{0}.blocks.{1}.mlp.fc2.{2}"),
    (r"stages\.(\d+)\.blocks\.(\d+)\.(norm1|norm2)\.(.+)", "layers.{0}.blocks.{1}.{2}.{3}"),
]
_SKIPPED = (r".*\.relative_position_index$", r".*attn_mask$")  # buffers timm derives itself


def swin_to_timm(state: dict) -> dict:
    """mmcls Swin state_dict -> timm SwinTransformer names (patch merging re-ordered). Unknown keys raise."""
    last = _count(state, r"stages\.(\d+)\.") - 1
    out, unknown = {}, []
    for key, value in state.items():
        if any(re.fullmatch(p, key) for p in _SKIPPED):
            continue
        merge = re.fullmatch(r"stages\.(\d+)\.downsample\.(norm\.weight|norm\.bias|reduction\.weight)", key)
        if merge:
            out[f"layers.{int(merge.group(1)) + 1}.downsample.{merge.group(2)}"] = _unfold_to_concat(value)
            continue
        if re.fullmatch(rf"norm{last}\.(weight|bias)", key):
            out["norm." + key.split(".")[1]] = value
            continue
        for pattern, template in _SWIN_TO_TIMM:
            match = re.fullmatch(pattern, key)
            if match:
                out[template.format(*match.groups())] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"the Swin checkpoint has keys the official CMID Swin does not: {', '.join(unknown[:8])}")
    return out


def timm_to_swin(state: dict) -> dict:
    """timm SwinTransformer state_dict -> the official (mmcls) names; the inverse of `swin_to_timm`."""
    last = _count(state, r"layers\.(\d+)\.") - 1
    out = {}
    for key, value in state.items():
        merge = re.fullmatch(r"layers\.(\d+)\.downsample\.(.+)", key)
        block = re.fullmatch(r"layers\.(\d+)\.blocks\.(\d+)\.(.+)", key)
        if merge:
            out[f"stages.{int(merge.group(1)) - 1}.downsample.{merge.group(2)}"] = _concat_to_unfold(value)
        elif block:
            stage, index, rest = block.groups()
            rest = (rest.replace("attn.", "attn.w_msa.", 1).replace("mlp.fc1.", "ffn.layers.0.0.")
                    .replace("mlp.fc2.", "ffn.layers.1."))
            out[f"stages.{stage}.blocks.{index}.{rest}"] = value
        elif key.startswith("patch_embed.proj."):
            out["patch_embed.projection." + key.split(".")[-1]] = value
        elif key.startswith("norm."):
            out[f"norm{last}.{key.split('.')[-1]}"] = value
        else:
            out[key] = value
    return out


def _check_position_index(state: dict, model: nn.Module) -> None:
    """The official file's relative-position index must be timm's, or the bias table would be misread."""
    buffers = dict(model.named_buffers())
    for key, value in state.items():
        if key.endswith("relative_position_index"):
            stage, block = re.match(r"stages\.(\d+)\.blocks\.(\d+)\.", key).groups()
            ours = buffers.get(f"layers.{stage}.blocks.{block}.attn.relative_position_index")
            if ours is None or not torch.equal(ours.cpu(), value.long()):
                raise CheckpointError(f"{key} differs from timm's relative position index; the window layout of "
                                      "this checkpoint is not the one this loader maps")


# ---------------------------------------------------------------- the encoder network
def true_colour_input(x: torch.Tensor, size: int = OFFICIAL_SIZE) -> torch.Tensor:
    """(N, 10, H, W) normalised S2 model input -> (N, 3, size, size) RGB as the official network expects."""
    index = [MODEL_BANDS["s2"].index(b) for b in RGB_BANDS]
    means, stds = (torch.tensor([values[i] for i in index], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
                   for values in normalisation("s2"))
    reflectance = x[:, index] * stds + means
    rgb = (reflectance / REFLECTANCE_WHITE).clamp(0.0, 1.0)
    rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor(MILLIONAID_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(MILLIONAID_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (rgb - mean) / std


@dataclass
class OfficialConfig:
    """What the loaded official network is (read off its weights) and how it is fed."""

    backbone: str
    architecture: dict = field(default_factory=dict)
    input: str = (f"S2 {'/'.join(RGB_BANDS)} reflectance / {REFLECTANCE_WHITE:g}, clipped to [0, 1], bilinear to "
                  f"{OFFICIAL_SIZE} px, MillionAID mean/std")
    weights: str = "student (online_encoder.model, as the official extract.py)"

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def name(self) -> str:
        if self.backbone == "resnet50":
            return "ResNet-50" if self.architecture == RESNET50 else "ResNet (bottleneck)"
        return "Swin-B" if self.architecture == SWIN_B else "Swin"


class OfficialRGBBackbone(nn.Module):
    """An official CMID network embedding S2 true colour: `embed(x, "s2")` on the 10-band model input."""

    def __init__(self, config: OfficialConfig, model: nn.Module):
        super().__init__()
        self.config, self.kind, self.model = config, config.backbone, model

    def embed(self, x: torch.Tensor, sensor: str) -> torch.Tensor:
        if sensor != "s2":
            raise InputError(f"the official CMID {self.config.name} is an RGB model: it embeds S2 (true colour) "
                             f"only, not {sensor.upper()}")
        tokens = body(self.kind, self.model, stem(self.kind, self.model, true_colour_input(x)))
        return F.normalize(global_feature(tokens).float(), dim=-1)

    def embed_pair(self, x_s1: torch.Tensor, x_s2: torch.Tensor):
        raise InputError(f"the official CMID {self.config.name} embeds S2 only; use embed(x, 's2')")


def build_official(state: dict) -> tuple[OfficialRGBBackbone, dict]:
    """(network with the weights loaded strictly, the timm-named state that was loaded)."""
    kind = backbone_kind(state)
    if kind == "resnet50":
        architecture, mapped = resnet_architecture(state), dict(state)
    elif kind == "swin":
        architecture, mapped = swin_architecture(state), swin_to_timm(state)
    else:
        raise CheckpointError("not an official CMID ResNet-50 or Swin-B checkpoint")
    model = build_timm(kind, 3, OFFICIAL_SIZE, architecture)
    channels = (model.conv1 if kind == "resnet50" else model.patch_embed.proj).weight.shape[1]
    first = state["conv1.weight"] if kind == "resnet50" else state["patch_embed.projection.weight"]
    if first.shape[1] != channels:
        raise CheckpointError(f"the checkpoint's first layer takes {first.shape[1]} channels; the official CMID "
                              "networks take RGB (3)")
    if kind == "swin":
        _check_position_index(state, model)
    strict_load(model, mapped, f"the official CMID {kind} checkpoint")
    return OfficialRGBBackbone(OfficialConfig(kind, architecture), model.eval()), mapped

"""The one place that knows the published key names: `published_to_model_keys` renames them to this
model's names at load time (as timm's `checkpoint_filter_fn` does). Every reader of a CSMAE state goes
through it: the file readers via `csmae_core.models.csmae.checkpoint.split_state`, a resumed training run
via `csmae_core.training.csmae.CSMAELightning.on_load_checkpoint`.

Published layout (the authors' Lightning checkpoints, and our project files of format version 1):
    backbone.patch_embed.proj.*     backbone.patch_embed_s2.proj.*      (S1 plain, S2 with a suffix)
    backbone.cls_token              backbone.cls_token_s2
    backbone.blocks_s1.<i>.*        backbone.norm_s1.*                  (and _s2: sensor-specific blocks)
    decoder.* | decoder_s2_to_s1.* | decoder_s1_to_s2.*                 (common | reconstructs S1 | S2)
        decoder_embed, mask_token, decoder_pos_embed, decoder_blocks, decoder_norm,
        decoder_pred (one target) | decoder_pred_s2_to_s1 (S1 head) | decoder_pred_s1_to_s2 (S2 head)
This model's layout (format version 2): one entry per sensor, shared parts keep timm's names:
    backbone.patch_embed.<s>.proj.*  backbone.cls_token.<s>  backbone.specific_blocks.<s>.<i>.*
    backbone.specific_norm.<s>.*     backbone.pos_embed / blocks / norm / fc_norm (shared, unchanged)
    decoders.<common|s1|s2>.{embed, mask_token, pos_embed, blocks, norm, heads.<target sensor>}
"""
from __future__ import annotations

import re

import torch

from csmae_core.errors import CheckpointError

_WRAPPER = re.compile(r"^((?:model\.|module\.)*)(.*)$", re.DOTALL)  # Lightning / DDP prefixes, kept as they are
_ENCODER_RULES = (
    (re.compile(r"^patch_embed\.proj\."), "patch_embed.s1.proj."),
    (re.compile(r"^patch_embed_s2\."), "patch_embed.s2."),
    (re.compile(r"^cls_token$"), "cls_token.s1"),
    (re.compile(r"^cls_token_s2$"), "cls_token.s2"),
    (re.compile(r"^blocks_(s1|s2)\."), r"specific_blocks.\1."),
    (re.compile(r"^norm_(s1|s2)\."), r"specific_norm.\1."),
)
# published decoder module -> (its entry in `decoders`, the sensor its single `decoder_pred` head predicts)
_DECODERS = {"decoder": ("common", None), "decoder_s2_to_s1": ("s1", "s1"), "decoder_s1_to_s2": ("s2", "s2")}
_DECODER_RULES = (
    (re.compile(r"^decoder_embed\."), "embed."),
    (re.compile(r"^decoder_pos_embed$"), "pos_embed"),
    (re.compile(r"^decoder_blocks\."), "blocks."),
    (re.compile(r"^decoder_norm\."), "norm."),
    (re.compile(r"^decoder_pred_s2_to_s1\."), "heads.s1."),
    (re.compile(r"^decoder_pred_s1_to_s2\."), "heads.s2."),
)


def _renamed(name: str, rules) -> str:
    for pattern, replacement in rules:
        if pattern.match(name):
            return pattern.sub(replacement, name, count=1)
    return name


def _model_key(name: str) -> str:
    """One key without wrapper prefix: published name -> this model's name; any other name unchanged."""
    if name.startswith("backbone."):
        return "backbone." + _renamed(name[len("backbone."):], _ENCODER_RULES)
    module, _, rest = name.partition(".")
    if module not in _DECODERS or not rest:
        return name
    entry, target = _DECODERS[module]
    rules = _DECODER_RULES + (((re.compile(r"^decoder_pred\."), f"heads.{target}."),) if target else ())
    return f"decoders.{entry}." + _renamed(rest, rules)


def published_to_model_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A full-model state_dict (keys `backbone.*` and decoder keys, optionally behind `model.` / `module.`)
    with published / format-version-1 names renamed to this model's; keys already in this model's layout,
    and keys of neither layout, pass through unchanged (so applying it twice changes nothing). The tensors
    are not copied. A state holding both names of one weight is refused."""
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        wrapper, name = _WRAPPER.match(key).groups()
        new = wrapper + _model_key(name)
        if new in renamed:
            raise CheckpointError(f"the checkpoint holds the weight {new} twice (under its published and its new "
                                  "name); it mixes two key layouts: export it again from one model")
        renamed[new] = value
    return renamed

"""Every CSMAE checkpoint format in, one plain-data format out.

Accepted by `load_checkpoint` / `load_model`:
  (a) a published checkpoint directory: `cfg.yaml` + `weights.ckpt` (a Lightning checkpoint);
  (b) a Lightning checkpoint written by the published training code or by ours (`scripts/train.py`);
  (c) the project's format: a `torch.save`d dict of plain data (tensors, str, numbers, lists, dicts)
      that `torch.load(weights_only=True)` reads, with config, band table, normalisation, input
      orientation, a content hash and a model card. Version 2 stores this model's key layout; version 1
      (still read) stored the published one.
Every state goes through `split_state`, which renames published keys (csmae_core.models.csmae.compat).
When it renamed the encoder's keys, the content hash of the weights as stored (their hash under the
earlier layout, which bundles built from the file recorded) becomes one of the checkpoint's `hash_aliases`.
Lightning checkpoints are read safely by csmae_core.models.weights (nothing in them is executed).
Other families' files are recognised by their own packages; csmae_core.models.load asks each.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch
import yaml

from csmae_core.bands import MODEL_BANDS, SENSORS, normalisation
from csmae_core.errors import CheckpointError, DataNotFoundError
from csmae_core.models.csmae.compat import published_to_model_keys
from csmae_core.models.csmae.config import CSMAEConfig
from csmae_core.models.csmae.model import CSMAE, CSMAEEncoder
from csmae_core.models.settings import SIZES
from csmae_core.models.weights import (
    EXPECTED_FILES,
    FORMAT,
    content_hash,
    read_torch_file,
    strict_load,
    write_atomically,
)

log = logging.getLogger(__name__)
_HEADS_BY_DIM = {dim: heads for dim, _, heads in SIZES.values()}
# CSMAE's version of the project envelope: 2 = this model's key layout, written; 1 = the published
# layout, still read (its keys renamed at load time). Other families version their files themselves.
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)


# ---------------------------------------------------------------- the loaded checkpoint
class Checkpoint:
    """What every format is turned into: a config, encoder (and maybe decoder) weights, facts."""

    def __init__(self, config: CSMAEConfig, encoder_state: dict, decoder_state: dict | None = None,
                 transpose_input: bool = False, card: dict | None = None, source_format: str = "",
                 hash_aliases: tuple[str, ...] = ()):
        self.config = config
        self.encoder_state = encoder_state  # this model's layout, without `backbone.`
        self.decoder_state = decoder_state or {}  # keys `decoders.*`
        self.transpose_input = transpose_input
        self.card = card or {}
        self.source_format = source_format
        self.hash_aliases = tuple(dict.fromkeys(hash_aliases))  # the same weights' hashes under earlier layouts

    @property
    def content_hash(self) -> str:
        return content_hash(self.encoder_state)

    def build_encoder(self) -> CSMAEEncoder:
        encoder = CSMAEEncoder(self.config)
        strict_load(encoder, self.encoder_state, f"the {self.source_format} checkpoint's encoder")
        return encoder.eval()

    def build_model(self) -> CSMAE:
        """Encoder + decoders (for training on); decoders stay freshly initialised if absent."""
        model = CSMAE(self.config)
        strict_load(model.backbone, self.encoder_state, f"the {self.source_format} checkpoint's encoder")
        if self.decoder_state:
            decoders = {k: v for k, v in model.state_dict().items() if k.startswith("decoders.")}
            strict_load(_Subset(model, decoders), self.decoder_state, "its decoders")
        return model


class _Subset:
    """Lets strict_load check and load only the decoder part of a model's state_dict."""

    def __init__(self, model: torch.nn.Module, expected: dict):
        self.model, self.expected = model, expected

    def state_dict(self):
        return self.expected

    def load_state_dict(self, state, strict=True):
        self.model.load_state_dict(state, strict=False)


# ---------------------------------------------------------------- reading the formats
def _unwrapped(state: dict) -> dict:
    return {re.sub(r"^(model\.|module\.)", "", k): v for k, v in state.items()}


def _encoder_part(state: dict) -> dict:
    return {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}


def split_state(state: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """(encoder weights without `backbone.`, decoder weights `decoders.*`) of a Lightning / full-model
    state_dict in the published or this model's layout, always in this model's (`published_to_model_keys`)."""
    state = published_to_model_keys(_unwrapped(state))
    encoder = _encoder_part(state)
    decoder = {k: v for k, v in state.items() if k.startswith("decoders.")}
    if not encoder:
        raise CheckpointError("the checkpoint has no encoder weights (no `backbone.*` keys): "
                              "not a CSMAE checkpoint")
    return encoder, decoder


def _earlier_layout_hash(state: dict, encoder: dict) -> tuple[str, ...]:
    """(content hash of the encoder weights under the names `state` stores them with,) when `split_state`
    renamed them into `encoder`; () when the names were already this model's."""
    stored = _encoder_part(_unwrapped(state))
    return (content_hash(stored),) if stored.keys() != encoder.keys() else ()


def _block_count(state: dict, prefix: str) -> int:
    indices = {int(m.group(1)) for k in state for m in [re.match(rf"{re.escape(prefix)}\.(\d+)\.", k)] if m}
    return max(indices) + 1 if indices else 0


def infer_config(encoder: dict, decoder: dict, yaml_kwargs: dict | None = None) -> CSMAEConfig:
    """Architecture read off the weights (this model's layout, as `split_state` returns them); a cfg.yaml,
    when given, must agree with them."""
    try:
        dim = encoder["cls_token.s1"].shape[-1]
        patch = encoder["patch_embed.s1.proj.weight"].shape[-1]
        grid = round((encoder["pos_embed"].shape[1] - 1) ** 0.5)
    except KeyError as error:
        raise CheckpointError(f"the checkpoint's encoder lacks {error}") from error
    if dim not in _HEADS_BY_DIM:
        raise CheckpointError(f"unknown ViT width {dim}; known widths: {sorted(_HEADS_BY_DIM)}")
    specific, shared = _block_count(encoder, "specific_blocks.s1"), _block_count(encoder, "blocks")
    first = "blocks.0" if shared else "specific_blocks.s1.0"
    mlp_ratio = encoder[f"{first}.mlp.fc1.weight"].shape[0] / dim
    common_decoder = not any(k.startswith("decoders.s2.") for k in decoder)
    variant = ("ce" if specific == 0 else "se") + ("cd" if common_decoder else "sd")
    prefix = "decoders.common." if common_decoder else "decoders.s2."
    decoder_dim = decoder[f"{prefix}embed.weight"].shape[0] if decoder else 512
    values = dict(variant=variant, size=next(s for s, v in SIZES.items() if v[0] == dim),
                  specific_depth=specific, shared_depth=shared, img_size=grid * patch, patch_size=patch,
                  mlp_ratio=mlp_ratio, pool="avg" if "fc_norm.weight" in encoder else "cls",
                  decoder_dim=decoder_dim, decoder_heads=max(1, decoder_dim // 32),
                  decoder_depth=_block_count(decoder, prefix + "blocks") or 8)
    if yaml_kwargs:
        _check_yaml(values, yaml_kwargs)
        values["masking"] = yaml_kwargs.get("masking_strategy", "random")
    return CSMAEConfig(**values)


def _check_yaml(values: dict, kwargs: dict) -> None:
    pairs = {"multi_sensor_encoder_depth": "specific_depth", "cross_sensor_encoder_depth": "shared_depth",
             "patch_size": "patch_size", "img_size": "img_size"}
    for yaml_key, ours in pairs.items():
        if yaml_key in kwargs and int(kwargs[yaml_key]) != values[ours]:
            raise CheckpointError(f"cfg.yaml says {yaml_key}={kwargs[yaml_key]} but the weights hold "
                                  f"{values[ours]}; the config does not belong to these weights")
    pool = {"avg": "avg", "token": "cls"}.get(kwargs.get("global_pool", "avg"))
    if pool != values["pool"]:
        raise CheckpointError(f"cfg.yaml says global_pool={kwargs.get('global_pool')} but the weights "
                              f"{'have' if values['pool'] == 'avg' else 'lack'} fc_norm")


def _from_lightning(payload: Any, path: Path, yaml_kwargs: dict | None = None) -> Checkpoint:
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise CheckpointError(f"{path.name} has no `state_dict`: not a Lightning checkpoint; pass {EXPECTED_FILES}")
    _check_state(payload["state_dict"], path)
    encoder, decoder = split_state(payload["state_dict"])
    aliases = _earlier_layout_hash(payload["state_dict"], encoder)
    ours = _plain(payload.get("hyper_parameters", {})).get("csmae_config")
    if isinstance(ours, dict):  # written by our training script: config and facts are plain data
        hparams = _plain(payload["hyper_parameters"])
        return Checkpoint(CSMAEConfig.from_dict(ours), encoder, decoder,
                          bool(hparams.get("transpose_input", False)), {"trained_with": "scripts/train.py"},
                          "Lightning (ours)", aliases)
    # The published code's data loader transposes H and W of every image: its weights expect it.
    return Checkpoint(infer_config(encoder, decoder, yaml_kwargs), encoder, decoder, True,
                      {"origin": f"published CSMAE checkpoint {path.name}"}, "published", aliases)


def _check_state(state: Any, path: Path) -> None:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path.name}: its state_dict is not a mapping of weights (name -> tensor) but "
                              f"{type(state).__name__}; not a CSMAE checkpoint: check where this file comes from")


def _plain(value: Any) -> Any:
    return value if isinstance(value, dict) else {}


def _from_published_dir(folder: Path) -> Checkpoint:
    cfg_file, weights = folder / "cfg.yaml", folder / "weights.ckpt"
    if not weights.is_file():
        raise DataNotFoundError(f"{folder} has no weights.ckpt; a published checkpoint folder holds "
                                "cfg.yaml and weights.ckpt")
    kwargs = None
    if cfg_file.is_file():
        try:
            kwargs = (yaml.safe_load(cfg_file.read_text()) or {}).get("kwargs", {})
        except yaml.YAMLError as error:
            raise CheckpointError(f"{cfg_file} is not valid YAML ({error})") from error
    return _from_lightning(read_torch_file(weights), weights, kwargs)


def _from_project(payload: dict, path: Path) -> Checkpoint:
    family = payload.get("family", "csmae")
    if family != "csmae":
        raise CheckpointError(f"{path.name} holds a {family} encoder, not CSMAE; load it with "
                              "csmae_core.load_model")
    version = payload.get("format_version")
    if version not in READ_VERSIONS:
        raise CheckpointError(f"{path.name} is format version {version}; this tool reads version "
                              f"{' or '.join(map(str, READ_VERSIONS))}")
    missing = [k for k in ("config", "bands", "transpose_input", "state_dict") if k not in payload]
    if missing or not isinstance(payload["config"], dict) or not isinstance(payload["bands"], dict):
        raise CheckpointError(f"{path.name} lacks {', '.join(missing) or 'a valid config or bands'}: an incomplete "
                              "project checkpoint; export it again from its training run (scripts/train.py writes this format)")
    _check_state(payload["state_dict"], path)
    for sensor in SENSORS:
        if list(payload["bands"][sensor]) != list(MODEL_BANDS[sensor]):
            raise CheckpointError(f"{path.name} expects {sensor.upper()} bands {payload['bands'][sensor]} but "
                                  f"this tool feeds {list(MODEL_BANDS[sensor])}")
    encoder, decoder = split_state(payload["state_dict"])
    earlier = _earlier_layout_hash(payload["state_dict"], encoder)
    stored_hash = earlier[0] if earlier else content_hash(encoder)  # the recorded hash is of the keys as stored
    if payload.get("encoder_hash") and payload["encoder_hash"] != stored_hash:
        raise CheckpointError(f"{path.name}: the weights do not match their recorded hash; the file is "
                              "corrupt or was altered")
    return Checkpoint(CSMAEConfig.from_dict(payload["config"]), encoder, decoder, bool(payload["transpose_input"]),
                      payload.get("card", {}), "project", _recorded_aliases(payload, path) + earlier)


def _recorded_aliases(payload: dict, path: Path) -> tuple[str, ...]:
    """Hashes under earlier layouts that a re-exported file carries over from its source."""
    aliases = payload.get("hash_aliases", [])
    if not isinstance(aliases, (list, tuple)) or not all(isinstance(a, str) for a in aliases):
        raise CheckpointError(f"{path.name}: hash_aliases must be a list of content hashes, not {aliases!r}; "
                              "export the checkpoint again")
    return tuple(aliases)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Any supported checkpoint (see module docstring) as a `Checkpoint`."""
    path = Path(path)
    if path.is_dir():
        return _from_published_dir(path)
    if not path.is_file():
        raise DataNotFoundError(f"no checkpoint at {path}")
    return checkpoint_from_payload(read_torch_file(path), path)


def checkpoint_from_payload(payload: Any, path: Path) -> Checkpoint:
    """A file's content (already read with `read_torch_file`) as a CSMAE `Checkpoint`."""
    if isinstance(payload, dict) and payload.get("format") == FORMAT:  # _from_project names another family
        return _from_project(payload, path)
    return _from_lightning(payload, path)


def save_checkpoint(checkpoint: Checkpoint, path: str | Path, include_decoders: bool = False) -> str:
    """Write the project format, version 2 (atomically: temp file + rename); returns the encoder hash.
    The checkpoint's hash aliases are kept, so bundles built from its source file still match."""
    path = Path(path)
    state = {f"backbone.{k}": v.detach().cpu().contiguous() for k, v in checkpoint.encoder_state.items()}
    if include_decoders:
        state.update({k: v.detach().cpu().contiguous() for k, v in checkpoint.decoder_state.items()})
    payload = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "model": "csmae",
        "config": checkpoint.config.to_dict(),
        "bands": {s: list(MODEL_BANDS[s]) for s in SENSORS},
        "normalisation": {s: dict(zip(("mean", "std"), map(list, normalisation(s)))) for s in SENSORS},
        "transpose_input": checkpoint.transpose_input,
        "encoder_hash": checkpoint.content_hash,
        "hash_aliases": list(checkpoint.hash_aliases),
        "card": checkpoint.card,
        "state_dict": state,
    }
    write_atomically(payload, path)
    return payload["encoder_hash"]

"""CMID checkpoints of ours: the project format and the Lightning files `CMIDLightning` writes.

Project format (the same envelope as CSMAE's, see csmae_core.models.weights): a `torch.save`d dict of plain
data that `torch.load(weights_only=True)` reads:
  {"format": "csmae-retrieval-checkpoint", "format_version": 1, "family": "cmid", "config": CMIDConfig dict,
   "bands", "normalisation", "transpose_input": False, "retrieval_weights": "student",
   "encoder_state": {"s1": {...}, "s2": {...}}, "encoder_hash", "card"}
`encoder_state` holds the STUDENT networks: the official code hands the student (`online_encoder`) to
every downstream task (extract.py), so that is what we embed with. The EMA teacher stays in the
Lightning checkpoint for resuming.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from csmae_core.bands import MODEL_BANDS, SENSORS, normalisation
from csmae_core.errors import CheckpointError
from csmae_core.models.cmid.backbones import CMIDBackbone
from csmae_core.models.cmid.config import CMIDConfig
from csmae_core.models.weights import (
    FORMAT,
    FORMAT_VERSION,
    content_hash,
    is_project_file,
    strict_load,
    write_atomically,
)

FAMILY = "cmid"
STUDENT_PREFIX = "model.student."  # CMIDLightning -> CMID.student


def flat_state(per_sensor: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """{"s1": {k: v}, "s2": {...}} -> {"s1.k": v, ...}, the CMIDBackbone state_dict layout."""
    return {f"{sensor}.{key}": value for sensor, state in per_sensor.items() for key, value in state.items()}


def per_sensor_state(flat: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    return {sensor: {k[len(sensor) + 1:]: v for k, v in flat.items() if k.startswith(sensor + ".")}
            for sensor in SENSORS}


class CMIDCheckpoint:
    """Config, the student networks' weights and facts, whichever file they came from."""

    def __init__(self, config: CMIDConfig, encoder_state: dict[str, dict], card: dict | None = None,
                 source_format: str = ""):
        self.config = config
        self.encoder_state = encoder_state
        self.card = card or {}
        self.source_format = source_format

    @property
    def content_hash(self) -> str:
        return content_hash(flat_state(self.encoder_state))

    def build_backbone(self) -> CMIDBackbone:
        backbone = CMIDBackbone(self.config)
        strict_load(backbone, flat_state(self.encoder_state), f"the {self.source_format} CMID checkpoint's encoder")
        return backbone.eval()


def is_project_cmid(payload: Any) -> bool:
    return is_project_file(payload, FAMILY)


def is_lightning_cmid(payload: Any) -> bool:
    hparams = payload.get("hyper_parameters") if isinstance(payload, dict) else None
    return isinstance(payload, dict) and "state_dict" in payload and isinstance(hparams, dict) \
        and isinstance(hparams.get("cmid_config"), dict)


def _check_weights(state: Any, path: Path, what: str) -> None:
    """A pickle may hold anything where weights belong (e.g. an os.system call, replaced by an inert stand-in)."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path.name}: its {what} is not a mapping of weights (name -> tensor) but "
                              f"{type(state).__name__}; check where this file comes from")


def from_lightning(payload: dict, path: Path) -> CMIDCheckpoint:
    _check_weights(payload["state_dict"], path, "state_dict")
    flat = {k[len(STUDENT_PREFIX):]: v for k, v in payload["state_dict"].items() if k.startswith(STUDENT_PREFIX)}
    if not flat:
        raise CheckpointError(f"{path.name} has no `{STUDENT_PREFIX}*` weights: not a CMID Lightning checkpoint")
    config = CMIDConfig.from_dict(payload["hyper_parameters"]["cmid_config"])
    return CMIDCheckpoint(config, per_sensor_state(flat), {"method": "cmid", "trained_with": "scripts/train.py"},
                          "Lightning (ours)")


def from_project(payload: dict, path: Path) -> CMIDCheckpoint:
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path.name} is format version {version}; this tool reads version {FORMAT_VERSION}")
    missing = [k for k in ("config", "bands", "encoder_state") if k not in payload]
    if missing or not isinstance(payload["config"], dict) or not isinstance(payload["bands"], dict):
        raise CheckpointError(f"{path.name} lacks {', '.join(missing) or 'a valid config or bands'}: an incomplete "
                              "CMID checkpoint; export it again from its training run (scripts/train.py writes this format)")
    for sensor in SENSORS:
        if list(payload["bands"].get(sensor, [])) != list(MODEL_BANDS[sensor]):
            raise CheckpointError(f"{path.name} expects {sensor.upper()} bands {payload['bands'].get(sensor)} "
                                  f"but this tool feeds {list(MODEL_BANDS[sensor])}")
    state = payload["encoder_state"]
    if not isinstance(state, dict) or set(state) != set(SENSORS):
        raise CheckpointError(f"{path.name}: `encoder_state` must hold the S1 and S2 networks ('s1', 's2')")
    for sensor in SENSORS:
        _check_weights(state[sensor], path, f"{sensor.upper()} encoder_state")
    checkpoint = CMIDCheckpoint(CMIDConfig.from_dict(payload["config"]), state, payload.get("card", {}), "project")
    if payload.get("encoder_hash") and payload["encoder_hash"] != checkpoint.content_hash:
        raise CheckpointError(f"{path.name}: the weights do not match their recorded hash; the file is corrupt or "
                              "was altered")
    return checkpoint


def save_cmid_checkpoint(checkpoint: CMIDCheckpoint, path: str | Path) -> str:
    """Write the project format (atomically: temp file + rename); returns the encoder hash."""
    path = Path(path)
    state = {sensor: {k: v.detach().cpu().contiguous() for k, v in checkpoint.encoder_state[sensor].items()}
             for sensor in SENSORS}
    payload = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "family": FAMILY,
        "config": checkpoint.config.to_dict(),
        "bands": {s: list(MODEL_BANDS[s]) for s in SENSORS},
        "normalisation": {s: dict(zip(("mean", "std"), map(list, normalisation(s)))) for s in SENSORS},
        "transpose_input": False,
        "retrieval_weights": "student",
        "encoder_state": state,
        "encoder_hash": checkpoint.content_hash,
        "card": checkpoint.card,
    }
    write_atomically(payload, path)
    return payload["encoder_hash"]


def student_checkpoint(module, card: dict) -> CMIDCheckpoint:
    """The student networks of a trained `CMIDLightning` (or `CMID`) as a checkpoint to save."""
    model = getattr(module, "model", module)
    return CMIDCheckpoint(model.config, per_sensor_state(model.student.state_dict()), card, "project")

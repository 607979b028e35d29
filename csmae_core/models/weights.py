"""Reading and checking weights, shared by every family: the project checkpoint envelope, safe reading of
any PyTorch file, strict loading with named mismatches, and the content hash of a set of weights.

Lightning checkpoints may pickle arbitrary objects (e.g. omegaconf configs): they are read with the
project's restricted unpickler (csmae_core.safe_pickle), which rebuilds tensors and replaces every other
global by an inert stand-in, so nothing from the file is executed.
"""
from __future__ import annotations

import hashlib
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from csmae_core.errors import CheckpointError
from csmae_core.safe_pickle import PicklePolicy, torch_pickle_module

# The project's checkpoint envelope, written by every family (`family` says which). A family versions its
# own key layout: CMID writes version 1; CSMAE writes 2 and reads 1 (csmae_core.models.csmae.checkpoint).
FORMAT = "csmae-retrieval-checkpoint"
FORMAT_VERSION = 1

_TORCH_POLICY = PicklePolicy(allowed={
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("torch", "Size"): torch.Size,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
})
EXPECTED_FILES = ("a .pt exported by scripts/train.py, a Lightning .ckpt, a published CSMAE "
                  "cfg.yaml + weights.ckpt folder or an official CMID checkpoint")
_UNREADABLE = f"the file may be truncated or corrupt: copy or download it again (expected {EXPECTED_FILES})"


def read_torch_file(path: Path) -> Any:
    """torch.load with weights_only=True; Lightning files that pickle other objects go through the
    restricted unpickler instead (never plain pickle)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{path.name} is not a readable PyTorch checkpoint ({error}); {_UNREADABLE}") from error
    try:
        return torch.load(path, map_location="cpu", weights_only=False,
                          pickle_module=torch_pickle_module(_TORCH_POLICY))
    except Exception as error:  # corrupt files raise many types
        raise CheckpointError(f"{path.name} is not a readable PyTorch checkpoint ({error}); {_UNREADABLE}") from error


def is_project_file(payload: Any, family: str) -> bool:
    """Whether a file's content is the project envelope holding `family`'s weights (CSMAE files written
    before the family key existed hold CSMAE)."""
    return (isinstance(payload, dict) and payload.get("format") == FORMAT
            and payload.get("family", "csmae") == family)


def content_hash(state: dict[str, torch.Tensor]) -> str:
    """sha256 of the weights (names, dtypes, shapes, bytes) in name order: identical weights under identical
    names, identical hash (renamed keys change it: encoders keep earlier layouts' hashes as `hash_aliases`)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def listing(keys: list, limit: int = 8) -> str:
    shown = ", ".join(map(str, keys[:limit]))
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def strict_load(module, state: dict, what: str) -> None:
    """Load every weight or fail naming the missing / unexpected keys and wrong shapes."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
             for k in sorted(set(state) & set(expected)) if tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = [f"missing keys: {listing(missing)}" if missing else "",
                f"unexpected keys: {listing(unexpected)}" if unexpected else "",
                f"shape mismatches: {listing(wrong, 4)}" if wrong else ""]
    problems = [p for p in problems if p]
    if problems:
        raise CheckpointError(f"{what} does not fit the model it describes; " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


def write_atomically(payload: dict, path: str | Path) -> None:
    """torch.save to a temporary file, then rename: a reader never sees half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    torch.save(payload, temporary)
    temporary.replace(path)

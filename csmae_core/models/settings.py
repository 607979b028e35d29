"""Checks shared by every family's model config: ViT sizes, choices and unknown settings."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from csmae_core.errors import InputError

# ViT size name -> (width, depth, heads)
SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12), "large": (1024, 24, 16)}


def check_choice(name: str, value: Any, valid) -> None:
    if value not in valid:
        raise InputError(f"{name} {value!r} is not valid; choose one of {', '.join(map(str, valid))}")


def check_settings(config_class, values: Any, what: str) -> None:
    """`values` is a mapping whose names are all fields of the dataclass `config_class` (any family)."""
    if not isinstance(values, dict):
        raise InputError(f"the model settings must be a mapping (name: value), not {values!r}; fix the config")
    known = {f.name for f in fields(config_class)}
    unknown = set(values) - known
    if unknown:
        raise InputError(f"unknown {what} setting(s) {sorted(unknown)}; valid: {', '.join(sorted(known))}")

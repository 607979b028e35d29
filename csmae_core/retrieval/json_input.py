"""A JSON document a user hands in (an area of interest, a saved session): size-capped before parsing, parsed
as data only, and required to be one JSON object; every problem is an InputError naming the file."""
from __future__ import annotations

import json

from csmae_core.errors import InputError


def json_object(source: str | bytes, name: str, max_bytes: int, kind: str, hint: str) -> dict:
    """The object in `source`; `kind` says what it should be (e.g. "GeoJSON"), `hint` what to do instead."""
    if len(source) > max_bytes:
        raise InputError(f"{name} is {len(source) / 2**20:.1f} MiB; {kind} here must be under "
                         f"{max_bytes / 2**20:g} MiB: {hint}")
    try:
        data = json.loads(source)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{name} is not {kind} ({exc}); {hint}") from None
    if not isinstance(data, dict):
        raise InputError(f"{name} is JSON but not a {kind} object; {hint}")
    return data

"""The catalogue: which models and index bundles the app serves, one JSON file, written and read here only.

    {"entries": [{"name": "CSMAE demo", "model": "models/demo.pt", "bundle": "bundles/demo",
                  "archive": "demo", "evaluation": "evaluation/demo", "card": "models/demo.md",
                  "encoder_family": "csmae", "verify": true}]}

Paths are relative to the catalogue's folder. `name` and `bundle` are required; without `model` the app
searches by archive patch only; without `archive` it shows no pixels. The app reads the file named by the
environment variable CSMAE_CATALOGUE, else the demo's `assets/catalogue.json`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from csmae_core.errors import CatalogueError, DataNotFoundError

CATALOGUE_ENV = "CSMAE_CATALOGUE"
DEMO_CATALOGUE = Path(__file__).resolve().parents[1] / "assets" / "catalogue.json"
PATH_KEYS = ("model", "bundle", "archive", "evaluation", "card")
FORM = ('{"entries": [{"name": ..., "model": ..., "bundle": ..., "archive": ...}]}, paths relative '
        "to the catalogue (see assets/catalogue.json)")


def catalogue_path() -> Path:
    """The catalogue the app serves: $CSMAE_CATALOGUE, else the demo's."""
    return Path(os.environ.get(CATALOGUE_ENV) or DEMO_CATALOGUE)


def read_catalogue(path: str | Path) -> list[dict[str, Any]]:
    """The checked entries of a catalogue, their paths made absolute."""
    catalogue = Path(path)
    try:
        entries = json.loads(catalogue.read_text())["entries"]
    except FileNotFoundError as error:
        raise DataNotFoundError(f"no catalogue at {catalogue}; set {CATALOGUE_ENV} or restore "
                                "assets/catalogue.json") from error
    except (ValueError, KeyError, TypeError) as error:
        raise CatalogueError(f"{catalogue} is not a valid catalogue ({type(error).__name__}: {error}); fix the JSON: "
                             f"{FORM}") from error
    check_catalogue(entries, catalogue)
    for entry in entries:
        for key in PATH_KEYS:
            if entry.get(key):
                entry[key] = str((catalogue.parent / entry[key]).resolve())
    return entries


def check_catalogue(entries: Any, catalogue: Path) -> None:
    """A non-empty list of entries, each with a unique name and a bundle (model, archive: optional)."""
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{catalogue} lists no models; add an entry: {FORM}")
    names = set()
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise CatalogueError(f"{catalogue}: entry {number} is not an object; every entry needs: {FORM}")
        for key in ("name", "bundle"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise CatalogueError(f"{catalogue}: entry {number} ({entry.get('name', 'unnamed')}) lacks {key!r}; "
                                     f"every entry needs 'name' and 'bundle': {FORM}")
        if entry["name"] in names:
            raise CatalogueError(f"{catalogue}: two entries are named {entry['name']!r}; give each a unique name")
        names.add(entry["name"])


def write_catalogue(path: str | Path, entries: list[dict[str, Any]]) -> Path:
    """Write a catalogue; absolute paths in the entries are stored relative to the catalogue's folder."""
    catalogue = Path(path)
    catalogue.parent.mkdir(parents=True, exist_ok=True)
    relative = [{key: (os.path.relpath(value, catalogue.parent) if key in PATH_KEYS and value else value)
                 for key, value in entry.items()} for entry in entries]
    check_catalogue(relative, catalogue)
    catalogue.write_text(json.dumps({"entries": relative}, indent=2) + "\n")
    return catalogue

"""Metadata cases: reBEN metadata.parquet tables and the app's model catalogue."""
from __future__ import annotations

import json
from pathlib import Path

from tests.bad_inputs.builder import ASSETS, RICO_PAIR
from tests.bad_inputs.spec import Category

CASES = Category("metadata")


def _reben(path: Path):
    from csmae_core.io.folders import read_reben_metadata

    return lambda: read_reben_metadata(path)


@CASES.case("parquet-missing-columns", "reBEN metadata.parquet (real row) without s1_name and split",
            "read_reben_metadata(path)", "InputError", "lacks column(s) split, s1_name",
            "a reBEN metadata.parquet has")
def build_parquet_missing_columns(b, d):
    import pandas as pd

    path = d / "metadata.parquet"
    pd.read_parquet(RICO_PAIR / "metadata.parquet").drop(columns=["s1_name", "split"]).to_parquet(path)
    return {"files": [path], "run": _reben(path)}


@CASES.case("parquet-not-parquet", "text file named metadata.parquet", "read_reben_metadata(path)",
            "InputError", "metadata.parquet is not a readable parquet file", "pass the metadata.parquet of the archive")
def build_parquet_not_parquet(b, d):
    path = d / "metadata.parquet"
    path.write_text("patch_id,labels\n")
    return {"files": [path], "run": _reben(path)}


@CASES.case("parquet-bad-labels", "reBEN metadata.parquet (real row) whose labels are numbers",
            "read_reben_metadata(path)", "InputError", "column labels must hold lists of label names")
def build_parquet_bad_labels(b, d):
    import pandas as pd

    path = d / "metadata.parquet"
    pd.read_parquet(RICO_PAIR / "metadata.parquet").assign(labels=[7]).to_parquet(path)
    return {"files": [path], "run": _reben(path)}


def _catalogue(path: Path):
    def run():
        from csmae_core.catalogue import read_catalogue

        return read_catalogue(path)
    return run


@CASES.case("catalogue-not-json", "app catalogue JSON cut mid-way", "csmae_core.read_catalogue(path)",
            "CsmaeError", "is not a valid catalogue", "fix the JSON")
def build_catalogue_not_json(b, d):
    path = d / "catalogue.json"
    path.write_text((ASSETS / "catalogue.json").read_text()[:150])
    return {"files": [path], "run": _catalogue(path)}


@CASES.case("catalogue-no-entries", "app catalogue with an empty entry list", "csmae_core.read_catalogue(path)",
            "CsmaeError", "lists no models", "add an entry")
def build_catalogue_no_entries(b, d):
    path = d / "catalogue.json"
    path.write_text('{"entries": []}')
    return {"files": [path], "run": _catalogue(path)}


@CASES.case("catalogue-entry-without-bundle", "app catalogue entry naming a model but no bundle",
            "csmae_core.read_catalogue(path)", "CsmaeError", "lacks 'bundle'", "every entry needs")
def build_catalogue_entry_without_bundle(b, d):
    path = d / "catalogue.json"
    path.write_text(json.dumps({"entries": [{"name": "half", "model": str(ASSETS / "models" / "demo.pt")}]}))
    return {"files": [path], "run": _catalogue(path)}

"""The bad-input corpus: malformed and hostile inputs, generated into a temporary folder.

Every case is built with code from tiny real-format data (the real fixtures of tests/data and the demo
assets, copied first, never modified; rasterio, zipfile, lmdb, pickle, pandas, torch.save, PIL) and
names the library entry point that must refuse it, the csmae_core error class it must raise and
fragments of the message (what was wrong, what to do). Hostile cases carry a command that would
create a marker file: the marker must never appear.

    python -m tests.bad_inputs OUT_DIR            # write the corpus, run every case, print the table
    python -m tests.bad_inputs --markdown [OUT_DIR]   # the same table as Markdown (docs/HARDENING.md)

tests/test_bad_inputs.py runs the corpus at the library level, through the CLI and in the app.

Layout: spec.py (what a case is, the `Category` registrar), builder.py (helpers shared by the builders),
one module of cases per category (upload_geotiff, upload_zip and upload_exports for uploads, archive, metadata, model,
bundle, config), each case a `build_<case id>` function; report.py runs the cases and renders the table.
"""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from tests.bad_inputs import (
    archive,
    bundle,
    config,
    metadata,
    model,
    upload_exports,
    upload_geotiff,
    upload_zip,
)
from tests.bad_inputs.builder import Builder
from tests.bad_inputs.spec import CATEGORIES, Case, Spec, error_class

__all__ = ["CATEGORIES", "SPECS", "Case", "Spec", "build_corpus", "case_ids", "error_class"]

# every case, in the order of the table: by category (CATEGORIES), then as declared in its module
_MODULES = (upload_geotiff, upload_zip, upload_exports, archive, metadata, model, bundle, config)
SPECS: list[Spec] = [spec for module in _MODULES
                     for spec in module.CASES.specs]
assert [s.category for s in SPECS] == sorted((s.category for s in SPECS), key=CATEGORIES.index)
assert len({s.id for s in SPECS}) == len(SPECS), "two cases share an id"


def case_ids() -> list[str]:
    return [s.id for s in SPECS]


def build_corpus(out: str | Path, only: Sequence[str] | None = None) -> dict[str, Case]:
    """Write every case (or those in `only`) under `out/<id>/`; returns id -> Case."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    builder = Builder(out)
    cases = {}
    for spec in SPECS:
        if only is not None and spec.id not in only:
            continue
        folder = out / spec.id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        fields = spec.build(builder, folder)
        if spec.hostile and "marker" not in fields:
            fields["marker"] = builder.marker(spec.id)
        cases[spec.id] = Case(spec.id, spec.category, spec.description, spec.entry, error_class(spec.error),
                              spec.message, open_issue=spec.open_issue, **fields)
    return cases

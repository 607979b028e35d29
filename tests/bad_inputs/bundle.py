"""Bundle cases: index bundles (copies of the committed demo bundles) that `Bundle` must refuse: another
model's, corrupt, incomplete, or with forged checksums over unreadable or hostile files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tests.bad_inputs.builder import ASSETS, RunsCode, random_bytes
from tests.bad_inputs.spec import Category

CASES = Category("bundle")

_BUNDLE = "Bundle(path)"


def _bundle(path: Path, expected: str | None = None, verify: bool = True):
    def run():
        from csmae_core.retrieval.bundle import Bundle

        return Bundle(path, expected_model_hash=expected, verify=verify)
    return run


@CASES.case("bundle-other-model", "demo-train bundle opened for the demo model",
            "Bundle(path, expected_model_hash=demo)", "BundleError", "was built with model",
            "its embeddings are not comparable", "Load the matching model or rebuild")
def build_bundle_other_model(b, d):
    folder = b.bundle_copy(d, "demo-train")
    expected = json.loads((ASSETS / "bundles" / "demo" / "manifest.json").read_text())["model"]["content_hash"]
    return {"files": [folder], "run": _bundle(folder, expected)}


@CASES.case("bundle-corrupt-file", "demo bundle with one byte of embeddings_s1.npy flipped", _BUNDLE,
            "BundleError", "does not match its manifest checksum", "rebuild the bundle")
def build_bundle_corrupt_file(b, d):
    folder = b.bundle_copy(d)
    data = bytearray((folder / "embeddings_s1.npy").read_bytes())
    data[-5] ^= 0xFF
    (folder / "embeddings_s1.npy").write_bytes(bytes(data))
    return {"files": [folder], "run": _bundle(folder)}


@CASES.case("bundle-no-manifest", "demo bundle without manifest.json", _BUNDLE, "BundleError",
            "has no manifest.json: not an index bundle")
def build_bundle_no_manifest(b, d):
    folder = b.bundle_copy(d)
    (folder / "manifest.json").unlink()
    return {"files": [folder], "run": _bundle(folder)}


@CASES.case("bundle-missing", "bundle folder that does not exist", _BUNDLE, "DataNotFoundError",
            "no index bundle at", "build one with scripts/build_index.py")
def build_bundle_missing(b, d):
    return {"run": _bundle(d / "no_such_bundle")}


@CASES.case("bundle-manifest-not-json", "demo bundle whose manifest.json is cut mid-way", _BUNDLE,
            "BundleError", "manifest.json is not valid JSON", "rebuild the bundle")
def build_bundle_manifest_not_json(b, d):
    folder = b.bundle_copy(d)
    (folder / "manifest.json").write_text((folder / "manifest.json").read_text()[:200])
    return {"files": [folder], "run": _bundle(folder)}


@CASES.case("bundle-wrong-format", "folder whose manifest.json is another tool's", _BUNDLE, "BundleError",
            "is not a version-1 csmae-index-bundle")
def build_bundle_wrong_format(b, d):
    folder = b.bundle_copy(d)
    (folder / "manifest.json").write_text(json.dumps({"format": "stac-catalog", "format_version": "1.0.0"}))
    return {"files": [folder], "run": _bundle(folder)}


@CASES.case("bundle-manifest-incomplete", "demo bundle whose manifest lacks files and model", _BUNDLE,
            "BundleError", "manifest.json lacks", "rebuild the bundle")
def build_bundle_manifest_incomplete(b, d):
    folder = b.bundle_copy(d)
    manifest = json.loads((folder / "manifest.json").read_text())
    for key in ("files", "model"):
        manifest.pop(key)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return {"files": [folder], "run": _bundle(folder)}


@CASES.case("bundle-missing-file", "demo bundle without index_s2.faiss", _BUNDLE, "BundleError",
            "lacks index_s2.faiss, listed in its manifest", "rebuild the bundle")
def build_bundle_missing_file(b, d):
    folder = b.bundle_copy(d)
    (folder / "index_s2.faiss").unlink()
    return {"files": [folder], "run": _bundle(folder)}


@CASES.case("bundle-npy-pickle", "embeddings_s1.npy replaced by an object array pickling os.system "
            "(checksums forged)", _BUNDLE, "BundleError", "embeddings_s1.npy cannot be read", "rebuild the bundle",
            hostile=True)
def build_bundle_npy_pickle(b, d):
    folder = b.bundle_copy(d)
    evil = np.array([RunsCode(os.system, b.touch_command("bundle-npy-pickle"))], dtype=object)
    with open(folder / "embeddings_s1.npy", "wb") as handle:
        np.save(handle, evil, allow_pickle=True)
    b.rewrite_manifest(folder)
    return {"files": [folder], "run": _bundle(folder), "marker": b.marker("bundle-npy-pickle")}


@CASES.case("bundle-index-garbage", "index_s1.faiss of random bytes (checksums forged)", _BUNDLE,
            "BundleError", "index_s1.faiss cannot be read", "rebuild the bundle")
def build_bundle_index_garbage(b, d):
    folder = b.bundle_copy(d)
    (folder / "index_s1.faiss").write_bytes(random_bytes(6, 2048))
    b.rewrite_manifest(folder)
    return {"files": [folder], "run": _bundle(folder)}


@CASES.case("bundle-table-garbage", "metadata.parquet of a bundle replaced by text, unverified load",
            "Bundle(path, verify=False)", "BundleError", "metadata.parquet cannot be read", "rebuild the bundle")
def build_bundle_table_garbage(b, d):
    folder = b.bundle_copy(d)
    (folder / "metadata.parquet").write_text("pair_id\n")
    return {"files": [folder], "run": _bundle(folder, verify=False)}


@CASES.case("bundle-row-mismatch", "demo bundle whose table lost 10 rows (checksums forged)", _BUNDLE,
            "BundleError", "disagree on the number of rows", "rebuild the bundle")
def build_bundle_row_mismatch(b, d):
    import pandas as pd

    folder = b.bundle_copy(d)
    pd.read_parquet(folder / "metadata.parquet").head(50).to_parquet(folder / "metadata.parquet")
    b.rewrite_manifest(folder)
    return {"files": [folder], "run": _bundle(folder)}

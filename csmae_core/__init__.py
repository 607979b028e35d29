"""CSMAE retrieval core (no UI): read BigEarthNet and uploaded patches, embed them with an encoder of any
family, index and search an archive, evaluate retrieval.

The public API is `__all__`: what the app's pages, the scripts and users import. Names are loaded on first
use, so `import csmae_core` stays light (no torch or FAISS until a model or bundle is asked for).

    import csmae_core
    encoder = csmae_core.load_model("assets/models/demo.pt")
    record = csmae_core.read_upload("patch.tif")
    bundle = csmae_core.Bundle("assets/bundles/demo", expected_model_hash=encoder.accepted_hashes)
    engine = csmae_core.SearchEngine(bundle)
    vector = encoder.embed_records([record], record.sensor)[0]
    response = engine.search(csmae_core.Query(vector, record.sensor), targets=("s1", "s2"), k=10)
"""
from __future__ import annotations

import importlib

from csmae_core.errors import (BundleError, CatalogueError, CheckpointError, CsmaeError, DataNotFoundError, InputError,
                               MissingKeyError, NonFiniteLossError, UnknownLabelError, UnsafePickleError)

_LAZY = {
    # bands, labels, records
    "SENSORS": "csmae_core.bands", "MODEL_BANDS": "csmae_core.bands", "LABELS_19": "csmae_core.labels",
    "to_19": "csmae_core.labels", "PatchRecord": "csmae_core.record", "PatchPair": "csmae_core.record",
    "Footprint": "csmae_core.geo",
    # readers
    "read_upload": "csmae_core.io.upload", "read_upload_pair": "csmae_core.io.upload", "open_upload": "csmae_core.io.upload",
    "upload_layout": "csmae_core.io.upload", "read_any": "csmae_core.io.detect", "open_archive": "csmae_core.io.detect",
    "read_patch_folder": "csmae_core.io.folders", "BenV1Folders": "csmae_core.io.folders",
    "BenV2Folders": "csmae_core.io.folders", "RicoLmdb": "csmae_core.io.lmdb_rico",
    "EncodedLmdb": "csmae_core.io.lmdb_pickle", "PackedArchive": "csmae_core.io.packed",
    "PairArchive": "csmae_core.io.archive",
    # models
    "load_model": "csmae_core.models.load", "EncoderBase": "csmae_core.models.base",
    # retrieval
    "Bundle": "csmae_core.retrieval.bundle", "SearchEngine": "csmae_core.retrieval.search",
    "Query": "csmae_core.retrieval.search", "Filters": "csmae_core.retrieval.search",
    "SearchResponse": "csmae_core.retrieval.search", "Result": "csmae_core.retrieval.search",
    # training and evaluation
    "TrainConfig": "csmae_core.training.config", "evaluate_embeddings": "csmae_core.evaluation.run",
    "evaluate_models": "csmae_core.evaluation.compare", "read_report": "csmae_core.evaluation.report",
    # the app's catalogue of models and bundles
    "read_catalogue": "csmae_core.catalogue",
}
_ERRORS = ("BundleError", "CatalogueError", "CheckpointError", "CsmaeError", "DataNotFoundError", "InputError",
           "MissingKeyError", "NonFiniteLossError", "UnknownLabelError", "UnsafePickleError")
__all__ = sorted((*_LAZY, *_ERRORS))


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'csmae_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

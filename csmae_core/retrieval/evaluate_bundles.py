"""Index bundles and model files compared in one evaluation: the bundles' stored embeddings, and models
embedded on the fly over the first bundle's archive, handed to csmae_core.evaluation as plain arrays."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from csmae_core.errors import InputError
from csmae_core.evaluation.compare import EvaluatedModel, Protocol, archive_inputs, describe_training, evaluate_models
from csmae_core.models.load import load_model
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.embedding import embed_inputs


def bundle_model(bundle: Bundle) -> EvaluatedModel:
    """A bundle's encoder with its stored embeddings, named as the bundle."""
    return EvaluatedModel(bundle.manifest["name"], describe_training(bundle.manifest["model"].get("card", {}), "bundle"),
                          bundle.family, bundle.model_description, bundle.cross_sensor, bundle.model_hash,
                          bundle.embeddings)


def file_model(path: str | Path, inputs: dict[str, torch.Tensor]) -> EvaluatedModel:
    """The model file at `path` (named by its stem) embedding `inputs` ({sensor: (N, C, 120, 120)}, on CPU)."""
    path = Path(path)
    encoder = load_model(path, "cpu")
    oriented = {s: x.transpose(-1, -2) if encoder.transpose_input else x for s, x in inputs.items()}
    return EvaluatedModel(path.stem, describe_training(encoder.card, str(path)), encoder.family, encoder.describe(),
                          encoder.cross_sensor, encoder.content_hash, embed_inputs(encoder, oriented))


def evaluate_bundles(bundles: Sequence[str | Path], models: Sequence[str | Path] = (), protocol: Protocol = Protocol(),
                     archive: str | Path | None = None, metadata: str | Path | None = None, baselines: bool = True,
                     command: str = "") -> dict:
    """The metrics.json report (csmae_core.evaluation.compare) of `bundles` (at least one; the first sets the
    pairs) and the model files `models`. Models and baselines need the archive's pixels: `archive` (default:
    the path in the first bundle's manifest; `metadata` where the archive needs it)."""
    loaded = [Bundle(path) for path in bundles]
    if not loaded:
        raise InputError("evaluate_bundles: pass at least one bundle path in bundles")
    first = loaded[0]
    protocol.rows(first.table["split"])  # a split that selects nothing fails before any embedding
    compared = [bundle_model(bundle) for bundle in loaded]
    inputs = None
    if models or baselines:
        inputs = archive_inputs(archive or Path(first.manifest["archive"]["path"]), first.table["pair_id"], metadata)
    compared += [file_model(path, inputs) for path in models]
    return evaluate_models(compared, first.table, protocol, inputs if baselines else None, command)

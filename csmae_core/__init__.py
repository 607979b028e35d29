"""CSMAE core: BigEarthNet readers, preprocessing, geolocation, previews, the model (no UI code)."""


def load_model(path, device=None):
    """Retrieval encoder from a checkpoint (see csmae_core.encoder.load_model)."""
    from csmae_core.encoder import load_model as _load_model

    return _load_model(path, device)

"""Where in two patches a match is: token similarity maps between a query and one result.

The encoder runs on the two patches only (so the cost does not depend on the archive's size). For each
position of the query's token grid: the cosine between that token and the result's pooled embedding (the
vector the index searched with), and the reverse for the result. Token-to-token: for each query token,
the grid position of the most similar result token (and the reverse); for a true counterpart pair the best
match should sit at the same position. Grids are in the records' own orientation (rows, columns of their
bands, as their previews show them): `EncoderBase.record_tokens` undoes a model's transposed input.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from csmae_core.errors import InputError
from csmae_core.models.base import EncoderBase
from csmae_core.record import PatchRecord

HEAT_COLOURS = "inferno"  # sequential, dark = low: the preview stays readable under the low cells


@dataclass(frozen=True)
class MatchMaps:
    """query_map (h, w): cosine of each query token with the result's pooled embedding; result_map (h, w):
    the reverse. query_best (h, w, 2): (row, column) of the result token most similar to each query token
    (centred tokens, see `centred`); result_best the reverse. score: cosine of the two pooled embeddings (the
    search score of an exact index)."""

    query_sensor: str
    result_sensor: str
    query_map: np.ndarray
    result_map: np.ndarray
    query_best: np.ndarray
    result_best: np.ndarray
    score: float

    @property
    def grid(self) -> tuple[int, int]:
        return self.query_map.shape

    def same_position_share(self) -> float:
        """Share of query tokens whose best-matching result token is at the same grid position."""
        return same_position_share(self.query_best)

    @staticmethod
    def value_range(heat: np.ndarray) -> tuple[float, float]:
        """(low, high) of one map: each map gets its own colour scale, because a cross-sensor pair's two maps
        sit at different levels (the modality gap) and one shared scale paints one of them a single colour."""
        return float(heat.min()), float(heat.max())


def same_position_share(best: np.ndarray) -> float:
    """best (h, w, 2) positions (see `best_positions`) -> share of cells whose best match is the same cell."""
    rows, cols = np.indices(best.shape[:2])
    return float(((best[..., 0] == rows) & (best[..., 1] == cols)).mean())


def check_explainable(encoder: EncoderBase | None, query_sensor: str, result_sensor: str, has_pixels: bool) -> None:
    """Refuse, saying why, when no meaningful map can be computed."""
    if encoder is None:
        raise InputError("this catalogue entry has no model (a metadata-only bundle), so there are no tokens to "
                         "compare; pick an entry with a model in the sidebar to see where a match is")
    if not has_pixels:
        raise InputError("this bundle has no archive pixels (metadata only), so the result's patch cannot be run "
                         "through the model; add the archive to the catalogue entry (\"archive\") to see the maps")
    for sensor in (query_sensor, result_sensor):
        if sensor not in encoder.sensors:
            raise InputError(f"{encoder.describe()} embeds {', '.join(s.upper() for s in encoder.sensors)} only, "
                             f"not {sensor.upper()}")
    if query_sensor != result_sensor and not encoder.cross_sensor:
        raise InputError(f"{encoder.describe()} puts S1 and S2 into separate spaces, so an {query_sensor.upper()} "
                         f"token and an {result_sensor.upper()} embedding cannot be compared; open a "
                         f"{query_sensor.upper()} result, or pick a cross-sensor model")


def centred(tokens: np.ndarray) -> np.ndarray:
    """(h, w, D) -> the same tokens less their mean, unit norm. A patch's tokens share a large common
    component (their cosine with the pooled vector is typically above 0.9), which makes one token the best
    match of nearly every other; without it the tokens compare by what varies inside the patch."""
    spread = tokens - tokens.mean(axis=(0, 1), keepdims=True)
    return spread / np.maximum(np.linalg.norm(spread, axis=-1, keepdims=True), 1e-12)


def best_positions(tokens: np.ndarray, others: np.ndarray, centre: bool = True) -> np.ndarray:
    """tokens (h, w, D), others (h', w', D) -> (h, w, 2): (row, column) in others' grid of the most similar
    token for each of tokens (cosine of the centred tokens, see `centred`; `centre=False`: of the tokens
    as they are, unit norm)."""
    if centre:
        tokens, others = centred(tokens), centred(others)
    similarity = tokens.reshape(-1, tokens.shape[-1]) @ others.reshape(-1, others.shape[-1]).T
    best = similarity.argmax(axis=1)
    rows, cols = np.unravel_index(best, others.shape[:2])
    return np.stack([rows, cols], axis=-1).reshape(*tokens.shape[:2], 2)


def maps_from_tokens(query_tokens: np.ndarray, query_pooled: np.ndarray, result_tokens: np.ndarray,
                     result_pooled: np.ndarray, query_sensor: str, result_sensor: str) -> MatchMaps:
    """The maps of one pair from unit-norm tokens (h, w, D) and pooled vectors (D,)."""
    return MatchMaps(query_sensor, result_sensor,
                     query_map=(query_tokens @ result_pooled).astype(np.float32),
                     result_map=(result_tokens @ query_pooled).astype(np.float32),
                     query_best=best_positions(query_tokens, result_tokens),
                     result_best=best_positions(result_tokens, query_tokens),
                     score=float(query_pooled @ result_pooled))


def match_maps(encoder: EncoderBase | None, query: PatchRecord, result: PatchRecord | None) -> MatchMaps:
    """The maps between a query record and a result record (None: the archive has no pixels)."""
    check_explainable(encoder, query.sensor, result.sensor if result is not None else query.sensor,
                      result is not None)
    query_tokens, query_pooled = encoder.record_tokens([query], query.sensor)
    result_tokens, result_pooled = encoder.record_tokens([result], result.sensor)
    return maps_from_tokens(query_tokens[0], query_pooled[0], result_tokens[0], result_pooled[0],
                            query.sensor, result.sensor)


def archive_record(archive, row: int, sensor: str) -> PatchRecord | None:
    """An archive patch's record, or None when the archive has no pixels (a metadata-only bundle)."""
    return None if archive is None else archive[int(row)].record(sensor)


# ---------------------------------------------------------------- drawing (NumPy images; the UI shows them)
def heat_colours(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """(...) values -> (..., 3) uint8 colours of the heat scale between low and high."""
    from matplotlib import colormaps  # lazy: only the maps need matplotlib

    scaled = np.clip((values - low) / (high - low), 0.0, 1.0) if high > low else np.full(values.shape, 0.5)
    return (colormaps[HEAT_COLOURS](scaled)[..., :3] * 255 + 0.5).astype(np.uint8)


def heat_overlay(image: np.ndarray, heat: np.ndarray, low: float, high: float, alpha: float = 0.5,
                 scale: int = 2) -> np.ndarray:
    """A preview (H, W, 3) uint8 under a (h, w) map: each grid cell covers its block of the image (the map is
    upsampled by repetition, so the cells show the token grid as it is), blended with weight `alpha`;
    `scale` enlarges the result by pixel repetition for display."""
    height, width = image.shape[:2]
    rows = np.minimum(np.arange(height) * heat.shape[0] // height, heat.shape[0] - 1)
    cols = np.minimum(np.arange(width) * heat.shape[1] // width, heat.shape[1] - 1)
    colours = heat_colours(heat[np.ix_(rows, cols)], low, high).astype(np.float32)
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colours
    blended = (blended + 0.5).astype(np.uint8)
    return blended.repeat(scale, axis=0).repeat(scale, axis=1)


def colour_scale(low: float, high: float, width: int = 256, height: int = 14) -> np.ndarray:
    """(height, width, 3) uint8 legend bar from low (left) to high (right)."""
    return np.repeat(heat_colours(np.linspace(low, high, width), low, high)[None], height, axis=0)

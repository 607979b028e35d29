"""Reading single-band BigEarthNet GeoTIFFs with rasterio, turning rasterio's errors into ours."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioError

try:  # GDAL errors that rasterio does not wrap in RasterioError (e.g. raised while reading blocks)
    from rasterio._err import CPLE_BaseError
except ImportError:  # pragma: no cover - private module moved
    CPLE_BaseError = RasterioError

from csmae_core.errors import InputError
from csmae_core.geo import Footprint, footprint_from_transform

MAX_BAND_SIDE = 1200  # BigEarthNet band files are 20..120 pixels; a huge declared size is not read


@dataclass
class BandFile:
    array: np.ndarray
    footprint: Footprint | None
    transform: Any
    crs: Any


def read_band_file(path: Path) -> BandFile:
    """First band of a GeoTIFF, with its footprint when the file is georeferenced."""
    try:
        with rasterio.open(path) as dataset:
            if max(dataset.width, dataset.height) > MAX_BAND_SIDE:
                raise InputError(f"{Path(path).name} declares {dataset.width}x{dataset.height} pixels; a "
                                 f"BigEarthNet band file is at most 120x120: replace it with the patch's own file")
            array = dataset.read(1)
            footprint = None
            if dataset.crs is not None and not dataset.transform.is_identity:
                footprint = footprint_from_transform(dataset.transform, dataset.crs,
                                                     dataset.width, dataset.height)
            return BandFile(array, footprint, dataset.transform, dataset.crs)
    except (RasterioError, CPLE_BaseError) as error:
        raise InputError(f"{Path(path).name} is not a readable GeoTIFF ({error}); the file may be truncated "
                         "or corrupt: copy or download the patch again") from error

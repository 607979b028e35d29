"""Reading single-band BigEarthNet GeoTIFFs with rasterio, turning rasterio's errors into ours."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioError

from csmae_core.errors import InputError
from csmae_core.geo import Footprint, footprint_from_transform


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
            array = dataset.read(1)
            footprint = None
            if dataset.crs is not None and not dataset.transform.is_identity:
                footprint = footprint_from_transform(dataset.transform, dataset.crs,
                                                     dataset.width, dataset.height)
            return BandFile(array, footprint, dataset.transform, dataset.crs)
    except RasterioError as error:
        raise InputError(f"{Path(path).name} is not a readable GeoTIFF ({error})") from error

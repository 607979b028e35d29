"""Reading a user's upload into one BigEarthNet-like patch record.

An upload is given as a path, a list of paths, or (file name, bytes) pairs (e.g. what a web page
received); the pairs are checked and written once per call to a private temporary folder (`staging`).
Accepted forms (all return a `PatchRecord` with source="upload" and `notes` saying what was done):

* One multi-band GeoTIFF: Sentinel-1 with 2 bands (dB or linear power) or Sentinel-2 with 10, 12 or
  13 bands (reflectance x 10000, or 0-1 floats). Bands are named from the band descriptions ("B2",
  "B02", "b8a", "VV", ...) when every band has a recognisable one; otherwise the default order of
  `bands.UPLOAD_DEFAULT_ORDER` for the band count is assumed (and said in a note):
      2  -> VV, VH
      10 -> B02 B03 B04 B05 B06 B07 B08 B8A B11 B12
      12 -> B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B11 B12
      13 -> B01 ... B09 B10 B11 B12 (L1C; the cirrus band B10 is dropped)
* Several single-band GeoTIFFs named like BigEarthNet band files (`<name>_B02.tif`, `<name>_VV.tif`),
  all of one patch, each at its own resolution.
* A .zip of ONE BigEarthNet patch folder (v1 or v2, with or without `<name>_labels_metadata.json`).

Rasters that are not 10 m UTM are warped to 10 m in their UTM zone; rasters larger than one patch
are cut to a 120x120 window at 10 m (the centre one unless the caller picks); 20 m and 60 m bands are
then area-averaged to their native BigEarthNet size, so the record looks exactly like a BigEarthNet
patch. Anything that cannot be read that way raises `InputError` with a message for the uploader.

The package, one job a module: `staging` (the upload as checked files), `safety` (limits, magic bytes,
rasters GDAL may open), `zips` (zip safety), `naming` (which band is which), `grid` (the 10 m grid and
the window), `units` (values and units), `formats` (one reader per form).
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csmae_core.bands import PATCH_PIXELS, SENSORS, UPLOAD_DEFAULT_ORDER
from csmae_core.errors import InputError
from csmae_core.io.upload.formats import read_band_files, read_multiband, read_zip
from csmae_core.io.upload.grid import grid_10m
from csmae_core.io.upload.naming import band_names, band_of_single_file, is_single_band_file
from csmae_core.io.upload.safety import MAX_UPLOAD_BYTES, UPLOAD_FORMS, is_zip, open_raster
from csmae_core.io.upload.staging import UploadFiles, staged
from csmae_core.io.upload.zips import check_zip
from csmae_core.preview import preview
from csmae_core.record import PatchRecord

__all__ = ["MAX_UPLOAD_BYTES", "UPLOAD_FORMS", "UploadFiles", "UploadLayout", "read_upload", "upload_layout",
           "upload_overview", "upload_raster_size"]
log = logging.getLogger(__name__)


def read_upload(files: UploadFiles, *, window: tuple[int, int] | None = None,
                sensor: str | None = None) -> PatchRecord:
    """One patch from an upload: a multi-band GeoTIFF, single-band band files, or a patch-folder zip.

    files: a path, a sequence of paths, or (file name, bytes) pairs. window: (col_off, row_off) in 10 m
    pixels of the 120x120 window's upper-left corner (default: the centre window). sensor: "s1"/"s2"
    to insist on a sensor (otherwise detected from the bands).
    """
    with staged(files) as paths:
        if sensor is not None and sensor not in SENSORS:
            raise InputError(f"unknown sensor {sensor!r}; choose one of {', '.join(SENSORS)}")
        if any(is_zip(f) for f in paths):
            if len(paths) > 1:
                raise InputError("a .zip must be uploaded on its own, not together with other files")
            record = read_zip(paths[0], window)
        elif len(paths) > 1 or is_single_band_file(paths[0]):
            record = read_band_files(paths, window)
        else:
            record = read_multiband(paths[0], window)
    if sensor is not None and record.sensor != sensor:
        raise InputError(f"the upload holds {record.sensor.upper()} bands, but sensor "
                         f"{sensor.upper()} was asked for; upload {sensor.upper()} data or drop the choice")
    record.source = "upload"
    for note in record.notes:
        log.info("upload %s: %s", record.name, note)
    return record


@dataclass
class UploadLayout:
    """What a window picker needs of a single-file upload: its 10 m grid size (width, height) and, when
    it is larger than one patch and a multi-band GeoTIFF, an overview (uint8 RGB) of the same area."""

    width: int
    height: int
    overview: np.ndarray | None

    @property
    def needs_window(self) -> bool:
        return self.width > PATCH_PIXELS or self.height > PATCH_PIXELS


def upload_layout(files: UploadFiles, max_side: int = 400) -> UploadLayout:
    """Grid size and overview of a single-file upload (path or (file name, bytes)), staged once."""
    with staged(files) as paths:
        file = _one_file(paths)
        width, height = _raster_size(file)
        large = width > PATCH_PIXELS or height > PATCH_PIXELS
        return UploadLayout(width, height, _overview(file, max_side) if large else None)


def upload_raster_size(files: UploadFiles) -> tuple[int, int]:
    """(width, height) in 10 m pixels of an uploaded GeoTIFF: the range a window picker offers.

    A raster that is not 10 m UTM is measured on the 10 m UTM grid it will be warped to; a zip holds
    one BigEarthNet patch, i.e. exactly one window.
    """
    with staged(files) as paths:
        return _raster_size(_one_file(paths))


def upload_overview(files: UploadFiles, max_side: int = 400) -> np.ndarray | None:
    """Downsampled preview (uint8 RGB) of a whole multi-band GeoTIFF, for picking the 120x120 window;
    None for zips and band-file sets. The image spans the same area as `upload_raster_size`'s grid."""
    with staged(files) as paths:
        return _overview(_one_file(paths), max_side)


def _one_file(paths: list[Path]) -> Path:
    if len(paths) != 1:
        raise InputError(f"a window is chosen on one uploaded file, not on {len(paths)}; pass the "
                         "single GeoTIFF or zip (band-file sets are read at their centre window)")
    return paths[0]


def _raster_size(file: Path) -> tuple[int, int]:
    if is_zip(file):
        check_zip(file)  # the same checks as reading it, nothing extracted
        return PATCH_PIXELS, PATCH_PIXELS
    with open_raster(file) as dataset, contextlib.ExitStack() as stack:
        band = band_of_single_file(file, dataset)
        grid = grid_10m(dataset, stack, [], band=band)
        return grid.width, grid.height


def _overview(file: Path, max_side: int) -> np.ndarray | None:
    if is_zip(file) or is_single_band_file(file):
        return None
    with open_raster(file) as dataset:
        names = band_names(dataset, file.name, [])
        sensor = UPLOAD_DEFAULT_ORDER[dataset.count][0]
        wanted = ("B04", "B03", "B02") if sensor == "s2" else ("VV", "VH")
        scale = max(dataset.width, dataset.height) / max_side
        shape = (max(1, int(dataset.height / max(scale, 1))), max(1, int(dataset.width / max(scale, 1))))
        bands = {name: dataset.read(names.index(name) + 1, out_shape=shape).astype(np.float32) for name in wanted}
    return preview(sensor, bands)

"""Reading a user's upload into one BigEarthNet-like patch record.

An upload is given as a path, a list of paths, or (file name, bytes) pairs (e.g. what a web page
received); the pairs are checked and written once per call to a private temporary folder (`staging`).
Accepted forms (all return a `PatchRecord` with source="upload" and `notes` saying what was done):

* One multi-band GeoTIFF: Sentinel-1 (dB, linear power/intensity, or amplitude) or Sentinel-2
  (reflectance x 10000 with or without the +1000 offset of processing baseline 04.00+, 0-1 floats or
  percent). Bands are named from the band descriptions as real tools write them (ESA "B02", GEE "B2",
  SNAP "Sigma0_VV_db" / "Amplitude_VH" / "Intensity_VV", STAC "blue" / "nir08" / "swir16"; `naming`);
  non-spectral bands (GEE "angle", QA60, SCL, cloud probabilities, AOT, WVP, TCI) are ignored. When
  descriptions are present every band the model needs must be identified, or the file is refused naming
  it; only a file without descriptions gets the default order of `bands.UPLOAD_DEFAULT_ORDER`:
      2  -> VV, VH
      10 -> B02 B03 B04 B05 B06 B07 B08 B8A B11 B12
      12 -> B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B11 B12
      13 -> B01 ... B09 B10 B11 B12 (L1C; the cirrus band B10 is dropped)
* Several single-band files of one patch, each at its own resolution: BigEarthNet `<name>_B02.tif`,
  SSL4EO / Major-TOM `B2.tif` / `B02.tif` (the folder names the patch), SAFE `T33UUP_<date>_B02_10m.jp2`.
* A .zip of ONE BigEarthNet patch folder (v1 or v2, with or without `<name>_labels_metadata.json`), of
  the S1 and the S2 folder of one pair (`read_upload` reads S2 unless `sensor="s1"`; `read_upload_pair`
  both), or of one multi-band GeoTIFF.

What a file declares about its values (GDAL scale/offset, BOA/RADIO_ADD_OFFSET tags, the baseline in a
product name, units in band descriptions) is used when the values agree, and said when they do not
(`radiometry`, `units`); values the sensors cannot produce are nodata even without a tag; Level-1C
products are flagged.

Rasters that are not 10 m UTM are warped to 10 m in their UTM zone; rasters larger than one patch
are cut to a 120x120 window at 10 m (the centre one unless the caller picks); 20 m and 60 m bands are
then area-averaged to their native BigEarthNet size, so the record looks exactly like a BigEarthNet
patch. Anything that cannot be read that way raises `InputError` with a message for the uploader.

Each call stages the upload anew; `open_upload` stages it once for many reads (a window picker) and
identifies it by content (`OpenedUpload.key`, the SHA-256 of its names and bytes).

The package, one job a module: `staging` (the upload as checked files, its content key), `safety`
(limits per file and per upload, magic bytes, declared decoded size, rasters GDAL may open), `zips` (zip
safety), `naming` (which band is which), `grid` (the 10 m grid and the window), `radiometry` (declared
offsets and levels, checked against the data), `units` (values and units), `formats` (one reader per
form), `opened` (an upload staged once; the layout for a window picker).
"""
from __future__ import annotations

import logging

import numpy as np

from csmae_core.io.upload.opened import (
    OpenedUpload,
    UploadLayout,
    layout_of,
    one_file,
    open_upload,
    overview,
    raster_size,
    read_pair_paths,
    read_paths,
)
from csmae_core.io.upload.safety import MAX_DECODED_BYTES, MAX_UPLOAD_BYTES, UPLOAD_FORMS
from csmae_core.io.upload.staging import UploadFiles, staged
from csmae_core.record import PatchPair, PatchRecord

__all__ = ["MAX_DECODED_BYTES", "MAX_UPLOAD_BYTES", "UPLOAD_FORMS", "OpenedUpload", "UploadFiles", "UploadLayout",
           "open_upload", "read_upload", "read_upload_pair", "upload_layout", "upload_overview", "upload_raster_size"]
log = logging.getLogger(__name__)


def read_upload(files: UploadFiles, *, window: tuple[int, int] | None = None,
                sensor: str | None = None) -> PatchRecord:
    """One patch from an upload: a multi-band GeoTIFF, single-band band files, or a patch-folder zip.

    files: a path, a sequence of paths, or (file name, bytes) pairs. window: (col_off, row_off) in 10 m
    pixels of the 120x120 window's upper-left corner (default: the centre window). sensor: "s1"/"s2"
    to insist on a sensor (otherwise detected from the bands).
    """
    with staged(files) as paths:
        record = read_paths(paths, window, sensor)
    for note in record.notes:
        log.info("upload %s: %s", record.name, note)
    return record


def read_upload_pair(files: UploadFiles) -> PatchPair:
    """Both patches of a zip holding the S1 and the S2 patch folder of one pair (InputError otherwise)."""
    with staged(files) as paths:
        return read_pair_paths(paths)


def upload_layout(files: UploadFiles, max_side: int = 400) -> UploadLayout:
    """Grid size and overview of a single-file upload (path or (file name, bytes)), staged once."""
    with staged(files) as paths:
        return layout_of(paths, max_side)


def upload_raster_size(files: UploadFiles) -> tuple[int, int]:
    """(width, height) in 10 m pixels of an uploaded GeoTIFF: the range a window picker offers.

    A raster that is not 10 m UTM is measured on the 10 m UTM grid it will be warped to; a zip holds
    one BigEarthNet patch, i.e. exactly one window.
    """
    with staged(files) as paths:
        return raster_size(one_file(paths))


def upload_overview(files: UploadFiles, max_side: int = 400) -> np.ndarray | None:
    """Downsampled preview (uint8 RGB) of a whole multi-band GeoTIFF, for picking the 120x120 window;
    None for zips and band-file sets, and for a file declaring more than MAX_DECODED_BYTES decoded
    (without a small internal overview). The image spans the same area as `upload_raster_size`'s grid."""
    with staged(files) as paths:
        return overview(one_file(paths), max_side)

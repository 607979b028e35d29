"""An upload checked and staged once, then read as often as a window picker asks: `OpenedUpload` keeps
the staged copy (a private temporary folder, removed by `close()` or when the object is garbage
collected) and is identified by `key`, the SHA-256 of its file names and bytes, so a page can tell a new
upload from the same one dropped again even when name and size agree. The readers behind `read_upload`
and `upload_layout` live here too: they take the staged paths."""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csmae_core.bands import PATCH_PIXELS, SENSORS, UPLOAD_DEFAULT_ORDER
from csmae_core.errors import InputError
from csmae_core.io.upload.formats import read_band_files, read_multiband, read_zip
from csmae_core.io.upload.grid import grid_10m
from csmae_core.io.upload.naming import band_names, band_of_single_file, is_single_band_file
from csmae_core.io.upload import safety
from csmae_core.io.upload.safety import budget_note, decoded_bytes, is_zip, open_raster
from csmae_core.io.upload.staging import UploadFiles, is_named_bytes, stage, upload_items
from csmae_core.io.upload.zips import check_zip
from csmae_core.preview import preview
from csmae_core.record import PatchRecord


@dataclass
class UploadLayout:
    """What a window picker needs of a single-file upload: its 10 m grid size (width, height) and, when
    it is larger than one patch and a multi-band GeoTIFF, an overview (uint8 RGB) of the same area, or
    `overview_note` saying why there is none (a file declaring more pixels than are decoded at once)."""

    width: int
    height: int
    overview: np.ndarray | None
    overview_note: str | None = None

    @property
    def needs_window(self) -> bool:
        return self.width > PATCH_PIXELS or self.height > PATCH_PIXELS


class OpenedUpload:
    """An upload (paths or (file name, bytes) pairs) checked and staged once; `read` and `layout` use the
    staged copy. `key`: SHA-256 (hex) of the file names and contents, in order."""

    def __init__(self, files: UploadFiles):
        items = upload_items(files)
        folder = tempfile.mkdtemp(prefix="upload-") if any(is_named_bytes(i) for i in items) else None
        self._finalizer = weakref.finalize(self, shutil.rmtree, folder, True) if folder else None
        try:
            staging = stage(items, Path(folder) if folder else None, identify=True)
        except BaseException:
            self.close()
            raise
        self.paths, self.key = staging.paths, staging.key
        self._layouts: dict[int, UploadLayout] = {}

    def read(self, window: tuple[int, int] | None = None, sensor: str | None = None) -> PatchRecord:
        """The patch record of `window` (default: the centre one); see `read_upload`."""
        return read_paths(self.paths, window, sensor)

    def layout(self, max_side: int = 400) -> UploadLayout:
        """Grid size and overview of a single-file upload (computed once per `max_side`)."""
        if max_side not in self._layouts:
            self._layouts[max_side] = layout_of(self.paths, max_side)
        return self._layouts[max_side]

    def close(self) -> None:
        """Remove the staged copy (a later `read` fails); also done when the object is collected."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> "OpenedUpload":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_upload(files: UploadFiles) -> OpenedUpload:
    """Check and stage an upload once, for several reads (windows, sensors); see `OpenedUpload`."""
    return OpenedUpload(files)


def read_paths(paths: list[Path], window: tuple[int, int] | None, sensor: str | None) -> PatchRecord:
    """`read_upload` of checked, staged files."""
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
    return record


def layout_of(paths: list[Path], max_side: int) -> UploadLayout:
    file = one_file(paths)
    width, height = raster_size(file)
    if not (width > PATCH_PIXELS or height > PATCH_PIXELS):
        return UploadLayout(width, height, None)
    return UploadLayout(width, height, *_overview(file, max_side))


def one_file(paths: list[Path]) -> Path:
    if len(paths) != 1:
        raise InputError(f"a window is chosen on one uploaded file, not on {len(paths)}; pass the "
                         "single GeoTIFF or zip (band-file sets are read at their centre window)")
    return paths[0]


def raster_size(file: Path) -> tuple[int, int]:
    if is_zip(file):
        check_zip(file)  # the same checks as reading it, nothing extracted
        return PATCH_PIXELS, PATCH_PIXELS
    with open_raster(file) as dataset, contextlib.ExitStack() as stack:
        band = band_of_single_file(file, dataset)
        grid = grid_10m(dataset, stack, [], band=band)
        return grid.width, grid.height


def overview(file: Path, max_side: int) -> np.ndarray | None:
    return _overview(file, max_side)[0]


def _overview(file: Path, max_side: int) -> tuple[np.ndarray | None, str | None]:
    """(overview, None), or (None, why not) for a raster over the decoded budget without a small enough
    internal overview level; (None, None) for zips and band files."""
    if is_zip(file) or is_single_band_file(file):
        return None, None
    with open_raster(file) as dataset:
        scale = max(dataset.width, dataset.height) / max_side
        if not _overview_fits(dataset, scale):
            return None, budget_note(dataset, file.name)
        names = band_names(dataset, file.name, [])
        sensor = UPLOAD_DEFAULT_ORDER[dataset.count][0]
        wanted = ("B04", "B03", "B02") if sensor == "s2" else ("VV", "VH")
        shape = (max(1, int(dataset.height / max(scale, 1))), max(1, int(dataset.width / max(scale, 1))))
        bands = {name: dataset.read(names.index(name) + 1, out_shape=shape).astype(np.float32) for name in wanted}
    return preview(sensor, bands), None


def _overview_fits(dataset, scale: float) -> bool:
    """Whether drawing the overview decodes at most the budget: the whole raster, or the internal
    overview level GDAL reads for that scale (the coarsest one not coarser than asked)."""
    factors = [f for f in dataset.overviews(1) if f <= scale]
    return decoded_bytes(dataset) / max(factors, default=1) ** 2 <= safety.MAX_DECODED_BYTES

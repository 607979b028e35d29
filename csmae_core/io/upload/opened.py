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
from rasterio.windows import Window

from csmae_core.bands import PATCH_PIXELS, SENSORS
from csmae_core.errors import InputError
from csmae_core.io.folders import sensor_of_bands
from csmae_core.io.upload import safety
from csmae_core.io.upload.formats import read_band_files, read_multiband, read_zip
from csmae_core.io.upload.grid import grid_10m
from csmae_core.io.upload.naming import band_names, band_of_single_file, is_single_band_file
from csmae_core.io.upload.safety import budget_note, decoded_bytes, is_zip, open_raster
from csmae_core.io.upload.staging import UploadFiles, is_named_bytes, stage, upload_items
from csmae_core.io.upload.zips import check_zip
from csmae_core.preview import preview
from csmae_core.record import PatchPair, PatchRecord


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

    def read_pair(self) -> PatchPair:
        """Both records of a zip holding the S1 and the S2 folder of one pair; see `read_upload_pair`."""
        return read_pair_paths(self.paths)

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
        record = _one_of_pair(read_zip(paths[0], window), sensor, paths[0].name)
    elif len(paths) > 1 or is_single_band_file(paths[0]):
        record = read_band_files(paths, window)
    else:
        record = read_multiband(paths[0], window)
    if sensor is not None and record.sensor != sensor:
        raise InputError(f"the upload holds {record.sensor.upper()} bands, but sensor "
                         f"{sensor.upper()} was asked for; upload {sensor.upper()} data or drop the choice")
    record.source = "upload"
    return record


def _check_one_place(records: dict[str, PatchRecord], name: str) -> None:
    """The S1 and S2 patches of a pair share one footprint (BigEarthNet pairs are co-registered)."""
    s1, s2 = records["s1"].footprint, records["s2"].footprint
    if s1 is not None and s2 is not None and (s1.epsg != s2.epsg or abs(s1.ulx - s2.ulx) > 10
                                              or abs(s1.uly - s2.uly) > 10):
        raise InputError(f"{name} holds an S1 patch ({records['s1'].name}) and an S2 patch ({records['s2'].name}) "
                         "of different places; zip the S1 and the S2 folder of one pair")


def _one_of_pair(records: list[PatchRecord], sensor: str | None, name: str) -> PatchRecord:
    """The record asked for of a zipped pair (S2 unless `sensor` says otherwise), noting the other."""
    if len(records) == 1:
        return records[0]
    by_sensor = {r.sensor: r for r in records}
    _check_one_place(by_sensor, name)
    record = by_sensor[sensor or "s2"]
    other = "s1" if record.sensor == "s2" else "s2"
    record.notes.append(f"the zip holds the S1 and S2 patches of one pair ({by_sensor['s1'].name}, "
                        f"{by_sensor['s2'].name}); read {record.sensor.upper()} (sensor='{other}' reads the "
                        "other; read_upload_pair reads both)")
    record.meta["pair_names"] = {"s1": by_sensor["s1"].name, "s2": by_sensor["s2"].name}
    return record


def read_pair_paths(paths: list[Path]) -> PatchPair:
    """Both records of a zip holding the S1 and the S2 folder of one pair."""
    if len(paths) != 1 or not is_zip(paths[0]):
        raise InputError("a pair is uploaded as one .zip holding the S1 and the S2 patch folder of one pair")
    records = {r.sensor: r for r in read_zip(paths[0], None)}
    if set(records) != {"s1", "s2"}:
        raise InputError(f"{paths[0].name} holds one {next(iter(records)).upper()} patch, not a pair; zip the "
                         "S1 and the S2 patch folder of one pair together")
    _check_one_place(records, paths[0].name)
    for record in records.values():
        record.source = "upload"
    return PatchPair(s1=records["s1"], s2=records["s2"])


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
    with open_raster(file) as dataset, contextlib.ExitStack() as stack:
        if not _overview_fits(dataset, max(dataset.width, dataset.height) / max_side):
            return None, budget_note(dataset, file.name)
        bands = dict((name, index) for index, name in band_names(dataset, file.name, []).used())
        sensor = sensor_of_bands(set(bands))
        # drawn from the same north-up 10 m grid the window is read from (a south-up or rotated raster
        # would otherwise be shown mirrored against the window that is read)
        grid = grid_10m(dataset, stack, [])
        scale = max(1.0, max(grid.width, grid.height) / max_side)
        shape = (max(1, int(grid.height / scale)), max(1, int(grid.width / scale)))
        whole = Window(0, 0, grid.width * grid.step, grid.height * grid.step)
        wanted = ("B04", "B03", "B02") if sensor == "s2" else ("VV", "VH")
        arrays = {name: grid.source.read(bands[name], window=whole, out_shape=shape).astype(np.float32)
                  for name in wanted}
    return preview(sensor, arrays), None


def _overview_fits(dataset, scale: float) -> bool:
    """Whether drawing the overview decodes at most the budget: the whole raster, or the internal
    overview level GDAL reads for that scale (the coarsest one not coarser than asked)."""
    factors = [f for f in dataset.overviews(1) if f <= scale]
    return decoded_bytes(dataset) / max(factors, default=1) ** 2 <= safety.MAX_DECODED_BYTES

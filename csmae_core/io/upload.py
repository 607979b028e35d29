"""Reading a user's upload into one BigEarthNet-like patch record.

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
"""
from __future__ import annotations

import contextlib
import logging
import re
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.warp import aligned_target, calculate_default_transform
from rasterio.warp import transform as warp_points
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from csmae_core.bands import (BANDS, IGNORED_BANDS, PATCH_PIXELS, SENSORS, STORED_BANDS,
                              UPLOAD_DEFAULT_ORDER)
from csmae_core.errors import DataNotFoundError, InputError
from csmae_core.geo import Footprint, footprint_from_transform, utm_epsg_for
from csmae_core.io.names import split_band_file_name
from csmae_core.io.folders import read_patch_folder, sensor_of_bands
from csmae_core.record import PatchRecord

try:  # GDAL errors that rasterio does not wrap in RasterioError (e.g. raised while reading blocks)
    from rasterio._err import CPLE_BaseError
except ImportError:  # pragma: no cover - private module moved
    CPLE_BaseError = RasterioError

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # cap on an uploaded file / on the expanded size of a zip
MAX_ZIP_RATIO = 100  # expanded/compressed beyond this (on more than 1 MiB) looks like a zip bomb
MAX_ZIP_MEMBERS = 1000  # a patch folder has a dozen files; more entries is not a patch
MAX_RASTER_SIDE = 20_000  # pixels per side of an upload, as stored and on the 10 m grid (200 km at 10 m):
# a tiny compressed or sparse GeoTIFF can declare 100000 x 100000 pixels, and reading or warping it would not end
_ZIP_RATIO_FLOOR = 1024 * 1024
_MAX_JSON_BYTES = 1024 * 1024  # a labels_metadata.json is about 1 KiB; a larger one is ignored
_CHUNK = 1024 * 1024
_TARGET_M = 10  # the model grid: 10 m pixels
_LINEAR_FLOOR = 1e-6  # linear power clipped here before 10*log10 (zero would give -inf)
_DB_MEDIAN_MAX = 10.0  # S1 sigma0 in dB has a median far below this; all-positive larger is not dB

_S1_COUNTS = sorted(n for n, (s, _) in UPLOAD_DEFAULT_ORDER.items() if s == "s1")
_S2_COUNTS = sorted(n for n, (s, _) in UPLOAD_DEFAULT_ORDER.items() if s == "s2")
EXPECTED_COUNTS = (f"{'/'.join(map(str, _S1_COUNTS))} (S1) or "
                   f"{'/'.join(map(str, _S2_COUNTS))} (S2) bands")
_DESCRIPTION_RE = re.compile(r"^(?:B0?(?P<num>\d{1,2})(?P<a>A?)|(?P<pol>VV|VH))$", re.IGNORECASE)
_MAGIC = ((b"\x89PNG", "it is a PNG image"), (b"\xff\xd8\xff", "it is a JPEG image"),
          (b"GIF8", "it is a GIF image"), (b"%PDF", "it is a PDF document"),
          (b"PK\x03\x04", "it is a zip archive"), (b"<", "it is an XML/HTML text file"))
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive's end record
UPLOAD_FORMS = ("upload a multi-band GeoTIFF, BigEarthNet band GeoTIFFs (<name>_B02.tif, ...) "
          "or a .zip of one BigEarthNet patch folder")


# ----------------------------------------------------------------------------------------- public


def read_upload(paths: str | Path | Sequence[str | Path], *, window: tuple[int, int] | None = None,
                sensor: str | None = None) -> PatchRecord:
    """One patch from an upload: a multi-band GeoTIFF, single-band band files, or a patch-folder zip.

    window: (col_off, row_off) in 10 m pixels of the 120x120 window's upper-left corner (default:
    the centre window). sensor: "s1"/"s2" to insist on a sensor (otherwise detected from the bands).
    """
    files = _check_files(paths)
    if sensor is not None and sensor not in SENSORS:
        raise InputError(f"unknown sensor {sensor!r}; choose one of {', '.join(SENSORS)}")
    if any(_is_zip(f) for f in files):
        if len(files) > 1:
            raise InputError("a .zip must be uploaded on its own, not together with other files")
        record = _read_zip(files[0], window)
    elif len(files) > 1 or _is_single_band_file(files[0]):
        record = _read_band_files(files, window)
    else:
        record = _read_multiband(files[0], window)
    if sensor is not None and record.sensor != sensor:
        raise InputError(f"the upload holds {record.sensor.upper()} bands, but sensor "
                         f"{sensor.upper()} was asked for; upload {sensor.upper()} data or drop the choice")
    record.source = "upload"
    for note in record.notes:
        log.info("upload %s: %s", record.name, note)
    return record


def upload_raster_size(path: str | Path) -> tuple[int, int]:
    """(width, height) in 10 m pixels of an uploaded GeoTIFF: the range a window picker offers.

    A raster that is not 10 m UTM is measured on the 10 m UTM grid it will be warped to; a zip holds
    one BigEarthNet patch, i.e. exactly one window.
    """
    (file,) = _check_files(path)
    if _is_zip(file):
        try:
            with zipfile.ZipFile(file) as archive:
                _zip_members(archive, file.name)  # the same checks as reading it, nothing extracted
        except (zipfile.BadZipFile, OSError) as error:
            raise InputError(f"{file.name} is not a readable zip archive ({error}); zip the patch folder "
                             "again") from error
        return PATCH_PIXELS, PATCH_PIXELS
    with _open_raster(file) as dataset, contextlib.ExitStack() as stack:
        band = _band_of_single_file(file, dataset)
        grid = _grid_10m(dataset, stack, [], band=band)
        return grid.width, grid.height


def upload_overview(path: str | Path, max_side: int = 400) -> np.ndarray | None:
    """Downsampled preview (uint8 RGB) of a whole multi-band GeoTIFF, for picking the 120x120 window;
    None for zips and band-file sets. The image spans the same area as `upload_raster_size`'s grid."""
    (file,) = _check_files(path)
    if _is_zip(file) or _is_single_band_file(file):
        return None
    from csmae_core.preview import preview

    with _open_raster(file) as dataset:
        names = _band_names(dataset, file.name, [])
        sensor = UPLOAD_DEFAULT_ORDER[dataset.count][0]
        wanted = ("B04", "B03", "B02") if sensor == "s2" else ("VV", "VH")
        scale = max(dataset.width, dataset.height) / max_side
        shape = (max(1, int(dataset.height / max(scale, 1))), max(1, int(dataset.width / max(scale, 1))))
        bands = {name: dataset.read(names.index(name) + 1, out_shape=shape).astype(np.float32) for name in wanted}
    return preview(sensor, bands)


# ------------------------------------------------------------------------------------- file checks


def _check_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """The upload as existing, not-too-large files (DataNotFoundError for a missing one)."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise InputError(f"no file given; {UPLOAD_FORMS}")
    files = [Path(p) for p in items]
    for file in files:
        if not file.exists():
            raise DataNotFoundError(f"no such file: {file}; check the path or upload it again")
        if not file.is_file():
            raise InputError(f"{file} is a folder, not a file; zip the patch folder or pass its band files")
        size = file.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise InputError(f"{file.name} is larger than the {_mib(MAX_UPLOAD_BYTES)} upload limit "
                             f"({size / 2**20:.1f} MiB); crop it first (one patch is only 1200 m x 1200 m)")
    return files


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(8)
    except OSError as error:
        raise InputError(f"{path.name} cannot be read ({error})") from error


def _is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or _head(path).startswith(_ZIP_MAGIC)


def _check_tiff_header(path: Path) -> None:
    """Refuse anything but TIFF before GDAL sees it: GDAL would open PNGs, JPEGs and even VRT XML
    (which can point at other files on this machine)."""
    head = _head(path)
    if head.startswith(_TIFF_MAGIC):
        return
    kind = next((what for magic, what in _MAGIC if head.startswith(magic)),
                "an empty file" if not head else "it does not start with a TIFF header")
    raise InputError(f"{path.name} is not a GeoTIFF ({kind}); {UPLOAD_FORMS}")


@contextlib.contextmanager
def _raster_errors(name: str) -> Iterator[None]:
    """Turn GDAL/rasterio/OS failures on a user's file into an InputError naming the file."""
    try:
        yield
    except InputError:
        raise  # already says what is wrong (DataNotFoundError is an OSError too)
    except (RasterioError, CPLE_BaseError, OSError) as error:
        raise InputError(f"{name} is not a readable GeoTIFF ({error}); the file may be truncated or "
                         "corrupt: export or download it again") from error


@contextlib.contextmanager
def _open_raster(path: Path) -> Iterator[Any]:
    """A checked GeoTIFF dataset; read errors inside the block become InputError as well."""
    _check_tiff_header(path)
    with _raster_errors(path.name), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # said in a note instead
        with rasterio.open(path, driver="GTiff") as dataset:
            _reject_huge(dataset.width, dataset.height, path.name)
            _reject_pictures(dataset, path.name)
            yield dataset


def _reject_huge(width: int, height: int, name: str, grid: bool = False) -> None:
    """Refuse rasters too large to window or warp (checked before a pixel is read)."""
    if max(width, height) <= MAX_RASTER_SIDE:
        return
    what = (f"covers {width / 100:.0f} km x {height / 100:.0f} km, {width}x{height} pixels at 10 m" if grid
            else f"declares {width}x{height} pixels")
    raise InputError(f"{name} {what}, more than the {MAX_RASTER_SIDE}x{MAX_RASTER_SIDE} an upload may have; "
                     f"crop it first (one patch is {PATCH_PIXELS}x{PATCH_PIXELS} pixels, 1200 m x 1200 m)")


def _reject_pictures(dataset: Any, name: str) -> None:
    if dataset.count in (3, 4) and all(d == "uint8" for d in dataset.dtypes):
        raise InputError(f"{name} is an 8-bit RGB image (a picture, not Sentinel bands); upload the "
                         f"bands themselves: a GeoTIFF with {EXPECTED_COUNTS}")
    if any(str(d).startswith("complex") for d in dataset.dtypes):
        raise InputError(f"{name} holds complex values ({dataset.dtypes[0]}), as a Sentinel-1 SLC product does; "
                         "upload GRD backscatter instead (sigma0 in dB or linear power, real numbers)")


def _is_single_band_file(path: Path) -> bool:
    """A lone `<name>_B02.tif`-style file with one band is a (too small) band-file set."""
    if split_band_file_name(path.name) is None:
        return False
    with _open_raster(path) as dataset:
        return dataset.count == 1


def _band_of_single_file(path: Path, dataset: Any) -> str | None:
    parsed = split_band_file_name(path.name)
    return parsed[1] if parsed and dataset.count == 1 and parsed[1] in BANDS else None


# ------------------------------------------------------------------------------------- band names


def _parse_description(text: str | None) -> str | None:
    """"B2"/"B02"/"b8a"/"VV"/"vh" -> the band table's name; None if not a Sentinel band."""
    match = _DESCRIPTION_RE.match((text or "").strip())
    if not match:
        return None
    if match.group("pol"):
        return match.group("pol").upper()
    number, suffix = int(match.group("num")), match.group("a").upper()
    name = "B8A" if (number, suffix) == (8, "A") else (f"B{number:02d}" if not suffix else "")
    return name if name in BANDS or name in IGNORED_BANDS else None


def _band_names(dataset: Any, file_name: str, notes: list[str]) -> list[str]:
    """Band name of each band of a multi-band file: its descriptions, else the default order."""
    count = dataset.count
    if count not in UPLOAD_DEFAULT_ORDER:
        raise InputError(f"{file_name} has {count} band{'s' * (count != 1)}; expected {EXPECTED_COUNTS} "
                         "(or single-band files named like <name>_B02.tif)")
    parsed = [_parse_description(d) for d in dataset.descriptions]
    if all(parsed) and len(set(parsed)) == count:
        notes.append(f"bands named from the file's band descriptions: {', '.join(parsed)}")
        return parsed  # type: ignore[return-value]
    sensor, order = UPLOAD_DEFAULT_ORDER[count]
    if all(parsed):
        why = "band descriptions name a band twice"
    elif any(dataset.descriptions):
        why = "band descriptions not recognised as Sentinel band names"
    else:
        why = "no band descriptions"
    notes.append(f"{why}: assumed the default {count}-band {sensor.upper()} order {', '.join(order)}")
    return list(order)


def _drop_ignored(names: Sequence[str], notes: list[str]) -> None:
    for band in sorted(set(names) & IGNORED_BANDS):
        notes.append(f"dropped band {band} (cirrus band of L1C products; no model uses it)")


# ------------------------------------------------------------------------------------ 10 m grids


@dataclass
class _Grid:
    """A raster seen as 10 m pixels. `source` is read at `step` source pixels per 10 m pixel."""

    source: Any
    width: int
    height: int
    transform: Any  # of the 10 m grid; None when the raster is not georeferenced
    crs: Any
    step: float = 1.0
    alpha: int | None = None  # band index of a warped VRT's alpha band (0 = outside the source)

    def read(self, index: int, col: int, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(data, valid) of a 120x120 window at (col, row) in 10 m pixels."""
        size = PATCH_PIXELS
        window = Window(col * self.step, row * self.step, size * self.step, size * self.step)
        kwargs = {"window": window, "out_shape": (size, size), "resampling": Resampling.nearest}
        valid = self.source.read_masks(index, **kwargs) > 0
        if self.alpha:  # GDAL only derives masks from alpha for 2- and 4-band rasters: read it
            valid &= self.source.read(self.alpha, **kwargs) > 0
        return self.source.read(index, **kwargs), valid


def _georeferenced(dataset: Any) -> bool:
    return dataset.crs is not None and not dataset.transform.is_identity


def _grid_10m(dataset: Any, stack: contextlib.ExitStack, notes: list[str], *,
              band: str | None = None, epsg: int | None = None) -> _Grid:
    """The dataset as 10 m pixels: as is, resampled in its own UTM zone, or warped to UTM."""
    if not _georeferenced(dataset):
        _note_once(notes, "no georeference: location unknown")
        # A single-band file without georeference is taken at its band's native resolution.
        step = _TARGET_M / BANDS[band].resolution_m if band else 1.0
        width, height = round(dataset.width / step), round(dataset.height / step)
        _reject_huge(width, height, Path(dataset.name).name, grid=True)
        return _Grid(dataset, width, height, None, None, step)
    epsg = epsg or _target_epsg(dataset)
    if _is_10m_in(dataset, epsg):
        return _Grid(dataset, dataset.width, dataset.height, dataset.transform, dataset.crs)
    vrt = stack.enter_context(_warped_10m(dataset, epsg, notes))
    return _Grid(vrt, vrt.width, vrt.height, vrt.transform, vrt.crs, alpha=vrt.count)


def _note_once(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def _epsg_of(crs: Any) -> int | None:
    try:
        return CRS.from_user_input(crs).to_epsg()
    except Exception:  # pyproj raises CRSError and friends for odd WKT  # noqa: BLE001
        return None


def _target_epsg(dataset: Any) -> int:
    """The raster's own UTM zone when it is in one, else the UTM zone of its centre."""
    epsg = _epsg_of(dataset.crs)
    if epsg is not None and CRS.from_epsg(epsg).utm_zone:
        return epsg
    left, bottom, right, top = dataset.bounds
    lons, lats = warp_points(dataset.crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
    return utm_epsg_for(lons[0], lats[0])


def _is_10m_in(dataset: Any, epsg: int) -> bool:
    """North-up 10 m pixels in CRS `epsg` (then windows are read straight from the file)."""
    t = dataset.transform
    return (_epsg_of(dataset.crs) == epsg and t.b == 0 and t.d == 0
            and abs(t.a - _TARGET_M) < 1e-6 and abs(t.e + _TARGET_M) < 1e-6)


@contextlib.contextmanager
def _warped_10m(dataset: Any, epsg: int, notes: list[str]) -> Iterator[WarpedVRT]:
    """A virtual 10 m UTM copy (nothing is written; GDAL warps only the pixels that are read)."""
    dst = f"EPSG:{epsg}"
    native, _, _ = calculate_default_transform(dataset.crs, dst, dataset.width, dataset.height,
                                               *dataset.bounds)
    metres = abs(native.a)  # the source's pixel size expressed in the target UTM metres
    transform, width, height = calculate_default_transform(
        dataset.crs, dst, dataset.width, dataset.height, *dataset.bounds, resolution=_TARGET_M)
    transform, width, height = aligned_target(transform, width, height, _TARGET_M)
    _reject_huge(width, height, Path(dataset.name).name, grid=True)
    source_epsg = _epsg_of(dataset.crs)
    if metres < _TARGET_M * 0.75:
        resampling = Resampling.average  # clearly finer than 10 m: average, do not alias
    elif source_epsg == epsg:
        resampling = Resampling.nearest  # same grid, coarser pixels: repeat them, invent nothing
    else:
        resampling = Resampling.bilinear
    label = f"EPSG:{source_epsg}" if source_epsg else "the file's coordinate system"
    _note_once(notes, f"reprojected from {label} (about {metres:.3g} m pixels) to {dst} at 10 m "
                      f"({resampling.name} resampling)")
    # add_alpha: pixels outside the source's footprint come back masked, not as fake zeros
    with WarpedVRT(dataset, crs=dst, transform=transform, width=width, height=height,
                   resampling=resampling, add_alpha=True) as vrt:
        yield vrt


# ---------------------------------------------------------------------------------------- windows


def _place_window(width: int, height: int, window: Any, name: str) -> tuple[int, int]:
    """Upper-left (col, row) of the 120x120 window: the caller's, checked, or the centre one."""
    size = PATCH_PIXELS
    if width < size or height < size:
        raise InputError(f"{name} is {width}x{height} pixels at 10 m ({width * 10} m x {height * 10} m), "
                         f"smaller than one {size * 10} m patch ({size}x{size} pixels at 10 m); "
                         "upload a larger area")
    if window is None:
        return (width - size) // 2, (height - size) // 2
    try:
        col, row = (int(v) for v in window)
    except (TypeError, ValueError) as error:
        raise InputError(f"window must be two integers (col_off, row_off), not {window!r}") from error
    if not (0 <= col <= width - size and 0 <= row <= height - size):
        raise InputError(f"window {col},{row} lies outside the {width}x{height} raster: col_off must be "
                         f"in 0..{width - size} and row_off in 0..{height - size} (10 m pixels of the "
                         "window's upper-left corner)")
    return col, row


def _window_note(notes: list[str], col: int, row: int, width: int, height: int) -> None:
    if (width, height) != (PATCH_PIXELS, PATCH_PIXELS):
        notes.append(f"window {PATCH_PIXELS}x{PATCH_PIXELS} at {col},{row} of {width}x{height}")


def _footprint(grid: _Grid, col: int, row: int) -> Footprint | None:
    if grid.transform is None:
        return None
    transform = window_transform(Window(col, row, PATCH_PIXELS, PATCH_PIXELS), grid.transform)
    return footprint_from_transform(transform, grid.crs, PATCH_PIXELS, PATCH_PIXELS)


def _check_valid(band: str, valid: np.ndarray) -> None:
    """BigEarthNet patches have no holes: refuse a window with nodata rather than embed fill values."""
    if not valid.any():
        raise InputError(f"band {band} is all nodata in the chosen window; choose a window over the "
                         "image's data")
    if not valid.all():
        share = 100 * (1 - valid.mean())
        raise InputError(f"band {band}: {share:.0f}% of the chosen window is nodata; choose a window "
                         "fully inside the image's data")


# ------------------------------------------------------------------------------ multi-band GeoTIFF


def _read_multiband(path: Path, window: Any) -> PatchRecord:
    notes: list[str] = []
    with _open_raster(path) as dataset, contextlib.ExitStack() as stack:
        names = _band_names(dataset, path.name, notes)
        _drop_ignored(names, notes)
        sensor = sensor_of_bands(set(names) - IGNORED_BANDS)
        grid = _grid_10m(dataset, stack, notes)
        col, row = _place_window(grid.width, grid.height, window, path.name)
        _window_note(notes, col, row, grid.width, grid.height)
        arrays = {}
        for index, band in enumerate(names, start=1):
            if band not in IGNORED_BANDS:
                arrays[band], valid = grid.read(index, col, row)
                _check_valid(band, valid)
        footprint = _footprint(grid, col, row)
    bands = _finish(sensor, arrays, notes)
    return PatchRecord(sensor=sensor, bands=bands, name=path.stem, footprint=footprint, notes=notes,
                       meta={"window": (col, row), "grid_size": (grid.width, grid.height)})


# -------------------------------------------------------------------------------- band-file sets


def _group_band_files(files: Sequence[Path], notes: list[str]) -> tuple[str, dict[str, Path]]:
    """Patch name and band -> file of `<name>_<band>.tif` files (one patch, each band once)."""
    names, found = set(), {}
    for file in files:
        parsed = split_band_file_name(file.name)
        if parsed is None:
            raise InputError(f"{file.name} is not named like a BigEarthNet band file (<name>_B02.tif, "
                             "<name>_VV.tif, ...); rename it, or upload one multi-band GeoTIFF")
        name, band = parsed
        if band in found:
            raise InputError(f"band {band} is given twice ({found[band].name}, {file.name}); "
                             "upload each band once")
        names.add(name)
        found[band] = file
    if len(names) > 1:
        raise InputError(f"the files belong to more than one patch ({', '.join(sorted(names))}); "
                         "upload the band files of one patch")
    _drop_ignored(list(found), notes)
    return names.pop(), {b: f for b, f in found.items() if b not in IGNORED_BANDS}


def _read_band_files(files: Sequence[Path], window: Any) -> PatchRecord:
    notes: list[str] = []
    name, found = _group_band_files(files, notes)
    sensor = sensor_of_bands(set(found))
    order = [b for b in STORED_BANDS[sensor] if b in found]
    with contextlib.ExitStack() as stack:
        datasets = {b: stack.enter_context(_open_raster(found[b])) for b in order}
        for band, dataset in datasets.items():
            if dataset.count != 1:
                raise InputError(f"{found[band].name} has {dataset.count} bands; a band file named "
                                 f"like <name>_{band}.tif must hold exactly one band")
        if all(d.width == d.height == BANDS[b].native_pixels for b, d in datasets.items()):
            _place_window(PATCH_PIXELS, PATCH_PIXELS, window, name)  # only 0,0 fits a patch
            arrays, footprint = _read_native(datasets, found, notes)
            meta = {"window": (0, 0), "grid_size": (PATCH_PIXELS, PATCH_PIXELS)}
        else:
            arrays, footprint, meta = _read_band_windows(datasets, found, window, name, notes)
    bands = _finish(sensor, arrays, notes)
    return PatchRecord(sensor=sensor, bands=bands, name=name, footprint=footprint, notes=notes, meta=meta)


def _read_native(datasets: dict[str, Any], found: dict[str, Path],
                 notes: list[str]) -> tuple[dict[str, np.ndarray], Footprint | None]:
    """Band files already of BigEarthNet size: kept as they are."""
    arrays = {}
    for band, dataset in datasets.items():
        with _raster_errors(found[band].name):
            arrays[band] = dataset.read(1)
            _check_valid(band, dataset.read_masks(1) > 0)
    reference = datasets[_reference_band(datasets)]
    if not _georeferenced(reference):
        notes.append("no georeference: location unknown")
        return arrays, None
    epsg = _epsg_of(reference.crs)
    if epsg is None or not CRS.from_epsg(epsg).utm_zone:
        notes.append("the files are not in a UTM coordinate system: footprint unknown")
        return arrays, None
    return arrays, footprint_from_transform(reference.transform, reference.crs,
                                            reference.width, reference.height)


def _reference_band(datasets: dict[str, Any]) -> str:
    """The first 10 m band: it defines the window (sensor_of_bands guarantees one exists)."""
    return next(b for b in datasets if BANDS[b].resolution_m == _TARGET_M)


def _read_band_windows(datasets: dict[str, Any], found: dict[str, Path], window: Any, name: str,
                       notes: list[str]) -> tuple[dict[str, np.ndarray], Footprint | None, dict]:
    """Band files of any size/CRS: each brought to the 10 m grid, cut where the 10 m band is cut."""
    with contextlib.ExitStack() as stack:
        ref_band = _reference_band(datasets)
        with _raster_errors(found[ref_band].name):
            reference = _grid_10m(datasets[ref_band], stack, notes, band=ref_band)
        epsg = _epsg_of(reference.crs) if reference.crs is not None else None
        col, row = _place_window(reference.width, reference.height, window, name)
        _window_note(notes, col, row, reference.width, reference.height)
        arrays = {}
        for band, dataset in datasets.items():
            with _raster_errors(found[band].name):
                grid = _grid_10m(dataset, stack, notes, band=band, epsg=epsg)
                c, r = _matching_offset(reference, grid, col, row, found[band].name)
                arrays[band], valid = grid.read(1, c, r)
            _check_valid(band, valid)
        meta = {"window": (col, row), "grid_size": (reference.width, reference.height)}
        return arrays, _footprint(reference, col, row), meta


def _matching_offset(reference: _Grid, grid: _Grid, col: int, row: int, name: str) -> tuple[int, int]:
    """(col, row) in `grid` of the reference window's corner (files may cover different extents)."""
    if reference.transform is not None and grid.transform is not None:
        x, y = reference.transform @ (col, row)
        c, r = (round(v) for v in ~grid.transform @ (x, y))
    else:
        c, r = col, row  # without georeference the files are taken to cover the same area
    if not (0 <= c <= grid.width - PATCH_PIXELS and 0 <= r <= grid.height - PATCH_PIXELS):
        raise InputError(f"{name} does not cover the chosen window (it is {grid.width}x{grid.height} "
                         "pixels at 10 m); upload band files of the same area")
    return c, r


# ------------------------------------------------------------------------------------------- zips


def _read_zip(path: Path, window: Any) -> PatchRecord:
    """One patch folder from a zip, extracted member by member into a temporary directory."""
    _place_window(PATCH_PIXELS, PATCH_PIXELS, window, path.name)  # a patch is one window
    try:
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory(prefix="upload-") as tmp:
            members = _zip_members(archive, path.name)
            for info, target in members:
                _extract_member(archive, info, Path(tmp) / target, path.name)
            for _, target in members:
                if split_band_file_name(target):
                    _check_band_member(Path(tmp) / target)
            with _raster_errors(path.name):
                record = read_patch_folder(tmp, source="upload")
    except InputError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as error:
        raise InputError(f"{path.name} is not a readable zip archive ({error}); zip the patch "
                         "folder again") from error
    record.notes.append(f"read BigEarthNet patch folder {record.name} from {path.name}")
    record.bands = _finish(record.sensor, record.bands, record.notes)
    record.meta.update({"window": (0, 0), "grid_size": (PATCH_PIXELS, PATCH_PIXELS)})
    return record


def _check_band_member(path: Path) -> None:
    """A TIFF of at most BigEarthNet size: read_patch_folder reads whole bands, and a tiny
    compressed TIFF can declare a huge raster."""
    band = split_band_file_name(path.name)[1]  # type: ignore[index]
    if band in IGNORED_BANDS:
        return
    with _open_raster(path) as dataset:
        expected = BANDS[band].native_pixels
        if (dataset.width, dataset.height) != (expected, expected):
            raise InputError(f"{path.name} is {dataset.width}x{dataset.height} pixels; a BigEarthNet "
                             f"{band} band is {expected}x{expected}: zip a BigEarthNet patch folder")


def _zip_members(archive: zipfile.ZipFile, name: str) -> list[tuple[zipfile.ZipInfo, str]]:
    """(member, file name to extract it as) for the band files and labels JSON of the one patch.

    Everything is checked before anything is extracted: names, sizes, compression and patch count.
    """
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(f"{name} holds {len(infos)} entries; zip one patch folder (a dozen files)")
    for info in infos:
        if _unsafe_member_name(info.filename):
            raise InputError(f"{name} holds a member named {info.filename!r} (an absolute path or '..' "
                             "that points outside the archive); refused: zip the patch folder again "
                             "with relative paths")
        if _is_symlink(info) and not _is_junk(info.filename):
            raise InputError(f"{name} holds a symbolic link {info.filename!r} (it could point at any file "
                             "on this machine); refused: zip the files themselves, not links to them")
    files = [i for i in infos if not i.is_dir() and not _is_junk(i.filename)]
    if not files:
        raise InputError(f"{name} is an empty zip archive; zip one BigEarthNet patch folder "
                         "(its band GeoTIFFs)")
    _check_zip_sizes(files, name)
    return _one_patch_members(files, name)


def _unsafe_member_name(member: str) -> bool:
    posix = member.replace("\\", "/")
    return (posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) is not None
            or ".." in PurePosixPath(posix).parts)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def _is_junk(member: str) -> bool:
    """macOS Finder adds __MACOSX/ copies and ._ files; they look like band files but are not."""
    parts = PurePosixPath(member.replace("\\", "/")).parts
    return "__MACOSX" in parts or parts[-1].startswith("._")


def _check_zip_sizes(files: Sequence[zipfile.ZipInfo], name: str) -> None:
    expanded = sum(i.file_size for i in files)
    packed = sum(i.compress_size for i in files)
    if expanded > MAX_UPLOAD_BYTES:
        raise InputError(f"{name} expands to {_mib(expanded)}, over the {_mib(MAX_UPLOAD_BYTES)} "
                         "limit; zip one patch folder only")
    if expanded > _ZIP_RATIO_FLOOR and expanded > MAX_ZIP_RATIO * max(packed, 1):
        raise InputError(f"{name} is compressed {expanded / max(packed, 1):.0f}:1, which looks like "
                         "a zip bomb; refused: zip the patch folder again")
    if any(i.flag_bits & 0x1 for i in files):
        raise InputError(f"{name} is password-protected; zip the patch folder without a password")


def _one_patch_members(files: Sequence[zipfile.ZipInfo],
                       name: str) -> list[tuple[zipfile.ZipInfo, str]]:
    """The members of the single patch folder; more than one patch (or folder) is refused."""
    patches: dict[tuple[str, str], list[tuple[zipfile.ZipInfo, str]]] = {}
    for info in files:
        member = PurePosixPath(info.filename.replace("\\", "/"))
        parsed = split_band_file_name(member.name)
        if parsed:
            patches.setdefault((str(member.parent), parsed[0]), []).append((info, member.name))
    if not patches:
        raise InputError(f"{name} holds no BigEarthNet band GeoTIFFs (<name>_B02.tif, <name>_VV.tif, "
                         "...); zip one patch folder")
    if len(patches) > 1:
        found = ", ".join(sorted(f"{folder}/{patch}" if folder != "." else patch
                                 for folder, patch in patches))
        raise InputError(f"{name} holds more than one patch ({found}); zip one patch folder per upload")
    (folder, patch), members = next(iter(patches.items()))
    targets = [target.lower() for _, target in members]
    if len(set(targets)) != len(targets):
        raise InputError(f"{name} holds a band of {patch} twice; zip one patch folder")
    labels = f"{folder}/{patch}_labels_metadata.json" if folder != "." else f"{patch}_labels_metadata.json"
    members += [(i, f"{patch}_labels_metadata.json") for i in files
                if i.filename.replace("\\", "/") == labels and i.file_size <= _MAX_JSON_BYTES]
    return members


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    """Copy one member to `target` (a name we chose), reading no more than it declared."""
    written = 0
    with archive.open(info) as source, target.open("wb") as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > info.file_size or written > MAX_UPLOAD_BYTES:
                raise InputError(f"{name}: member {info.filename!r} expands beyond its declared size; "
                                 "refused as a possible zip bomb")
            sink.write(chunk)


# ------------------------------------------------------------------------- values, units, sizes


def _finish(sensor: str, arrays: dict[str, np.ndarray], notes: list[str]) -> dict[str, np.ndarray]:
    """Checked, unit-converted, native-size arrays in BigEarthNet dtypes, in stored band order."""
    for band, array in arrays.items():
        _check_values(band, array)
    if sensor == "s1":
        arrays = _s1_to_db(arrays, notes)
    else:
        arrays = _s2_scaled(arrays, notes)
    out = {}
    for band in STORED_BANDS[sensor]:
        if band in arrays:
            native = _to_native_size(band, arrays[band].astype(np.float64))
            out[band] = native.astype(np.float32) if sensor == "s1" else _to_uint16(native)
    return out


def _check_values(band: str, array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        raise InputError(f"band {band} holds NaN or infinite values in the chosen window; fill them, or "
                         "choose a window without them")
    if not array.any():
        raise InputError(f"band {band} is all zero in the chosen window (no data there); choose "
                         "another window or check the export")


def _s1_to_db(arrays: dict[str, np.ndarray], notes: list[str]) -> dict[str, np.ndarray]:
    """dB passes; linear power (no negatives, median well below 1: typ. 0.001-0.5) -> 10*log10."""
    values = np.concatenate([a.ravel() for a in arrays.values()]).astype(np.float64)
    median = float(np.median(values))
    if values.min() >= 0 and median > _DB_MEDIAN_MAX:
        raise InputError(f"the S1 values (median {median:.3g}) look like neither backscatter in dB "
                         "(typ. -35..+5) nor linear power (typ. 0.001-0.5), perhaps amplitude or digital "
                         "numbers; calibrate to sigma0 (dB or linear) before uploading")
    if values.min() < 0 or median >= 1:
        return arrays
    notes.append(f"converted linear power to dB (10*log10; values below {_LINEAR_FLOOR:g} clipped "
                 "to it first)")
    return {b: 10 * np.log10(np.maximum(a.astype(np.float64), _LINEAR_FLOOR)) for b, a in arrays.items()}


def _s2_scaled(arrays: dict[str, np.ndarray], notes: list[str]) -> dict[str, np.ndarray]:
    """Reflectance as 0-1 floats (common in exports) -> BigEarthNet's reflectance x 10000."""
    if all(np.issubdtype(a.dtype, np.integer) for a in arrays.values()):
        return arrays
    if max(float(np.max(a)) for a in arrays.values()) > 2:
        return arrays  # floats already in 0-10000 units
    notes.append("scaled reflectance from 0-1 to BigEarthNet's 0-10000")
    return {b: a.astype(np.float64) * 10000 for b, a in arrays.items()}


def _to_native_size(band: str, array: np.ndarray) -> np.ndarray:
    """A 120x120 window of a 20 m / 60 m band -> 60x60 / 20x20 by area averaging."""
    native = BANDS[band].native_pixels
    if array.shape == (native, native):
        return array
    factor = array.shape[0] // native
    return array.reshape(native, factor, native, factor).mean(axis=(1, 3))


def _to_uint16(array: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(array), 0, np.iinfo(np.uint16).max).astype(np.uint16)

"""What an upload must pass before GDAL reads a pixel of it: size limits, magic bytes (TIFF only: GDAL
would also open PNGs, JPEGs and VRT XML pointing at other files), and rasters that declare too many
pixels or are pictures rather than Sentinel bands. `MAX_UPLOAD_BYTES` is read here at call time (and by
`zips`), so it is the one place the limit lives; it bounds each file and all files of one upload together.

A compressed GeoTIFF of a few MB can declare a whole Sentinel-2 tile (10980 x 10980 x 12 uint16, 2.7 GiB
decoded). Its declared size (width x height x bands x bytes per value) is checked against
`MAX_DECODED_BYTES` before a pixel is decoded: over it, only the chosen window is read (no overview of the
whole file is drawn), and a file whose storage blocks are so large that one window would decode more than
`MAX_BLOCK_BYTES` is refused."""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from csmae_core.bands import PATCH_PIXELS, UPLOAD_DEFAULT_ORDER
from csmae_core.errors import DataNotFoundError, InputError

try:  # GDAL errors that rasterio does not wrap in RasterioError (e.g. raised while reading blocks)
    from rasterio._err import CPLE_BaseError
except ImportError:  # pragma: no cover - private module moved
    CPLE_BaseError = RasterioError

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # cap on an uploaded file / on the expanded size of a zip
MAX_DECODED_BYTES = 256 * 1024 * 1024  # an upload decoded whole (its overview) at most; larger: window by window
MAX_BLOCK_BYTES = 64 * 1024 * 1024  # one storage block (tile or strip) decoded; GDAL decodes whole blocks
MAX_RASTER_SIDE = 20_000  # pixels per side of an upload, as stored and on the 10 m grid (200 km at 10 m):
# a tiny compressed or sparse GeoTIFF can declare 100000 x 100000 pixels, and reading or warping it would not end

_S1_COUNTS = sorted(n for n, (s, _) in UPLOAD_DEFAULT_ORDER.items() if s == "s1")
_S2_COUNTS = sorted(n for n, (s, _) in UPLOAD_DEFAULT_ORDER.items() if s == "s2")
EXPECTED_COUNTS = (f"{'/'.join(map(str, _S1_COUNTS))} (S1) or "
                   f"{'/'.join(map(str, _S2_COUNTS))} (S2) bands")
UPLOAD_FORMS = ("upload a multi-band GeoTIFF, BigEarthNet band GeoTIFFs (<name>_B02.tif, ...) "
                "or a .zip of one BigEarthNet patch folder")
_MAGIC = ((b"\x89PNG", "it is a PNG image"), (b"\xff\xd8\xff", "it is a JPEG image"),
          (b"GIF8", "it is a GIF image"), (b"%PDF", "it is a PDF document"),
          (b"PK\x03\x04", "it is a zip archive"), (b"<", "it is an XML/HTML text file"))
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive's end record
_JP2_MAGIC = b"\x00\x00\x00\x0cjP  "  # the JPEG 2000 signature box (first 8 of its 12 bytes)


# ------------------------------------------------------------------------------------------- sizes


def mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def check_size(name: str, size: int) -> None:
    """Refuse a file of `size` bytes over the upload limit (the one size check of every upload)."""
    if size > MAX_UPLOAD_BYTES:
        raise InputError(f"{name} is larger than the {mib(MAX_UPLOAD_BYTES)} upload limit "
                         f"({size / 2**20:.1f} MiB); crop it first (one patch is only 1200 m x 1200 m)")


def check_total(files: list[tuple[str, int]]) -> None:
    """Refuse an upload whose files (name, size) hold more than the upload limit together."""
    total = sum(size for _, size in files)
    if len(files) > 1 and total > MAX_UPLOAD_BYTES:
        raise InputError(f"the {len(files)} files of this upload hold {total / 2**20:.1f} MiB together, more than "
                         f"the {mib(MAX_UPLOAD_BYTES)} an upload may hold in total (each file, and all files "
                         "dropped at once); upload one patch: one GeoTIFF, its band files, or one .zip")


def check_path(path: str | Path) -> Path:
    """An existing, not-too-large file (DataNotFoundError for a missing one)."""
    file = Path(path)
    if not file.exists():
        raise DataNotFoundError(f"no such file: {file}; check the path or upload it again")
    if not file.is_file():
        raise InputError(f"{file} is a folder, not a file; zip the patch folder or pass its band files")
    check_size(file.name, file.stat().st_size)
    return file


# ------------------------------------------------------------------------------------- magic bytes


def head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(8)
    except OSError as error:
        raise InputError(f"{path.name} cannot be read ({error})") from error


def is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or head(path).startswith(_ZIP_MAGIC)


def check_tiff_header(path: Path) -> str:
    """The GDAL driver of a TIFF (or a JPEG 2000 band file of a SAFE product, `.jp2`); anything else is
    refused before GDAL sees it: GDAL would open PNGs, JPEGs and even VRT XML (which can point at other
    files on this machine)."""
    start = head(path)
    if start.startswith(_TIFF_MAGIC):
        return "GTiff"
    if start.startswith(_JP2_MAGIC) and path.suffix.lower() == ".jp2":
        return "JP2OpenJPEG"
    kind = next((what for magic, what in _MAGIC if start.startswith(magic)),
                "an empty file" if not start else "it does not start with a TIFF header")
    raise InputError(f"{path.name} is not a GeoTIFF ({kind}); {UPLOAD_FORMS}")


# ----------------------------------------------------------------------------------------- rasters


@contextlib.contextmanager
def raster_errors(name: str) -> Iterator[None]:
    """Turn GDAL/rasterio/OS failures on a user's file into an InputError naming the file."""
    try:
        yield
    except InputError:
        raise  # already says what is wrong (DataNotFoundError is an OSError too)
    except (RasterioError, CPLE_BaseError, OSError) as error:
        raise InputError(f"{name} is not a readable GeoTIFF ({error}); the file may be truncated or "
                         "corrupt: export or download it again") from error


@contextlib.contextmanager
def open_raster(path: Path) -> Iterator[Any]:
    """A checked GeoTIFF dataset; read errors inside the block become InputError as well."""
    driver = check_tiff_header(path)
    with raster_errors(path.name), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # said in a note instead
        with rasterio.open(path, driver=driver) as dataset:
            reject_huge(dataset.width, dataset.height, path.name)
            _reject_pictures(dataset, path.name)
            _reject_huge_blocks(dataset, path.name)
            yield dataset


def reject_huge(width: int, height: int, name: str, grid: bool = False) -> None:
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


# ------------------------------------------------------------------------------- decoded sizes


def decoded_bytes(dataset: Any) -> int:
    """Bytes of the whole raster once decoded: width x height x bands x bytes per value."""
    itemsize = max(np.dtype(d).itemsize for d in dataset.dtypes)
    return dataset.width * dataset.height * dataset.count * itemsize


def over_budget(dataset: Any) -> bool:
    """Whether the raster declares more decoded bytes than `MAX_DECODED_BYTES` (read it window by window)."""
    return decoded_bytes(dataset) > MAX_DECODED_BYTES


def declared(dataset: Any, name: str) -> str:
    """'NAME declares WxHxB TYPE pixels (N GiB decoded), more than the M MiB read at once'."""
    size = decoded_bytes(dataset)
    amount = f"{size / 2**30:.1f} GiB" if size >= 2**30 else mib(size)
    return (f"{name} declares {dataset.width}x{dataset.height}x{dataset.count} {dataset.dtypes[0]} pixels "
            f"({amount} decoded), more than the {mib(MAX_DECODED_BYTES)} read at once")


def budget_note(dataset: Any, name: str) -> str:
    """What is done with a raster over the budget (see the module docstring)."""
    return f"{declared(dataset, name)}: only the chosen window is read, and no overview of the whole file is drawn"


def _block_bytes(dataset: Any) -> int:
    rows, cols = dataset.block_shapes[0]
    itemsize = max(np.dtype(d).itemsize for d in dataset.dtypes)
    interleaved = str(getattr(dataset.interleaving, "name", "")).lower() == "pixel"
    return rows * cols * itemsize * (dataset.count if interleaved else 1)


def _reject_huge_blocks(dataset: Any, name: str) -> None:
    if not over_budget(dataset) or _block_bytes(dataset) <= MAX_BLOCK_BYTES:
        return
    raise InputError(f"{declared(dataset, name)}, and stores them in blocks of {mib(_block_bytes(dataset))} each "
                     f"(more than {mib(MAX_BLOCK_BYTES)}), so even one window would decode that much; refused: "
                     "save it tiled (e.g. gdal_translate -co TILED=YES) or crop it first")

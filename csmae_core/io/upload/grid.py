"""The 10 m grid of an upload: rasters that are not 10 m UTM are seen through a virtual warp to 10 m in
their UTM zone; the 120x120 window is placed on that grid (the centre one unless the caller picks), and
its footprint and nodata are checked there."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import aligned_target, calculate_default_transform
from rasterio.warp import transform as warp_points
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from csmae_core.bands import BANDS, PATCH_PIXELS
from csmae_core.errors import InputError
from csmae_core.geo import Footprint, footprint_from_transform, utm_epsg_for
from csmae_core.io.upload.safety import reject_huge

TARGET_M = 10  # the model grid: 10 m pixels


@dataclass
class Grid:
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


def georeferenced(dataset: Any) -> bool:
    return dataset.crs is not None and not dataset.transform.is_identity


def grid_10m(dataset: Any, stack: contextlib.ExitStack, notes: list[str], *,
             band: str | None = None, epsg: int | None = None) -> Grid:
    """The dataset as 10 m pixels: as is, resampled in its own UTM zone, or warped to UTM."""
    if not georeferenced(dataset):
        note_once(notes, "no georeference: location unknown")
        # A single-band file without georeference is taken at its band's native resolution.
        step = TARGET_M / BANDS[band].resolution_m if band else 1.0
        width, height = round(dataset.width / step), round(dataset.height / step)
        reject_huge(width, height, Path(dataset.name).name, grid=True)
        return Grid(dataset, width, height, None, None, step)
    epsg = epsg or _target_epsg(dataset)
    if _is_10m_in(dataset, epsg):
        return Grid(dataset, dataset.width, dataset.height, dataset.transform, dataset.crs)
    vrt = stack.enter_context(_warped_10m(dataset, epsg, notes))
    return Grid(vrt, vrt.width, vrt.height, vrt.transform, vrt.crs, alpha=vrt.count)


def note_once(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def epsg_of(crs: Any) -> int | None:
    try:
        return CRS.from_user_input(crs).to_epsg()
    except Exception:  # pyproj raises CRSError and friends for odd WKT  # noqa: BLE001
        return None


def _target_epsg(dataset: Any) -> int:
    """The raster's own UTM zone when it is in one, else the UTM zone of its centre."""
    epsg = epsg_of(dataset.crs)
    if epsg is not None and CRS.from_epsg(epsg).utm_zone:
        return epsg
    left, bottom, right, top = dataset.bounds
    lons, lats = warp_points(dataset.crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
    return utm_epsg_for(lons[0], lats[0])


def _is_10m_in(dataset: Any, epsg: int) -> bool:
    """North-up 10 m pixels in CRS `epsg` (then windows are read straight from the file)."""
    t = dataset.transform
    return (epsg_of(dataset.crs) == epsg and t.b == 0 and t.d == 0
            and abs(t.a - TARGET_M) < 1e-6 and abs(t.e + TARGET_M) < 1e-6)


@contextlib.contextmanager
def _warped_10m(dataset: Any, epsg: int, notes: list[str]) -> Iterator[WarpedVRT]:
    """A virtual 10 m UTM copy (nothing is written; GDAL warps only the pixels that are read)."""
    dst = f"EPSG:{epsg}"
    native, _, _ = calculate_default_transform(dataset.crs, dst, dataset.width, dataset.height,
                                               *dataset.bounds)
    metres = abs(native.a)  # the source's pixel size expressed in the target UTM metres
    transform, width, height = calculate_default_transform(
        dataset.crs, dst, dataset.width, dataset.height, *dataset.bounds, resolution=TARGET_M)
    transform, width, height = aligned_target(transform, width, height, TARGET_M)
    reject_huge(width, height, Path(dataset.name).name, grid=True)
    source_epsg = epsg_of(dataset.crs)
    if metres < TARGET_M * 0.75:
        resampling = Resampling.average  # clearly finer than 10 m: average, do not alias
    elif source_epsg == epsg:
        resampling = Resampling.nearest  # same grid, coarser pixels: repeat them, invent nothing
    else:
        resampling = Resampling.bilinear
    label = f"EPSG:{source_epsg}" if source_epsg else "the file's coordinate system"
    note_once(notes, f"reprojected from {label} (about {metres:.3g} m pixels) to {dst} at 10 m "
                     f"({resampling.name} resampling)")
    # add_alpha: pixels outside the source's footprint come back masked, not as fake zeros
    with WarpedVRT(dataset, crs=dst, transform=transform, width=width, height=height,
                   resampling=resampling, add_alpha=True) as vrt:
        yield vrt


# ---------------------------------------------------------------------------------------- windows


def place_window(width: int, height: int, window: Any, name: str) -> tuple[int, int]:
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


def window_note(notes: list[str], col: int, row: int, width: int, height: int) -> None:
    if (width, height) != (PATCH_PIXELS, PATCH_PIXELS):
        notes.append(f"window {PATCH_PIXELS}x{PATCH_PIXELS} at {col},{row} of {width}x{height}")


def window_footprint(grid: Grid, col: int, row: int) -> Footprint | None:
    if grid.transform is None:
        return None
    transform = window_transform(Window(col, row, PATCH_PIXELS, PATCH_PIXELS), grid.transform)
    return footprint_from_transform(transform, grid.crs, PATCH_PIXELS, PATCH_PIXELS)


def check_valid(band: str, valid: np.ndarray, why: str | None = None) -> None:
    """BigEarthNet patches have no holes: refuse a window with nodata rather than embed fill values.
    `why`: what made the pixels nodata when no tag did (said in the message)."""
    reason = f" ({why})" if why else ""
    if not valid.any():
        raise InputError(f"band {band} is all nodata in the chosen window{reason}; choose a window over the "
                         "image's data")
    if not valid.all():
        share = 100 * (1 - valid.mean())
        raise InputError(f"band {band}: {max(share, 0.01):.2g}% of the chosen window is nodata{reason}; choose a "
                         "window fully inside the image's data")

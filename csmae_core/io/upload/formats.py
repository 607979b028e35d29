"""One reader per upload form, each returning a BigEarthNet-like `PatchRecord` (its `notes` say what was
done): a multi-band GeoTIFF, a set of single-band files (`<name>_B02.tif`, `B2.tif`, SAFE `.jp2`), or a
zip of one patch folder, of one pair's S1 and S2 folders, of band files or of one GeoTIFF. The files
given are already checked (`staging`)."""
from __future__ import annotations

import contextlib
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS

from csmae_core.bands import BANDS, IGNORED_BANDS, PATCH_PIXELS, STORED_BANDS
from csmae_core.errors import InputError
from csmae_core.geo import Footprint, footprint_from_transform
from csmae_core.io.folders import read_patch_folder, sensor_of_bands
from csmae_core.io.names import split_band_file_name
from csmae_core.io.upload.grid import (
    TARGET_M,
    Grid,
    check_valid,
    epsg_of,
    georeferenced,
    grid_10m,
    place_window,
    window_footprint,
    window_note,
)
from csmae_core.io.upload.naming import band_file_name, band_names, drop_ignored, group_band_files
from csmae_core.io.upload.radiometry import Declaration, declaration
from csmae_core.io.upload.safety import budget_note, open_raster, over_budget, raster_errors
from csmae_core.io.upload.units import finish
from csmae_core.io.upload.zips import extract_member, zip_members
from csmae_core.record import PatchRecord

# ------------------------------------------------------------------------------ multi-band GeoTIFF


def read_multiband(path: Path, window: Any) -> PatchRecord:
    notes: list[str] = []
    with open_raster(path) as dataset, contextlib.ExitStack() as stack:
        naming = band_names(dataset, path.name, notes)
        if over_budget(dataset):
            notes.append(budget_note(dataset, path.name))
        drop_ignored(naming.names, notes)
        used = naming.used()
        sensor = sensor_of_bands({band for _, band in used})
        declared = declaration([(dataset, [i for i, _ in used])], [path.name], naming.s1_unit)
        _declare_b10(declared, naming.names)
        grid = grid_10m(dataset, stack, notes)
        col, row = place_window(grid.width, grid.height, window, path.name)
        window_note(notes, col, row, grid.width, grid.height)
        arrays = {}
        for index, band in used:
            arrays[band], valid = grid.read(index, col, row)
            check_valid(band, valid)
        footprint = window_footprint(grid, col, row)
    bands = finish(sensor, arrays, notes, declared)
    return PatchRecord(sensor=sensor, bands=bands, name=path.stem, footprint=footprint, notes=notes,
                       meta={"window": (col, row), "grid_size": (grid.width, grid.height)})


def _declare_b10(declared: Declaration, names: Sequence[str | None]) -> None:
    if "B10" in names and declared.level is None:
        declared.level, declared.level_source = "1C", "its band B10, the cirrus band only Level-1C products keep"


# -------------------------------------------------------------------------------- band-file sets


def read_band_files(files: Sequence[Path], window: Any) -> PatchRecord:
    notes: list[str] = []
    name, found = group_band_files(files, notes)
    sensor = sensor_of_bands(set(found))
    b10 = ["B10"] if any(band_file_name(f.name) and band_file_name(f.name)[1] == "B10" for f in files) else []
    order = [b for b in STORED_BANDS[sensor] if b in found]
    with contextlib.ExitStack() as stack:
        datasets = {b: stack.enter_context(open_raster(found[b])) for b in order}
        for band, dataset in datasets.items():
            if dataset.count != 1:
                raise InputError(f"{found[band].name} has {dataset.count} bands; a band file named "
                                 f"like <name>_{band}.tif must hold exactly one band")
        if all(d.width == d.height == BANDS[b].native_pixels for b, d in datasets.items()):
            place_window(PATCH_PIXELS, PATCH_PIXELS, window, name)  # only 0,0 fits a patch
            arrays, footprint = _read_native(datasets, found, notes)
            meta = {"window": (0, 0), "grid_size": (PATCH_PIXELS, PATCH_PIXELS)}
        else:
            arrays, footprint, meta = _read_band_windows(datasets, found, window, name, notes)
        declared = declaration([(d, [1]) for d in datasets.values()],
                               [name] + [found[b].name for b in order] + [f.parent.name for f in files])
        _declare_b10(declared, b10)
    bands = finish(sensor, arrays, notes, declared)
    return PatchRecord(sensor=sensor, bands=bands, name=name, footprint=footprint, notes=notes, meta=meta)


def _read_native(datasets: dict[str, Any], found: dict[str, Path],
                 notes: list[str]) -> tuple[dict[str, np.ndarray], Footprint | None]:
    """Band files already of BigEarthNet size: kept as they are."""
    arrays = {}
    for band, dataset in datasets.items():
        with raster_errors(found[band].name):
            arrays[band] = dataset.read(1)
            check_valid(band, dataset.read_masks(1) > 0)
    reference = datasets[_reference_band(datasets)]
    if not georeferenced(reference):
        notes.append("no georeference: location unknown")
        return arrays, None
    epsg = epsg_of(reference.crs)
    if epsg is None or not CRS.from_epsg(epsg).utm_zone:
        notes.append("the files are not in a UTM coordinate system: footprint unknown")
        return arrays, None
    return arrays, footprint_from_transform(reference.transform, reference.crs,
                                            reference.width, reference.height)


def _reference_band(datasets: dict[str, Any]) -> str:
    """The first 10 m band: it defines the window (sensor_of_bands guarantees one exists)."""
    return next(b for b in datasets if BANDS[b].resolution_m == TARGET_M)


def _read_band_windows(datasets: dict[str, Any], found: dict[str, Path], window: Any, name: str,
                       notes: list[str]) -> tuple[dict[str, np.ndarray], Footprint | None, dict]:
    """Band files of any size/CRS: each brought to the 10 m grid, cut where the 10 m band is cut."""
    with contextlib.ExitStack() as stack:
        ref_band = _reference_band(datasets)
        with raster_errors(found[ref_band].name):
            reference = grid_10m(datasets[ref_band], stack, notes, band=ref_band)
        epsg = epsg_of(reference.crs) if reference.crs is not None else None
        col, row = place_window(reference.width, reference.height, window, name)
        window_note(notes, col, row, reference.width, reference.height)
        arrays = {}
        for band, dataset in datasets.items():
            if over_budget(dataset):
                notes.append(budget_note(dataset, found[band].name))
            with raster_errors(found[band].name):
                grid = grid_10m(dataset, stack, notes, band=band, epsg=epsg)
                c, r = _matching_offset(reference, grid, col, row, found[band].name)
                arrays[band], valid = grid.read(1, c, r)
            check_valid(band, valid)
        meta = {"window": (col, row), "grid_size": (reference.width, reference.height)}
        return arrays, window_footprint(reference, col, row), meta


def _matching_offset(reference: Grid, grid: Grid, col: int, row: int, name: str) -> tuple[int, int]:
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


def read_zip(path: Path, window: Any) -> list[PatchRecord]:
    """The patch of a zip: one patch folder (or the S1 and S2 folders of one pair: two records), or one
    multi-band GeoTIFF; extracted member by member into a temporary directory."""
    place_window(PATCH_PIXELS, PATCH_PIXELS, window, path.name)  # a patch is one window
    try:
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory(prefix="upload-") as tmp:
            plan = zip_members(archive, path.name)
            if plan.geotiff is not None:
                return [_read_zipped_geotiff(archive, plan.geotiff, Path(tmp), path.name)]
            if plan.band_files:
                return [_read_zipped_band_files(archive, plan, Path(tmp) / plan.folder, path.name)]
            return [_read_zipped_folder(archive, members, Path(tmp) / str(i), path.name)
                    for i, members in enumerate(plan.patches)]
    except InputError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as error:
        raise InputError(f"{path.name} is not a readable zip archive ({error}); zip the patch "
                         "folder again") from error


def _read_zipped_geotiff(archive: zipfile.ZipFile, member, tmp: Path, zip_name: str) -> PatchRecord:
    info, target = member
    extract_member(archive, info, tmp / target, zip_name)
    record = read_multiband(tmp / target, None)
    record.name = Path(info.filename).stem
    record.notes.append(f"read the GeoTIFF {info.filename} from {zip_name}")
    return record


def _read_zipped_band_files(archive: zipfile.ZipFile, plan, folder: Path, zip_name: str) -> PatchRecord:
    """SSL4EO / Major-TOM / SAFE band files: the folder they are extracted to keeps the zip folder's name."""
    folder.mkdir()
    for info, target in plan.band_files:
        extract_member(archive, info, folder / target, zip_name)
    record = read_band_files([folder / target for _, target in plan.band_files], None)
    record.notes.append(f"read the band files of {plan.folder} from {zip_name}")
    return record


def _read_zipped_folder(archive: zipfile.ZipFile, members, folder: Path, zip_name: str) -> PatchRecord:
    folder.mkdir()
    for info, target in members:
        extract_member(archive, info, folder / target, zip_name)
    for _, target in members:
        if split_band_file_name(target):
            _check_band_member(folder / target)
    with raster_errors(zip_name):
        record = read_patch_folder(folder, source="upload")
    record.notes.append(f"read BigEarthNet patch folder {record.name} from {zip_name}")
    declared = declaration([], [record.name, zip_name])
    record.bands = finish(record.sensor, record.bands, record.notes, declared)
    record.meta.update({"window": (0, 0), "grid_size": (PATCH_PIXELS, PATCH_PIXELS)})
    return record


def _check_band_member(path: Path) -> None:
    """A TIFF of at most BigEarthNet size: read_patch_folder reads whole bands, and a tiny
    compressed TIFF can declare a huge raster."""
    band = split_band_file_name(path.name)[1]  # type: ignore[index]
    if band in IGNORED_BANDS:
        return
    with open_raster(path) as dataset:
        expected = BANDS[band].native_pixels
        if (dataset.width, dataset.height) != (expected, expected):
            raise InputError(f"{path.name} is {dataset.width}x{dataset.height} pixels; a BigEarthNet "
                             f"{band} band is {expected}x{expected}: zip a BigEarthNet patch folder")

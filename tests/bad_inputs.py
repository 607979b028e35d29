"""The bad-input corpus: malformed and hostile inputs, generated into a temporary folder.

Every case is built with code from tiny real-format data (the real fixtures of tests/data and the demo
assets, copied first, never modified; rasterio, zipfile, lmdb, pickle, pandas, torch.save, PIL) and
names the library entry point that must refuse it, the csmae_core error class it must raise and
fragments of the message (what was wrong, what to do). Hostile cases carry a command that would
create a marker file: the marker must never appear.

    python -m tests.bad_inputs OUT_DIR            # write the corpus, run every case, print the table
    python -m tests.bad_inputs --markdown [OUT_DIR]   # the same table as Markdown (docs/HARDENING.md)

tests/test_bad_inputs.py runs the corpus at the library level, through the CLI and in the app.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
ASSETS = ROOT / "assets"
V1_S1 = DATA / "v1" / "BigEarthNet-S1-v1.0" / "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48"
V1_S2 = DATA / "v1" / "BigEarthNet-v1.0" / "S2A_MSIL2A_20170613T101031_87_48"
S1_NAME, S2_NAME = V1_S1.name, V1_S2.name
RICO_PAIR = DATA / "rico_pair_lmdb"
CATEGORIES = ("upload", "archive", "metadata", "model", "bundle", "config")


# ---------------------------------------------------------------------------------------- the cases


@dataclass
class Case:
    """One bad input. `run()` calls the library entry point, which must raise `error` whose message
    holds every fragment of `message`. `marker`: a file the input tries to create (must never exist).
    `upload`: the files to feed the search page's uploader (upload cases), `sensor` its sensor choice.
    `cli`: arguments of `python -m csmae_core inspect` that must exit 2 with one `error:` line."""

    id: str
    category: str
    description: str
    entry: str
    error: type
    message: tuple[str, ...]
    files: list[Path] = field(default_factory=list)
    run: Callable[[], Any] = field(default=lambda: None, repr=False)
    marker: Path | None = None
    upload: list[Path] | None = None
    sensor: str | None = None
    cli: list[str] | None = None
    open_issue: str | None = None  # why the library does not give the clear error yet (tests xfail strictly)


@dataclass
class _Spec:
    id: str
    category: str
    description: str
    entry: str
    error: str  # name of the error class (resolved lazily: importing csmae_core is not needed to list)
    message: tuple[str, ...]
    build: Callable[["_Builder", Path], dict]
    hostile: bool = False
    open_issue: str | None = None


SPECS: list[_Spec] = []


def case(id: str, category: str, description: str, entry: str, error: str, *message: str,
         hostile: bool = False, open_issue: str | None = None):
    """Register a case generator: build(b, folder) writes the inputs into `folder` and returns the
    Case fields it sets (files, run, upload, sensor, cli)."""
    assert category in CATEGORIES, category

    def register(build):
        assert all(s.id != id for s in SPECS), id
        SPECS.append(_Spec(id, category, description, entry, error, tuple(message), build, hostile, open_issue))
        return build
    return register


def case_ids() -> list[str]:
    return [s.id for s in SPECS]


def error_class(name: str) -> type:
    from csmae_core import errors
    from csmae_core.errors import BundleError
    from csmae_core.errors import CheckpointError

    known = {"BundleError": BundleError, "CheckpointError": CheckpointError}
    return known.get(name) or getattr(errors, name)


# ------------------------------------------------------------------------------- shared builders


class _Builder:
    """Helpers shared by the generators (real fixtures read once)."""

    def __init__(self, out: Path):
        self.out = out
        self.markers = out / "markers"
        self.markers.mkdir(parents=True, exist_ok=True)
        self._s1 = self._s2 = None
        self._checkpoint = None

    # -- real rasters
    def s1_real(self) -> tuple[np.ndarray, dict]:
        """(2, 120, 120) float32 dB of the real v1 S1 patch and its georeference."""
        import rasterio

        if self._s1 is None:
            bands = []
            for pol in ("VV", "VH"):
                with rasterio.open(V1_S1 / f"{S1_NAME}_{pol}.tif") as dataset:
                    bands.append(dataset.read(1))
                    geo = {"crs": dataset.crs, "transform": dataset.transform}
            self._s1 = (np.stack(bands).astype(np.float32), geo)
        return self._s1

    def s2_real(self) -> tuple[dict[str, np.ndarray], dict]:
        """Every real v1 S2 band brought to 120x120 (20/60 m bands repeated), uint16."""
        import rasterio

        if self._s2 is None:
            bands = {}
            for path in sorted(V1_S2.glob("*.tif")):
                band = path.stem.rsplit("_", 1)[1]
                with rasterio.open(path) as dataset:
                    array = dataset.read(1)
                    if dataset.width == 120:
                        geo = {"crs": dataset.crs, "transform": dataset.transform}
                factor = 120 // array.shape[0]
                bands[band] = np.repeat(np.repeat(array, factor, 0), factor, 1).astype(np.uint16)
            self._s2 = (bands, geo)
        return self._s2

    def s2_stack(self, names: Sequence[str]) -> np.ndarray:
        bands, _ = self.s2_real()
        return np.stack([bands[n] for n in names])

    def tif(self, path: Path, data: np.ndarray, geo: dict | None = None, descriptions=None,
            **profile) -> Path:
        import rasterio

        data = data if data.ndim == 3 else data[None]
        options = {"driver": "GTiff", "count": data.shape[0], "height": data.shape[1],
                   "width": data.shape[2], "dtype": data.dtype.name, **(geo or {}), **profile}
        with rasterio.open(path, "w", **options) as dataset:
            dataset.write(data)
            for index, text in enumerate(descriptions or [], start=1):
                dataset.set_band_description(index, text)
        return path

    def s1_tif(self, path: Path, data: np.ndarray | None = None, **profile) -> Path:
        real, geo = self.s1_real()
        return self.tif(path, real if data is None else data, geo, ("VV", "VH"), **profile)

    def patch_folder(self, folder: Path, source: Path = V1_S2) -> Path:
        """A copy of a real v1 patch folder (band GeoTIFFs + labels JSON)."""
        shutil.copytree(source, folder)
        return folder

    def zip_of(self, path: Path, members: dict[str, bytes | Path], **kwargs) -> Path:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, **kwargs) as archive:
            for name, content in members.items():
                archive.writestr(name, content.read_bytes() if isinstance(content, Path) else content)
        return path

    def patch_members(self, prefix: str = S2_NAME) -> dict[str, Path]:
        return {f"{prefix}/{p.name}": p for p in sorted(V1_S2.iterdir())}

    # -- hostile payloads
    def marker(self, case_id: str) -> Path:
        return self.markers / case_id

    def touch_command(self, case_id: str) -> str:
        return f"touch {self.marker(case_id)}"

    # -- model and bundle material
    def tiny_checkpoint(self, path: Path) -> Path:
        """A tiny but complete project-format checkpoint (written by csmae_core itself)."""
        import torch

        from csmae_core.models.csmae.checkpoint import Checkpoint, save_checkpoint
        from csmae_core.models.csmae.config import CSMAEConfig
        from csmae_core.models.csmae.model import CSMAEEncoder

        if self._checkpoint is None:
            torch.manual_seed(0)
            config = CSMAEConfig(size="tiny", embed_dim=32, num_heads=2, specific_depth=1, shared_depth=1,
                                 decoder_dim=32, decoder_heads=2, decoder_depth=1)
            self._checkpoint = self.out / "_tiny_model.pt"
            save_checkpoint(Checkpoint(config, CSMAEEncoder(config).state_dict(), card={"name": "tiny"}),
                            self._checkpoint)
        shutil.copyfile(self._checkpoint, path)
        return path

    def tiny_payload(self) -> dict:
        import torch

        if self._checkpoint is None:
            self.tiny_checkpoint(self.out / "_tiny_copy.pt")
        return torch.load(self._checkpoint, weights_only=True)

    def bundle_copy(self, folder: Path, source: str = "demo") -> Path:
        """A copy of a committed demo bundle, in `folder`/<source>."""
        return Path(shutil.copytree(ASSETS / "bundles" / source, folder / source))

    def rewrite_manifest(self, folder: Path, **changes) -> None:
        """Change files of a bundle copy and record their new checksums, as a forger would."""
        from csmae_core.retrieval.bundle import sha256_file

        manifest = json.loads((folder / "manifest.json").read_text())
        manifest.update(changes)
        for name in manifest.get("files", {}):
            if (folder / name).is_file():
                manifest["files"][name] = sha256_file(folder / name)
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


class _RunsCode:
    """A pickle payload: unpickling calls `function(*args)` (e.g. os.system('touch marker'))."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _lmdb(folder: Path, entries: dict[str, bytes]) -> Path:
    import lmdb

    with lmdb.open(str(folder), map_size=8 * 2**20) as env, env.begin(write=True) as txn:
        for key, value in entries.items():
            txn.put(key.encode(), value)
    return folder


def _safetensors(arrays: dict[str, np.ndarray]) -> bytes:
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v) for k, v in arrays.items()})


def _upload(paths: Sequence[Path], sensor: str | None = None):
    from csmae_core.io.upload import read_upload

    return lambda: read_upload(list(paths) if len(paths) > 1 else paths[0], sensor=sensor)


def _upload_case(paths: Sequence[Path], sensor: str | None = None, cli: bool = True) -> dict:
    paths = list(paths)
    args = [str(p) for p in paths] + (["--sensor", sensor] if sensor else [])
    return {"files": paths, "run": _upload(paths, sensor), "upload": paths, "sensor": sensor,
            "cli": args if cli else None}


# ------------------------------------------------------------------------------- upload: GeoTIFFs

_TIF = "read_upload(path)"
_TIFS = "read_upload(paths)"


@case("tif-truncated", "upload", "real S1 2-band GeoTIFF cut to 40 % of its bytes", _TIF, "InputError",
      "is not a readable GeoTIFF", "truncated or corrupt", "export or download it again")
def _(b, d):
    path = b.s1_tif(d / "s1_truncated.tif")
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * 0.4)])
    return _upload_case([path])


@case("tif-band-file-truncated", "upload", "real S2 band-file set (12 files) whose B03 file is cut in half",
      _TIFS, "InputError", f"{S2_NAME}_B03.tif is not a readable GeoTIFF", "export or download it again")
def _(b, d):
    folder = b.patch_folder(d / "bands")
    b03 = folder / f"{S2_NAME}_B03.tif"
    b03.write_bytes(b03.read_bytes()[:b03.stat().st_size // 2])
    return _upload_case(sorted(folder.glob("*.tif")))


@case("tif-corrupt-tiles", "upload", "tiled, deflate-compressed real S1 GeoTIFF with garbage bytes over its tiles",
      _TIF, "InputError", "is not a readable GeoTIFF", "export or download it again")
def _(b, d):
    path = b.s1_tif(d / "s1_corrupt.tif", tiled=True, blockxsize=64, blockysize=64, compress="deflate")
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start:start + 4096] = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return _upload_case([path])


@case("tif-zero-bytes", "upload", "empty file named .tif", _TIF, "InputError",
      "is not a GeoTIFF (an empty file)", "upload a multi-band GeoTIFF")
def _(b, d):
    path = d / "empty.tif"
    path.write_bytes(b"")
    return _upload_case([path])


@case("tif-text", "upload", "text file renamed .tif", _TIF, "InputError",
      "is not a GeoTIFF (it does not start with a TIFF header)", "upload a multi-band GeoTIFF")
def _(b, d):
    path = d / "notes.tif"
    path.write_text("band,value\nB02,1234\n")
    return _upload_case([path])


@case("tif-png16", "upload", "16-bit greyscale PNG (real B02 values) renamed .tif", _TIF, "InputError",
      "is not a GeoTIFF (it is a PNG image)", "upload a multi-band GeoTIFF")
def _(b, d):
    from PIL import Image

    path = d / "b02_png16.tif"
    Image.fromarray(b.s2_stack(["B02"])[0].astype(np.uint16)).save(path, format="PNG")
    assert path.read_bytes()[:4] == b"\x89PNG"
    return _upload_case([path])


@case("tif-vrt-xml", "upload", "GDAL VRT (XML) renamed .tif that points at /etc/passwd", _TIF, "InputError",
      "is not a GeoTIFF (it is an XML/HTML text file)", "upload a multi-band GeoTIFF", hostile=True)
def _(b, d):
    path = d / "points_elsewhere.tif"
    path.write_text('<VRTDataset rasterXSize="120" rasterYSize="120"><VRTRasterBand dataType="Byte" band="1">'
                    '<SimpleSource><SourceFilename relativeToVRT="0">/etc/passwd</SourceFilename>'
                    '<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>\n')
    return _upload_case([path])


@case("tif-header-only", "upload", "TIFF magic bytes followed by random garbage", _TIF, "InputError",
      "is not a readable GeoTIFF", "export or download it again")
def _(b, d):
    path = d / "header_only.tif"
    path.write_bytes(b"II*\x00" + np.random.default_rng(2).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    return _upload_case([path])


@case("tif-3-bands-uint16", "upload", "real S2 B04/B03/B02 as a 3-band uint16 GeoTIFF", _TIF, "InputError",
      "has 3 bands; expected 2 (S1) or 10/12/13 (S2) bands", "single-band files named like <name>_B02.tif")
def _(b, d):
    return _upload_case([b.tif(d / "rgb16.tif", b.s2_stack(["B04", "B03", "B02"]), b.s2_real()[1])])


@case("tif-rgb-picture", "upload", "3-band 8-bit RGB GeoTIFF (a picture of the patch)", _TIF, "InputError",
      "is an 8-bit RGB image (a picture, not Sentinel bands)", "upload the bands themselves")
def _(b, d):
    rgb = np.clip(b.s2_stack(["B04", "B03", "B02"]) / 8, 0, 255).astype(np.uint8)
    return _upload_case([b.tif(d / "picture.tif", rgb, b.s2_real()[1])])


@case("tif-7-bands", "upload", "real S2 bands, 7 of them, in one GeoTIFF", _TIF, "InputError",
      "has 7 bands; expected 2 (S1) or 10/12/13 (S2) bands")
def _(b, d):
    names = ["B02", "B03", "B04", "B05", "B06", "B07", "B08"]
    return _upload_case([b.tif(d / "seven.tif", b.s2_stack(names), b.s2_real()[1])])


@case("tif-1-band", "upload", "single-band GeoTIFF (real B02) not named like a band file", _TIF, "InputError",
      "has 1 band; expected 2 (S1) or 10/12/13 (S2) bands", "single-band files named like <name>_B02.tif")
def _(b, d):
    return _upload_case([b.tif(d / "just_one.tif", b.s2_stack(["B02"]), b.s2_real()[1])])


_S2_10 = ["B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"]


@case("tif-nan", "upload", "real 10-band S2 (float32) with a NaN block", _TIF, "InputError",
      "band B04 holds NaN or infinite values", "fill them, or choose a window without them")
def _(b, d):
    data = b.s2_stack(_S2_10).astype(np.float32)
    data[2, 40:60, 40:60] = np.nan
    return _upload_case([b.tif(d / "s2_nan.tif", data, b.s2_real()[1])])


@case("tif-inf", "upload", "real S1 (dB) with +inf pixels", _TIF, "InputError",
      "band VH holds NaN or infinite values", "fill them")
def _(b, d):
    data = b.s1_real()[0].copy()
    data[1, :3, :3] = np.inf
    return _upload_case([b.s1_tif(d / "s1_inf.tif", data)])


@case("tif-minus-inf", "upload", "S1 in dB with -inf where the linear power was 0 (10*log10(0))", _TIF,
      "InputError", "band VV holds NaN or infinite values")
def _(b, d):
    data = b.s1_real()[0].copy()
    data[0, 60:, 60:] = -np.inf
    return _upload_case([b.s1_tif(d / "s1_minus_inf.tif", data)])


@case("tif-all-zero", "upload", "10-band S2 GeoTIFF of zeros (an empty export)", _TIF, "InputError",
      "band B02 is all zero in the chosen window (no data there)", "choose another window or check the export")
def _(b, d):
    return _upload_case([b.tif(d / "zeros.tif", np.zeros((10, 120, 120), np.uint16), b.s2_real()[1])])


@case("tif-half-nodata", "upload", "real S1 whose right half is the declared nodata value", _TIF, "InputError",
      "50% of the chosen window is nodata", "choose a window fully inside the image's data")
def _(b, d):
    data = b.s1_real()[0].copy()
    data[:, :, 60:] = -9999
    return _upload_case([b.s1_tif(d / "s1_half_nodata.tif", data, nodata=-9999)])


@case("tif-s1-amplitude", "upload", "S1 as positive amplitudes / digital numbers (neither dB nor linear power)",
      _TIF, "InputError", "look like neither backscatter in dB", "calibrate to sigma0 (dB or linear)")
def _(b, d):
    amplitude = (10 ** (b.s1_real()[0] / 20) * 2000).astype(np.float32)
    return _upload_case([b.s1_tif(d / "s1_amplitude.tif", amplitude)])


@case("tif-s1-complex", "upload", "S1 as complex64 (an SLC product, not GRD backscatter)", _TIF, "InputError",
      "holds complex values", "upload GRD backscatter")
def _(b, d):
    real = b.s1_real()[0]
    return _upload_case([b.s1_tif(d / "s1_slc.tif", (real + 1j * real).astype(np.complex64))])


@case("tif-huge-dimensions", "upload", "S1 GeoTIFF declaring 100000 x 100000 pixels in a few kB (sparse tiles)",
      _TIF, "InputError", "declares 100000x100000 pixels", "crop it first")
def _(b, d):
    import rasterio

    path = d / "huge.tif"
    _, geo = b.s1_real()
    with rasterio.open(path, "w", driver="GTiff", count=2, width=100_000, height=100_000, dtype="float32",
                       tiled=True, blockxsize=4096, blockysize=4096, compress="deflate", sparse_ok=True,
                       **geo):
        pass  # no tile written: the file is a header and an empty tile index
    assert path.stat().st_size < 64 * 1024, path.stat().st_size
    return _upload_case([path])


@case("tif-huge-extent", "upload", "120 x 120 GeoTIFF with 1-degree pixels (13000 km wide on a 10 m grid)",
      _TIF, "InputError", "covers 16859 km x 16756 km", "pixels at 10 m", "crop it first")
def _(b, d):
    from rasterio.transform import from_origin

    geo = {"crs": "EPSG:4326", "transform": from_origin(-60.0, 60.0, 1.0, 1.0)}
    return _upload_case([b.tif(d / "continent.tif", b.s2_stack(_S2_10), geo)])


@case("tif-too-small", "upload", "real S1 cropped to 60 x 60 pixels (smaller than one patch)", _TIF, "InputError",
      "smaller than one 1200 m patch", "upload a larger area")
def _(b, d):
    return _upload_case([b.s1_tif(d / "s1_small.tif", b.s1_real()[0][:, :60, :60].copy())])


@case("tif-wrong-sensor", "upload", "real S1 GeoTIFF uploaded with sensor S2 chosen", "read_upload(path, sensor='s2')",
      "InputError", "the upload holds S1 bands, but sensor S2 was asked for", "upload S2 data or drop the choice")
def _(b, d):
    return _upload_case([b.s1_tif(d / "s1_as_s2.tif")], sensor="s2")


@case("tif-band-files-two-patches", "upload", "real band files of two different patch names", _TIFS, "InputError",
      "the files belong to more than one patch", "upload the band files of one patch")
def _(b, d):
    folder = b.patch_folder(d / "bands")
    other = folder / f"{S2_NAME}_B04.tif"
    other.rename(folder / "S2A_MSIL2A_20170613T101031_87_49_B04.tif")
    return _upload_case(sorted(folder.glob("*.tif")))


@case("tif-band-files-mixed-sensors", "upload", "real S1 VV/VH files together with real S2 band files", _TIFS,
      "InputError", "mix Sentinel-1 and Sentinel-2", "give one sensor")
def _(b, d):
    folder = b.patch_folder(d / "bands")
    for pol in ("VV", "VH"):
        shutil.copyfile(V1_S1 / f"{S1_NAME}_{pol}.tif", folder / f"{S2_NAME}_{pol}.tif")
    return _upload_case(sorted(folder.glob("*.tif")))


@case("zip-with-tif", "upload", "a patch-folder zip uploaded together with a GeoTIFF", _TIFS, "InputError",
      "a .zip must be uploaded on its own")
def _(b, d):
    archive = b.zip_of(d / "patch.zip", b.patch_members())
    return _upload_case([archive, b.s1_tif(d / "s1.tif")])


# ----------------------------------------------------------------------------------- upload: zips

_ZIP = "read_upload(zip)"


@case("zip-bomb-ratio", "upload", "zip whose band member is 20 MiB of zeros packed into ~20 kB", _ZIP, "InputError",
      "which looks like a zip bomb", "refused")
def _(b, d):
    path = d / "bomb_ratio.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open(f"{S2_NAME}/{S2_NAME}_B02.tif", "w") as member:
            block = bytes(2**20)
            for _ in range(20):
                member.write(block)
    return _upload_case([path])


@case("zip-bomb-oversize", "upload", "zip of ~200 kB expanding to 210 MiB (over the upload cap)", _ZIP,
      "InputError", "expands to 210 MiB, over the 200 MiB limit", "zip one patch folder only")
def _(b, d):
    path = d / "bomb_big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open(f"{S2_NAME}/{S2_NAME}_B02.tif", "w", force_zip64=True) as member:
            block = bytes(2**20)
            for _ in range(210):
                member.write(block)
    return _upload_case([path])


@case("zip-path-traversal", "upload", "real patch zip plus a member named ../../evil_B02.tif", _ZIP, "InputError",
      "holds a member named '../../evil_B02.tif'", "points outside the archive", hostile=True)
def _(b, d):
    members = b.patch_members()
    members["../../evil_B02.tif"] = b"II*\x00 would land outside the extraction folder"
    return _upload_case([b.zip_of(d / "traversal.zip", members)])


@case("zip-absolute-path", "upload", "real patch zip plus a member named /tmp/evil_B02.tif", _ZIP, "InputError",
      "holds a member named '/tmp/evil_B02.tif'", "zip the patch folder again with relative paths", hostile=True)
def _(b, d):
    path = b.zip_of(d / "absolute.zip", b.patch_members())
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(zipfile.ZipInfo("/tmp/evil_B02.tif"), b"II*\x00 absolute")
    return _upload_case([path])


@case("zip-symlink", "upload", "patch zip whose B02 member is a symbolic link to /etc/passwd", _ZIP, "InputError",
      "holds a symbolic link", "zip the files themselves", hostile=True)
def _(b, d):
    members = b.patch_members()
    del members[f"{S2_NAME}/{S2_NAME}_B02.tif"]
    path = b.zip_of(d / "symlink.zip", members)
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo(f"{S2_NAME}/{S2_NAME}_B02.tif")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    return _upload_case([path])


@case("zip-two-patches", "upload", "zip of two real patch folders", _ZIP, "InputError",
      "holds more than one patch", "zip one patch folder per upload")
def _(b, d):
    members = b.patch_members()
    for p in sorted(V1_S1.iterdir()):
        members[f"{S1_NAME}/{p.name}"] = p
    return _upload_case([b.zip_of(d / "two.zip", members)])


@case("zip-empty", "upload", "empty zip archive", _ZIP, "InputError", "is an empty zip archive",
      "zip one BigEarthNet patch folder")
def _(b, d):
    path = d / "empty.zip"
    zipfile.ZipFile(path, "w").close()
    return _upload_case([path])


@case("zip-not-zip", "upload", "text file named .zip", _ZIP, "InputError", "is not a readable zip archive",
      "zip the patch folder again")
def _(b, d):
    path = d / "not_a.zip"
    path.write_text("this is not a zip archive\n")
    return _upload_case([path])


@case("zip-truncated", "upload", "real patch-folder zip cut in half (interrupted download)", _ZIP, "InputError",
      "is not a readable zip archive", "zip the patch folder again")
def _(b, d):
    path = b.zip_of(d / "cut.zip", b.patch_members())
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return _upload_case([path])


@case("zip-encrypted", "upload", "real patch zip whose members are flagged as encrypted", _ZIP, "InputError",
      "is password-protected", "without a password")
def _(b, d):
    path = b.zip_of(d / "locked.zip", b.patch_members())
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    directory = data.find(b"PK\x01\x02")
    while directory >= 0:  # set the 'encrypted' bit (0x1) of every central-directory entry
        flags = struct.unpack_from("<H", data, directory + 8)[0]
        struct.pack_into("<H", data, directory + 8, flags | 1)
        directory = data.find(b"PK\x01\x02", directory + 4)
    for info in infos:
        struct.pack_into("<H", data, info.header_offset + 6, info.flag_bits | 1)
    path.write_bytes(bytes(data))
    return _upload_case([path])


@case("zip-huge-member", "upload", "patch zip whose B02 declares 100000 x 100000 pixels (a few kB)", _ZIP,
      "InputError", "declares 100000x100000 pixels", "crop it first")
def _(b, d):
    import rasterio

    huge = d / "huge_B02.tif"
    with rasterio.open(huge, "w", driver="GTiff", count=1, width=100_000, height=100_000, dtype="uint16",
                       tiled=True, blockxsize=4096, blockysize=4096, compress="deflate", sparse_ok=True,
                       **b.s2_real()[1]):
        pass  # no tile written
    members = b.patch_members()
    members[f"{S2_NAME}/{S2_NAME}_B02.tif"] = huge
    return _upload_case([b.zip_of(d / "huge_member.zip", members)])


@case("zip-many-entries", "upload", "zip with 1001 tiny entries", _ZIP, "InputError", "holds 1001 entries",
      "zip one patch folder")
def _(b, d):
    return _upload_case([b.zip_of(d / "many.zip", {f"f{i:04d}.txt": b"x" for i in range(1001)})])


@case("zip-lying-size", "upload", "patch zip whose B02 member says 1 kB but inflates to 8 MiB", _ZIP, "InputError",
      "is not a readable zip archive (Bad CRC-32", "zip the patch folder again", hostile=True)
def _(b, d):
    members = b.patch_members()
    members[f"{S2_NAME}/{S2_NAME}_B02.tif"] = bytes(8 * 2**20)
    path = b.zip_of(d / "lying.zip", members)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{S2_NAME}/{S2_NAME}_B02.tif")
    struct.pack_into("<I", data, info.header_offset + 22, 1024)  # local header: uncompressed size
    name = info.filename.encode()
    directory = data.find(b"PK\x01\x02")
    while data[directory + 46:directory + 46 + len(name)] != name:
        directory = data.find(b"PK\x01\x02", directory + 4)
        assert directory >= 0, "member not in the central directory"
    struct.pack_into("<I", data, directory + 24, 1024)  # central directory: uncompressed size
    path.write_bytes(bytes(data))
    return _upload_case([path])


@case("zip-bad-labels-json", "upload", "real patch zip whose labels_metadata.json is not JSON", _ZIP, "InputError",
      "labels_metadata.json is not valid JSON", "fix or remove the labels file")
def _(b, d):
    members = b.patch_members()
    members[f"{S2_NAME}/{S2_NAME}_labels_metadata.json"] = b'{"labels": ["Arable land", '
    return _upload_case([b.zip_of(d / "bad_json.zip", members)])


# ------------------------------------------------------------------------------------ archives

_OPEN = "open_archive(path)[0]"


def _open_first(path: Path, metadata: Path | None = None):
    from csmae_core.io.detect import open_archive

    return lambda: open_archive(path, metadata)[0]


def _pickle_lmdb(b, d, case_id: str, payload: bytes) -> dict:
    folder = _lmdb(d / "encoder_lmdb", {"S2A_MSIL2A_20170613T101031_1_1": payload})
    return {"files": [folder / "data.mdb"], "run": _open_first(folder), "marker": b.marker(case_id),
            "cli": [str(folder)]}


@case("lmdb-pickle-os-system", "archive", "encoder LMDB whose value pickles os.system('touch marker')", _OPEN,
      "UnsafePickleError", "refused to unpickle posix.system", "Nothing was executed",
      "check where this database comes from", hostile=True)
def _(b, d):
    return _pickle_lmdb(b, d, "lmdb-pickle-os-system", pickle.dumps(_RunsCode(os.system, b.touch_command(
        "lmdb-pickle-os-system"))))


@case("lmdb-pickle-eval", "archive", "encoder LMDB whose value pickles builtins.eval of an os.system call", _OPEN,
      "UnsafePickleError", "refused to unpickle builtins.eval", "Nothing was executed", hostile=True)
def _(b, d):
    code = f"__import__('os').system({b.touch_command('lmdb-pickle-eval')!r})"
    return _pickle_lmdb(b, d, "lmdb-pickle-eval", pickle.dumps(_RunsCode(eval, code)))


@case("lmdb-pickle-popen", "archive", "encoder LMDB whose value pickles subprocess.Popen(['touch', marker])",
      _OPEN, "UnsafePickleError", "refused to unpickle subprocess.Popen", "Nothing was executed", hostile=True)
def _(b, d):
    payload = pickle.dumps(_RunsCode(subprocess.Popen, ["touch", str(b.marker("lmdb-pickle-popen"))]))
    return _pickle_lmdb(b, d, "lmdb-pickle-popen", payload)


@case("lmdb-pickle-protocol-0", "archive", "encoder LMDB whose value is a text (protocol 0) pickle of os.system",
      _OPEN, "UnsafePickleError", "refused to unpickle posix.system", "Nothing was executed", hostile=True)
def _(b, d):
    payload = pickle.dumps(_RunsCode(os.system, b.touch_command("lmdb-pickle-protocol-0")), protocol=0)
    return _pickle_lmdb(b, d, "lmdb-pickle-protocol-0", payload)


@case("lmdb-garbage", "archive", "folder with a data.mdb of random bytes", _OPEN, "InputError",
      "is not a readable LMDB", "copy the database again")
def _(b, d):
    folder = d / "garbage_lmdb"
    folder.mkdir()
    (folder / "data.mdb").write_bytes(np.random.default_rng(3).integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes())
    return {"files": [folder / "data.mdb"], "run": _open_first(folder), "cli": [str(folder)]}


@case("lmdb-empty", "archive", "valid LMDB without a single entry", "read_any([lmdb])", "InputError",
      "holds no entries", "pass an LMDB written by rico-hdl or bigearthnet-encoder")
def _(b, d):
    from csmae_core.io.detect import read_any

    folder = _lmdb(d / "empty_lmdb", {})
    return {"files": [folder / "data.mdb"], "run": lambda: read_any([folder]), "cli": [str(folder)]}


def _rico_case(d: Path, s1: bytes, s2: bytes) -> dict:
    import pandas as pd

    table = pd.read_parquet(RICO_PAIR / "metadata.parquet")
    row = table.iloc[0]
    folder = _lmdb(d / "rico_lmdb", {row["s1_name"]: s1, row["patch_id"]: s2})
    metadata = d / "metadata.parquet"
    table.to_parquet(metadata)
    return {"files": [folder / "data.mdb", metadata], "run": _open_first(folder, metadata),
            "cli": [str(folder), "--key", row["patch_id"]]}


def _rico_values() -> tuple[dict, dict]:
    import lmdb
    import pandas as pd
    from safetensors.numpy import load

    row = pd.read_parquet(RICO_PAIR / "metadata.parquet").iloc[0]
    with lmdb.open(str(RICO_PAIR), readonly=True, lock=False) as env, env.begin() as txn:
        return load(txn.get(row["s1_name"].encode())), load(txn.get(row["patch_id"].encode()))


@case("rico-wrong-shape", "archive", "rico-hdl LMDB (real pair) whose S2 B02 value is 7 x 7",
      "open_archive(path, metadata)[0]", "InputError", "band B02 is 7x7 pixels; a BigEarthNet B02 band is 120x120",
      "rebuild the LMDB with rico-hdl")
def _(b, d):
    s1, s2 = _rico_values()
    s2["B02"] = s2["B02"][:7, :7]
    return _rico_case(d, _safetensors(s1), _safetensors(s2))


@case("rico-missing-band", "archive", "rico-hdl LMDB (real pair) whose S1 value lacks VH",
      "open_archive(path, metadata)[0]", "InputError", "lacks band(s) VH", "rebuild the LMDB with rico-hdl")
def _(b, d):
    s1, s2 = _rico_values()
    del s1["VH"]
    return {**_rico_case(d, _safetensors(s1), _safetensors(s2)), "cli": None}


@case("rico-not-safetensors", "archive", "rico-hdl LMDB (real S1) whose S2 value is random bytes",
      "open_archive(path, metadata)[0]", "InputError", "is not safetensors data", "rebuild the LMDB with rico-hdl")
def _(b, d):
    s1, _ = _rico_values()
    garbage = np.random.default_rng(4).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    return _rico_case(d, _safetensors(s1), garbage)


def _packed(d: Path) -> Path:
    import pandas as pd

    folder = d / "packed"
    folder.mkdir()
    pd.read_parquet(ASSETS / "demo" / "metadata.parquet").head(3).to_parquet(folder / "metadata.parquet")
    return folder


@case("packed-corrupt-arrays", "archive", "packed archive whose patches.safetensors is random bytes", _OPEN,
      "InputError", "patches.safetensors is not readable", "copy or rebuild the archive")
def _(b, d):
    folder = _packed(d)
    (folder / "patches.safetensors").write_bytes(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return {"files": [folder / "patches.safetensors"], "run": _open_first(folder),
            "cli": [str(folder)]}


@case("packed-table-not-parquet", "archive", "packed archive whose metadata.parquet is a CSV", _OPEN, "InputError",
      "metadata.parquet is not a readable parquet file", "copy or rebuild the archive")
def _(b, d):
    folder = _packed(d)
    (folder / "metadata.parquet").write_text("pair_id,s1_name\na,b\n")
    shutil.copyfile(ASSETS / "demo" / "README.md", folder / "patches.safetensors")
    return {"files": [folder / "metadata.parquet"], "run": _open_first(folder), "cli": [str(folder)]}


@case("archive-missing", "archive", "archive folder that does not exist", _OPEN, "DataNotFoundError",
      "no archive folder at", "check the path")
def _(b, d):
    return {"run": _open_first(d / "no_such_archive")}


@case("archive-unknown-folder", "archive", "folder of unrelated files", _OPEN, "InputError",
      "is not an archive this tool reads")
def _(b, d):
    folder = d / "holiday_photos"
    folder.mkdir()
    (folder / "IMG_0001.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    return {"files": [folder], "run": _open_first(folder), "cli": [str(folder)]}


@case("archive-unknown-key", "archive", "real encoder LMDB (copied) asked for a pair it does not hold",
      "read_any([lmdb], key=...)", "MissingKeyError", "no pair 'S2A_NOPE' in this archive", "it holds 1 pairs")
def _(b, d):
    from csmae_core.io.detect import read_any

    folder = d / "encoder_lmdb"
    shutil.copytree(DATA / "encoder_lmdb", folder)
    return {"files": [folder / "data.mdb"], "run": lambda: read_any([folder], key="S2A_NOPE"),
            "cli": [str(folder), "--key", "S2A_NOPE"]}


def _read_folder(folder: Path):
    from csmae_core.io.detect import read_any

    return lambda: read_any([folder])


@case("folder-truncated-band", "archive", "real v1 patch folder whose B03 file is cut in half", "read_any([folder])",
      "InputError", f"{S2_NAME}_B03.tif is not a readable GeoTIFF", "copy or download the patch again")
def _(b, d):
    folder = b.patch_folder(d / S2_NAME)
    b03 = folder / f"{S2_NAME}_B03.tif"
    b03.write_bytes(b03.read_bytes()[:b03.stat().st_size // 2])
    return {"files": [b03], "run": _read_folder(folder), "cli": [str(folder)]}


@case("folder-huge-band", "archive", "real v1 patch folder whose B02 declares 100000 x 100000 pixels (a few kB)",
      "read_any([folder])", "InputError", "declares 100000x100000 pixels", "at most 120x120")
def _(b, d):
    import rasterio

    folder = b.patch_folder(d / S2_NAME)
    b02 = folder / f"{S2_NAME}_B02.tif"
    with rasterio.open(b02, "w", driver="GTiff", count=1, width=100_000, height=100_000, dtype="uint16",
                       tiled=True, blockxsize=4096, blockysize=4096, compress="deflate", sparse_ok=True,
                       **b.s2_real()[1]):
        pass
    return {"files": [b02], "run": _read_folder(folder), "cli": [str(folder)]}


@case("encoder-lmdb-wrong-shape", "archive", "encoder LMDB entry (plain dicts + real v1 arrays) whose B02 is 3 x 3",
      _OPEN, "InputError", "band B02 is 3x3 pixels; a BigEarthNet B02 band is 120x120", "encode the archive again")
def _(b, d):
    import rasterio

    def band(path: Path) -> dict:
        with rasterio.open(path) as dataset:
            return {"data": dataset.read(1)}
    s1 = {f"band{pol}": band(V1_S1 / f"{S1_NAME}_{pol}.tif") for pol in ("VV", "VH")}
    s2 = {f"band{p.stem.rsplit('_', 1)[1][1:]}": band(p) for p in sorted(V1_S2.glob("*.tif"))}
    s2["band02"]["data"] = s2["band02"]["data"][:3, :3].copy()
    payload = pickle.dumps({"s1_patch": s1, "s2_patch": s2, "labels": ["Pastures"]}, protocol=4)
    return {**_pickle_lmdb(b, d, "encoder-lmdb-wrong-shape", payload), "marker": None}


# ------------------------------------------------------------------------------------ metadata


def _reben(path: Path):
    from csmae_core.io.folders import read_reben_metadata

    return lambda: read_reben_metadata(path)


@case("parquet-missing-columns", "metadata", "reBEN metadata.parquet (real row) without s1_name and split",
      "read_reben_metadata(path)", "InputError", "lacks column(s) split, s1_name",
      "a reBEN metadata.parquet has")
def _(b, d):
    import pandas as pd

    path = d / "metadata.parquet"
    pd.read_parquet(RICO_PAIR / "metadata.parquet").drop(columns=["s1_name", "split"]).to_parquet(path)
    return {"files": [path], "run": _reben(path)}


@case("parquet-not-parquet", "metadata", "text file named metadata.parquet", "read_reben_metadata(path)",
      "InputError", "metadata.parquet is not a readable parquet file", "pass the metadata.parquet of the archive")
def _(b, d):
    path = d / "metadata.parquet"
    path.write_text("patch_id,labels\n")
    return {"files": [path], "run": _reben(path)}


@case("parquet-bad-labels", "metadata", "reBEN metadata.parquet (real row) whose labels are numbers",
      "read_reben_metadata(path)", "InputError", "column labels must hold lists of label names")
def _(b, d):
    import pandas as pd

    path = d / "metadata.parquet"
    pd.read_parquet(RICO_PAIR / "metadata.parquet").assign(labels=[7]).to_parquet(path)
    return {"files": [path], "run": _reben(path)}


def _catalogue(path: Path):
    def run():
        from csmae_core.catalogue import read_catalogue

        return read_catalogue(path)
    return run


@case("catalogue-not-json", "metadata", "app catalogue JSON cut mid-way", "csmae_core.read_catalogue(path)",
      "CsmaeError", "is not a valid catalogue", "fix the JSON")
def _(b, d):
    path = d / "catalogue.json"
    path.write_text((ASSETS / "catalogue.json").read_text()[:150])
    return {"files": [path], "run": _catalogue(path)}


@case("catalogue-no-entries", "metadata", "app catalogue with an empty entry list", "csmae_core.read_catalogue(path)",
      "CsmaeError", "lists no models", "add an entry")
def _(b, d):
    path = d / "catalogue.json"
    path.write_text('{"entries": []}')
    return {"files": [path], "run": _catalogue(path)}


@case("catalogue-entry-without-bundle", "metadata", "app catalogue entry naming a model but no bundle",
      "csmae_core.read_catalogue(path)", "CsmaeError", "lacks 'bundle'", "every entry needs")
def _(b, d):
    path = d / "catalogue.json"
    path.write_text(json.dumps({"entries": [{"name": "half", "model": str(ASSETS / "models" / "demo.pt")}]}))
    return {"files": [path], "run": _catalogue(path)}


# ------------------------------------------------------------------------------------ models

_LOAD = "load_model(path)"


def _load(path: Path):
    def run():
        import csmae_core

        return csmae_core.load_model(path, "cpu")
    return run


def _model_case(path: Path, marker: Path | None = None) -> dict:
    return {"files": [path], "run": _load(path), "marker": marker}


@case("ckpt-pickle-os-system", "model", "checkpoint that is a pickle calling os.system('touch marker')", _LOAD,
      "CheckpointError", "has no `state_dict`", "pass a .pt exported by scripts/train.py", hostile=True)
def _(b, d):
    import torch

    path = d / "evil.pt"
    torch.save(_RunsCode(os.system, b.touch_command("ckpt-pickle-os-system")), path)
    return _model_case(path, b.marker("ckpt-pickle-os-system"))


@case("ckpt-state-dict-is-code", "model", "Lightning-style checkpoint whose state_dict pickles os.system", _LOAD,
      "CheckpointError", "state_dict is not a mapping of weights", hostile=True)
def _(b, d):
    import torch

    path = d / "evil_state.ckpt"
    torch.save({"state_dict": _RunsCode(os.system, b.touch_command("ckpt-state-dict-is-code")), "epoch": 1}, path)
    return _model_case(path, b.marker("ckpt-state-dict-is-code"))


@case("ckpt-truncated", "model", "real project checkpoint cut in half", _LOAD, "CheckpointError",
      "is not a readable PyTorch checkpoint", "copy or download it again")
def _(b, d):
    path = b.tiny_checkpoint(d / "cut.pt")
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return _model_case(path)


@case("ckpt-zero-bytes", "model", "empty file named model.pt", _LOAD, "CheckpointError",
      "is not a readable PyTorch checkpoint")
def _(b, d):
    path = d / "model.pt"
    path.write_bytes(b"")
    return _model_case(path)


@case("ckpt-text", "model", "YAML config saved as model.pt", _LOAD, "CheckpointError",
      "is not a readable PyTorch checkpoint")
def _(b, d):
    path = d / "model.pt"
    shutil.copyfile(ROOT / "configs" / "demo.yaml", path)
    return _model_case(path)


def _save_payload(path: Path, payload: dict) -> Path:
    import torch

    torch.save(payload, path)
    return path


@case("ckpt-shape-mismatch", "model", "project checkpoint whose pos_embed was cut to 50 tokens", _LOAD,
      "CheckpointError", "does not fit the model it describes", "shape mismatches: pos_embed")
def _(b, d):
    payload = b.tiny_payload()
    payload["state_dict"]["backbone.pos_embed"] = payload["state_dict"]["backbone.pos_embed"][:, :50]
    payload.pop("encoder_hash")
    return _model_case(_save_payload(d / "shapes.pt", payload))


@case("ckpt-missing-keys", "model", "project checkpoint without its last encoder block", _LOAD, "CheckpointError",
      "does not fit the model it describes", "missing keys: blocks.0.")
def _(b, d):
    payload = b.tiny_payload()
    payload["state_dict"] = {k: v for k, v in payload["state_dict"].items() if not k.startswith("backbone.blocks.0.")}
    payload.pop("encoder_hash")
    return _model_case(_save_payload(d / "keys.pt", payload))


@case("ckpt-altered-weights", "model", "project checkpoint with one weight changed after export", _LOAD,
      "CheckpointError", "do not match their recorded hash", "corrupt or was altered")
def _(b, d):
    payload = b.tiny_payload()
    payload["state_dict"]["backbone.cls_token"] = payload["state_dict"]["backbone.cls_token"] + 1
    return _model_case(_save_payload(d / "altered.pt", payload))


@case("ckpt-format-version", "model", "project checkpoint claiming format version 99", _LOAD, "CheckpointError",
      "is format version 99; this tool reads version 1")
def _(b, d):
    payload = b.tiny_payload()
    payload["format_version"] = 99
    return _model_case(_save_payload(d / "future.pt", payload))


@case("ckpt-missing-field", "model", "project checkpoint without its band table", _LOAD, "CheckpointError",
      "lacks", "bands", "export it again")
def _(b, d):
    payload = b.tiny_payload()
    del payload["bands"]
    return _model_case(_save_payload(d / "no_bands.pt", payload))


@case("ckpt-wrong-variant", "model", "project checkpoint whose config names variant 'xyz'", _LOAD, "InputError",
      "variant 'xyz' is not valid", "choose one of cecd, cesd, secd, sesd")
def _(b, d):
    payload = b.tiny_payload()
    payload["config"]["variant"] = "xyz"
    return _model_case(_save_payload(d / "xyz.pt", payload))


@case("ckpt-dir-python-yaml", "model", "published checkpoint folder whose cfg.yaml holds !!python/object/apply:os.system",
      "load_model(folder)", "CheckpointError", "is not valid YAML", hostile=True)
def _(b, d):
    import torch

    folder = d / "published"
    folder.mkdir()
    torch.save({"state_dict": {}}, folder / "weights.ckpt")
    (folder / "cfg.yaml").write_text(
        f"kwargs: !!python/object/apply:os.system [{b.touch_command('ckpt-dir-python-yaml')!r}]\n")
    return _model_case(folder, b.marker("ckpt-dir-python-yaml"))


@case("ckpt-dir-without-weights", "model", "published checkpoint folder with cfg.yaml but no weights.ckpt",
      "load_model(folder)", "DataNotFoundError", "has no weights.ckpt", "holds cfg.yaml and weights.ckpt")
def _(b, d):
    folder = d / "published"
    folder.mkdir()
    (folder / "cfg.yaml").write_text("kwargs: {patch_size: 15}\n")
    return _model_case(folder)


# ------------------------------------------------------------------------------------ bundles

_BUNDLE = "Bundle(path)"


def _bundle(path: Path, expected: str | None = None, verify: bool = True):
    def run():
        from csmae_core.retrieval.bundle import Bundle

        return Bundle(path, expected_model_hash=expected, verify=verify)
    return run


@case("bundle-other-model", "bundle", "demo-train bundle opened for the demo model",
      "Bundle(path, expected_model_hash=demo)", "BundleError", "was built with model",
      "its embeddings are not comparable", "Load the matching model or rebuild")
def _(b, d):
    folder = b.bundle_copy(d, "demo-train")
    expected = json.loads((ASSETS / "bundles" / "demo" / "manifest.json").read_text())["model"]["content_hash"]
    return {"files": [folder], "run": _bundle(folder, expected)}


@case("bundle-corrupt-file", "bundle", "demo bundle with one byte of embeddings_s1.npy flipped", _BUNDLE,
      "BundleError", "does not match its manifest checksum", "rebuild the bundle")
def _(b, d):
    folder = b.bundle_copy(d)
    data = bytearray((folder / "embeddings_s1.npy").read_bytes())
    data[-5] ^= 0xFF
    (folder / "embeddings_s1.npy").write_bytes(bytes(data))
    return {"files": [folder], "run": _bundle(folder)}


@case("bundle-no-manifest", "bundle", "demo bundle without manifest.json", _BUNDLE, "BundleError",
      "has no manifest.json: not an index bundle")
def _(b, d):
    folder = b.bundle_copy(d)
    (folder / "manifest.json").unlink()
    return {"files": [folder], "run": _bundle(folder)}


@case("bundle-missing", "bundle", "bundle folder that does not exist", _BUNDLE, "DataNotFoundError",
      "no index bundle at", "build one with scripts/build_index.py")
def _(b, d):
    return {"run": _bundle(d / "no_such_bundle")}


@case("bundle-manifest-not-json", "bundle", "demo bundle whose manifest.json is cut mid-way", _BUNDLE,
      "BundleError", "manifest.json is not valid JSON", "rebuild the bundle")
def _(b, d):
    folder = b.bundle_copy(d)
    (folder / "manifest.json").write_text((folder / "manifest.json").read_text()[:200])
    return {"files": [folder], "run": _bundle(folder)}


@case("bundle-wrong-format", "bundle", "folder whose manifest.json is another tool's", _BUNDLE, "BundleError",
      "is not a version-1 csmae-index-bundle")
def _(b, d):
    folder = b.bundle_copy(d)
    (folder / "manifest.json").write_text(json.dumps({"format": "stac-catalog", "format_version": "1.0.0"}))
    return {"files": [folder], "run": _bundle(folder)}


@case("bundle-manifest-incomplete", "bundle", "demo bundle whose manifest lacks files and model", _BUNDLE,
      "BundleError", "manifest.json lacks", "rebuild the bundle")
def _(b, d):
    folder = b.bundle_copy(d)
    manifest = json.loads((folder / "manifest.json").read_text())
    for key in ("files", "model"):
        manifest.pop(key)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return {"files": [folder], "run": _bundle(folder)}


@case("bundle-missing-file", "bundle", "demo bundle without index_s2.faiss", _BUNDLE, "BundleError",
      "lacks index_s2.faiss, listed in its manifest", "rebuild the bundle")
def _(b, d):
    folder = b.bundle_copy(d)
    (folder / "index_s2.faiss").unlink()
    return {"files": [folder], "run": _bundle(folder)}


@case("bundle-npy-pickle", "bundle", "embeddings_s1.npy replaced by an object array pickling os.system "
      "(checksums forged)", _BUNDLE, "BundleError", "embeddings_s1.npy cannot be read", "rebuild the bundle",
      hostile=True)
def _(b, d):
    folder = b.bundle_copy(d)
    evil = np.array([_RunsCode(os.system, b.touch_command("bundle-npy-pickle"))], dtype=object)
    with open(folder / "embeddings_s1.npy", "wb") as handle:
        np.save(handle, evil, allow_pickle=True)
    b.rewrite_manifest(folder)
    return {"files": [folder], "run": _bundle(folder), "marker": b.marker("bundle-npy-pickle")}


@case("bundle-index-garbage", "bundle", "index_s1.faiss of random bytes (checksums forged)", _BUNDLE,
      "BundleError", "index_s1.faiss cannot be read", "rebuild the bundle")
def _(b, d):
    folder = b.bundle_copy(d)
    (folder / "index_s1.faiss").write_bytes(np.random.default_rng(6).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    b.rewrite_manifest(folder)
    return {"files": [folder], "run": _bundle(folder)}


@case("bundle-table-garbage", "bundle", "metadata.parquet of a bundle replaced by text, unverified load",
      "Bundle(path, verify=False)", "BundleError", "metadata.parquet cannot be read", "rebuild the bundle")
def _(b, d):
    folder = b.bundle_copy(d)
    (folder / "metadata.parquet").write_text("pair_id\n")
    return {"files": [folder], "run": _bundle(folder, verify=False)}


@case("bundle-row-mismatch", "bundle", "demo bundle whose table lost 10 rows (checksums forged)", _BUNDLE,
      "BundleError", "disagree on the number of rows", "rebuild the bundle")
def _(b, d):
    import pandas as pd

    folder = b.bundle_copy(d)
    pd.read_parquet(folder / "metadata.parquet").head(50).to_parquet(folder / "metadata.parquet")
    b.rewrite_manifest(folder)
    return {"files": [folder], "run": _bundle(folder)}


# ------------------------------------------------------------------------------------ configs

_CONFIG = "TrainConfig.from_yaml(path)"


def _config(path: Path):
    def run():
        from csmae_core.training.config import TrainConfig

        return TrainConfig.from_yaml(path)
    return run


def _yaml_case(d: Path, text: str, marker: Path | None = None) -> dict:
    path = d / "config.yaml"
    path.write_text(text)
    return {"files": [path], "run": _config(path), "marker": marker}


def _demo_yaml(**replace: str) -> str:
    text = (ROOT / "configs" / "demo.yaml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@case("config-wrong-variant", "config", "configs/demo.yaml with model.variant: xyz", _CONFIG, "InputError",
      "variant 'xyz' is not valid", "choose one of cecd, cesd, secd, sesd")
def _(b, d):
    return _yaml_case(d, _demo_yaml(**{"variant: secd": "variant: xyz"}))


@case("config-unknown-section", "config", "configs/demo.yaml plus a 'trainer:' section", _CONFIG, "InputError",
      "unknown config section(s) ['trainer']", "use ")
def _(b, d):
    return _yaml_case(d, _demo_yaml() + "trainer:\n  max_epochs: 3\n")


@case("config-not-yaml", "config", "configs/demo.yaml with an unclosed bracket", _CONFIG, "InputError",
      "cannot read config", "expected ',' or ']'")
def _(b, d):
    return _yaml_case(d, _demo_yaml(**{"betas: [0.9, 0.95]": "betas: [0.9, 0.95"}))


@case("config-python-tag", "config", "YAML with !!python/object/apply:os.system ['touch marker']", _CONFIG,
      "InputError", "cannot read config", "could not determine a constructor", hostile=True)
def _(b, d):
    text = f"model: !!python/object/apply:os.system [{b.touch_command('config-python-tag')!r}]\n"
    return _yaml_case(d, text, b.marker("config-python-tag"))


@case("config-not-a-mapping", "config", "YAML that is a plain sentence", _CONFIG, "InputError",
      "must be a mapping of sections", "model, optim, data")
def _(b, d):
    return _yaml_case(d, "train the model please\n")


@case("config-wrong-type", "config", "configs/demo.yaml with model.patch_size: fifteen", _CONFIG, "InputError",
      "model setting patch_size must be an integer, not 'fifteen'", "fix the config")
def _(b, d):
    return _yaml_case(d, _demo_yaml(**{"patch_size: 15": "patch_size: fifteen"}))


@case("config-missing", "config", "config file that does not exist", _CONFIG, "InputError",
      "cannot read config", "No such file")
def _(b, d):
    return {"run": _config(d / "no_such_config.yaml")}


# ---------------------------------------------------------------------------------- building


def build_corpus(out: str | Path, only: Sequence[str] | None = None) -> dict[str, Case]:
    """Write every case (or those in `only`) under `out/<id>/`; returns id -> Case."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    builder = _Builder(out)
    cases = {}
    for spec in SPECS:
        if only is not None and spec.id not in only:
            continue
        folder = out / spec.id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        fields = spec.build(builder, folder)
        if spec.hostile and "marker" not in fields:
            fields["marker"] = builder.marker(spec.id)
        cases[spec.id] = Case(spec.id, spec.category, spec.description, spec.entry, error_class(spec.error),
                              spec.message, open_issue=spec.open_issue, **fields)
    return cases


def outcome(case: Case) -> tuple[bool, str, str]:
    """(as expected, error class name, message) of running one case."""
    from csmae_core.errors import CsmaeError

    try:
        case.run()
    except CsmaeError as error:
        name, message = type(error).__name__, str(error)
        ok = isinstance(error, case.error) and all(m in message for m in case.message)
    except Exception as error:  # noqa: BLE001 - a raw exception is what the corpus hunts for
        name, message, ok = f"raw {type(error).__name__}", str(error), False
    else:
        name, message, ok = "no error", "", False
    if case.marker is not None and case.marker.exists():
        ok = False
        message += " [MARKER CREATED: code was executed]"
    return ok, name, message


def table_rows(cases: dict[str, Case], out: Path | None = None) -> list[dict]:
    rows = []
    for case in cases.values():
        ok, name, message = outcome(case)
        if out is not None:
            message = message.replace(str(out), "<corpus>")
        rows.append({"id": case.id, "category": case.category, "input": case.description, "where": case.entry,
                     "error": name, "message": message, "ok": ok, "hostile": case.marker is not None,
                     "open": case.open_issue})
    return rows


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _cell(text: str) -> str:
    """Markdown-table-safe text (outside code spans, <name> would be swallowed as an HTML tag)."""
    if text.startswith("`") and text.count("`") == 2:
        return text.replace("|", "\\|")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def markdown(rows: list[dict]) -> str:
    lines = ["| id | input | where | error | message |", "|---|---|---|---|---|"]
    for row in rows:
        cells = [f"`{row['id']}`" + (" (hostile)" if row["hostile"] else ""), row["input"], f"`{row['where']}`",
                 row["error"] + _flag(row, " **OPEN**", " **UNEXPECTED**"),
                 _short(row["message"], 320) + (f" (open: {row['open']})" if row["open"] else "")]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _flag(row: dict, open_text: str, bad_text: str) -> str:
    return "" if row["ok"] else (open_text if row["open"] else bad_text)


def plain(rows: list[dict]) -> str:
    width = max(len(r["id"]) for r in rows)
    lines = []
    for row in rows:
        status = "ok  " if row["ok"] else ("open" if row["open"] else "FAIL")
        lines.append(f"{status} {row['id']:<{width}}  {row['error']:<18} {_short(row['message'], 110)}")
    bad = sum(not r["ok"] and not r["open"] for r in rows)
    still_open = sum(not r["ok"] and bool(r["open"]) for r in rows)
    lines.append(f"{len(rows)} cases, {len(rows) - bad - still_open} as expected, {still_open} open, {bad} not")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bad_inputs", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, help="folder to write the corpus to (default: a temporary one)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--only", nargs="+", metavar="ID", help="only these cases")
    args = parser.parse_args(argv)
    import logging
    import warnings

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="bad-inputs-") as scratch:
        out = args.out or Path(scratch)
        rows = table_rows(build_corpus(out, args.only), out)
    print(markdown(rows) if args.markdown else plain(rows))
    return 0 if all(r["ok"] or r["open"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Helpers shared by the case builders: the real fixtures they start from (read once), writers for
GeoTIFFs, zips, checkpoints and bundle copies, the Case fields of an upload, and the payload that runs code
when unpickled."""
from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
ASSETS = ROOT / "assets"
V1_S1 = DATA / "v1" / "BigEarthNet-S1-v1.0" / "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48"
V1_S2 = DATA / "v1" / "BigEarthNet-v1.0" / "S2A_MSIL2A_20170613T101031_87_48"
S1_NAME, S2_NAME = V1_S1.name, V1_S2.name
RICO_PAIR = DATA / "rico_pair_lmdb"


class Builder:
    """Helpers shared by the builders of one corpus in `out` (real fixtures read once)."""

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

    def huge_sparse_tif(self, path: Path, count: int, dtype: str, geo: dict) -> Path:
        """A GeoTIFF declaring 100000 x 100000 pixels in a few kB: a header and an empty tile index."""
        import rasterio

        with rasterio.open(path, "w", driver="GTiff", count=count, width=100_000, height=100_000, dtype=dtype,
                           tiled=True, blockxsize=4096, blockysize=4096, compress="deflate", sparse_ok=True,
                           **geo):
            pass  # no tile written
        return path

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


class RunsCode:
    """A pickle payload: unpickling calls `function(*args)` (e.g. os.system('touch marker'))."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def upload_case(paths: Sequence[Path], sensor: str | None = None) -> dict:
    """The Case fields of an upload: read_upload of the file (or files), the same files for the search
    page's uploader and for `python -m csmae_core inspect`."""
    paths = list(paths)
    args = [str(p) for p in paths] + (["--sensor", sensor] if sensor else [])
    return {"files": paths, "run": _read_upload(paths, sensor), "upload": paths, "sensor": sensor, "cli": args}


def _read_upload(paths: list[Path], sensor: str | None):
    from csmae_core.io.upload import read_upload

    return lambda: read_upload(list(paths) if len(paths) > 1 else paths[0], sensor=sensor)


def random_bytes(seed: int, size: int) -> bytes:
    """`size` bytes of noise, the same for the same seed."""
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()

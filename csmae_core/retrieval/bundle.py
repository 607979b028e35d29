"""Index bundles: ONE directory per (model, archive) with embeddings, a FAISS index per sensor, a
metadata table and a manifest; written to a temporary directory and renamed into place, so an
interrupted build never leaves a half bundle and never touches the previous one.

    manifest.json        format, model (hash, config, card), encoder family, band table, counts, dim,
                         index spec and recall, archive, creation time, sha256 of every file
    metadata.parquet     one row per pair: pair_id, s1_name, labels, split, country, season, flags,
                         UTM footprint, WGS84 centroid (lon, lat) and bbox (west, south, east, north)
    embeddings_s1.npy    (N, D) float32, row i = pair i (same for s2)
    index_s1.faiss       FAISS index over the rows (same for s2)
    country_centroids_s1.npz  IVF indexes: per inverted list and country, the mean of its rows (same for s2;
                         retrieval/filtering.py; bundles without it order a country filter's lists as an
                         unfiltered search does)
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from csmae_core.bands import MODEL_BANDS, SENSORS
from csmae_core.errors import BundleError, DataNotFoundError
from csmae_core.geo import footprint_from_name, footprints_wgs84, tile_of_name
from csmae_core.retrieval.faiss_index import IndexSpec, configure

log = logging.getLogger(__name__)

FORMAT = "csmae-index-bundle"
FORMAT_VERSION = 1
MANIFEST, TABLE = "manifest.json", "metadata.parquet"
FOOTPRINT_COLUMNS = ("epsg", "ulx", "uly", "lrx", "lry", "lon", "lat", "west", "south", "east", "north")
TABLE_COLUMNS = ("pair_id", "s1_name", "labels", "split", "country", "season", "contains_seasonal_snow",
                 "contains_cloud_or_shadow") + FOOTPRINT_COLUMNS


def embeddings_file(sensor: str) -> str:
    return f"embeddings_{sensor}.npy"


def index_file(sensor: str) -> str:
    return f"index_{sensor}.faiss"


def country_centroids_file(sensor: str) -> str:
    return f"country_centroids_{sensor}.npz"


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file (object arrays, i.e. pickles, are refused, never run)."""
    with np.load(path, allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


def bundle_table(archive_table: pd.DataFrame) -> pd.DataFrame:
    """The archive's table with every bundle column; footprints from the tile grid when absent."""
    table = archive_table.reset_index(drop=True).copy()
    for column in TABLE_COLUMNS[:8]:
        if column not in table:
            table[column] = None
    if not set(FOOTPRINT_COLUMNS) <= set(table.columns):
        table = pd.concat([table.drop(columns=[c for c in FOOTPRINT_COLUMNS if c in table]),
                           grid_footprints(table["pair_id"], table["s1_name"])], axis=1)
    table["labels"] = [list(v) if v is not None else [] for v in table["labels"]]
    return table[list(TABLE_COLUMNS)]


def grid_footprints(pair_ids: pd.Series, s1_names: pd.Series) -> pd.DataFrame:
    """Footprint columns of many patches from their names (vectorised per UTM zone); NaN when the
    tile is unknown (a v1 S2 name without its S1 name)."""
    rows = []
    for pair_id, s1_name in zip(pair_ids, s1_names):
        tile = tile_of_name(pair_id) or (tile_of_name(s1_name) if isinstance(s1_name, str) else None)
        fp = footprint_from_name(pair_id, tile) if tile else None
        rows.append((fp.epsg, fp.ulx, fp.uly, fp.lrx, fp.lry) if fp else (0, np.nan, np.nan, np.nan, np.nan))
    frame = pd.DataFrame(rows, columns=["epsg", "ulx", "uly", "lrx", "lry"])
    wgs84 = footprints_wgs84(*(frame[c].to_numpy() for c in ("epsg", "ulx", "uly", "lrx", "lry")))
    for column, values in wgs84.items():
        frame[column] = values
    return frame


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_manifest(encoder, model_file: str) -> dict[str, Any]:
    """The manifest's `model` section for an encoder of any family (csmae_core.models.base.EncoderBase)."""
    return {"content_hash": encoder.content_hash, "file": model_file, "family": encoder.family,
            "description": encoder.describe(), "cross_sensor": encoder.cross_sensor,
            "config": encoder.config_dict(), "transpose_input": encoder.transpose_input,
            "card": card_summary(encoder.card)}


def synthetic_model_manifest(description: str, origin: str, content_hash: str = "synthetic") -> dict[str, Any]:
    """The `model` section of a bundle whose vectors no model made (benchmarks, scale tests): named so."""
    return {"content_hash": content_hash, "config": {}, "cross_sensor": True, "description": description,
            "card": {"origin": origin}}


def bundle_manifest(name: str, model: dict[str, Any], archive: dict[str, Any], pairs: int, sensors: list[str],
                    dim: int, index_spec: dict, recall_at_10: dict, precision: str = "fp32") -> dict[str, Any]:
    """Everything a bundle's manifest says besides format, creation time, bands and file hashes (those are
    added by `write_bundle`)."""
    return {"name": name, "encoder_family": model.get("family", "synthetic"), "model": model, "archive": archive,
            "counts": {"pairs": pairs, "sensors": list(sensors)}, "dim": int(dim), "precision": precision,
            "index": {"spec": index_spec, "recall_at_10": recall_at_10}}


def card_summary(card: dict) -> dict:
    """A model card without the (long) list of training pair ids."""
    summary = dict(card)
    if isinstance(summary.get("data"), dict):
        summary["data"] = {k: v for k, v in summary["data"].items() if k != "pair_ids"}
    return summary


def write_bundle(out_dir: str | Path, workdir: Path, manifest: dict[str, Any]) -> Path:
    """Finish a bundle whose data files are already in `workdir` (a sibling temp dir of `out_dir`):
    hash the files, write the manifest, and swap the directory into place."""
    out_dir = Path(out_dir)
    files = sorted(p.name for p in workdir.iterdir() if p.name != MANIFEST)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "bands": {s: list(MODEL_BANDS[s]) for s in SENSORS}, **manifest,
                "files": {name: sha256_file(workdir / name) for name in files}}
    (workdir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        out_dir.rename(old)
    workdir.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return out_dir


def new_workdir(out_dir: str | Path) -> Path:
    """Temporary sibling of the final bundle (same filesystem, so the final rename is atomic)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    restore_interrupted_swap(out_dir)
    workdir = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    return workdir


class Bundle:
    """A loaded bundle: manifest, table, embeddings and indexes all in memory (no I/O per query)."""

    def __init__(self, path: str | Path, expected_model_hash: str | Collection[str] | None = None,
                 verify: bool = True):
        """`expected_model_hash`: the model's content hash, or every hash it accepts (an encoder's
        `accepted_hashes`); None: any model."""
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        if verify:
            verify_files(self.path, self.manifest)
        check_model(self.manifest, expected_model_hash, self.path)
        self.table = self._read(TABLE, pd.read_parquet)
        if "labels" not in self.table:
            raise BundleError(f"{self.path / TABLE} lacks column labels; rebuild the bundle")
        self.table["labels"] = [list(v) if v is not None else [] for v in self.table["labels"]]
        try:
            self.spec = IndexSpec(**self.manifest["index"]["spec"])
        except TypeError as error:
            raise BundleError(f"{self.path / MANIFEST}: unknown index settings ({error}); rebuild the bundle "
                              "with this version of scripts/build_index.py") from error
        self.sensors = tuple(self.manifest["counts"]["sensors"])
        # Memory-mapped (read-only): the indexes hold what searches need, the vectors serve archive queries
        # and counterpart ranks, so at BigEarthNet scale 3.4 GB stay on disk. np.load without allow_pickle:
        # an object array (a pickle) in a .npy is refused, never run.
        self.embeddings = {s: self._read(embeddings_file(s), lambda p: np.load(p, mmap_mode="r"))
                           for s in self.sensors}
        self.indexes = {s: self._read(index_file(s), lambda p: faiss.read_index(str(p))) for s in self.sensors}
        for sensor in self.sensors:
            vectors, index = self.embeddings[sensor], self.indexes[sensor]
            if vectors.ndim != 2 or vectors.shape[1] != self.dim or index.d != self.dim:
                raise BundleError(f"{self.path}: {embeddings_file(sensor)} {vectors.shape} / {index_file(sensor)} "
                                  f"({index.d}-d) do not hold {self.dim}-d vectors as the manifest says; "
                                  "rebuild the bundle")
        for index in self.indexes.values():
            configure(index, self.spec)
        self.country_centroids = {s: self._read(country_centroids_file(s), read_arrays) for s in self.sensors
                                  if country_centroids_file(s) in self.manifest["files"]}
        rows = {len(self.table)} | {len(e) for e in self.embeddings.values()} | {i.ntotal for i in self.indexes.values()}
        if len(rows) != 1:
            raise BundleError(f"{self.path}: table, embeddings and indexes disagree on the number of rows {rows}; "
                              "rebuild the bundle")

    def _read(self, name: str, loader) -> Any:
        """One bundle file through `loader`; whatever it raises becomes a BundleError naming the file."""
        try:
            return loader(self.path / name)
        except Exception as error:  # numpy, pyarrow and faiss raise many types  # noqa: BLE001
            detail = " ".join(str(error).split())[:200]
            raise BundleError(f"{self.path / name} cannot be read ({type(error).__name__}: {detail}); "
                              "rebuild the bundle") from error

    @property
    def model_hash(self) -> str:
        return self.manifest["model"]["content_hash"]

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def family(self) -> str:
        return str(self.manifest.get("encoder_family", "csmae"))

    @property
    def cross_sensor(self) -> bool:
        """Whether S1 and S2 vectors share one space (bundles before this field: CSMAE, always)."""
        return bool(self.manifest["model"].get("cross_sensor", True)) and len(self.sensors) > 1

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or self.path.name)

    @property
    def created(self) -> str:
        """UTC build time as written in the manifest ("" when absent)."""
        return str(self.manifest.get("created", ""))

    @property
    def precision(self) -> str:
        """Precision the embeddings were computed in (fp32, bf16, or a note for synthetic vectors)."""
        return str(self.manifest.get("precision", "fp32"))

    @property
    def recall_at_10(self) -> dict[str, float | None]:
        """Per sensor: recall@10 of the index against exact search (None: the index is exact)."""
        return dict(self.manifest["index"].get("recall_at_10") or {})

    @property
    def archive_source(self) -> dict[str, str]:
        """Where the embedded archive was (`path`) and what it was (`source`)."""
        return dict(self.manifest.get("archive") or {})

    @property
    def model_card(self) -> dict:
        """The card of the model that built the bundle (without its training pair ids)."""
        return dict(self.manifest["model"].get("card") or {})

    @property
    def transpose_input(self) -> bool | None:
        """Whether that model read transposed inputs (None: the manifest does not say)."""
        value = self.manifest["model"].get("transpose_input")
        return None if value is None else bool(value)

    @property
    def model_description(self) -> str:
        model = self.manifest["model"]
        if model.get("description"):
            return str(model["description"])
        cfg = model.get("config") or {}
        if "variant" in cfg:  # CSMAE bundles written before descriptions were recorded
            return (f"CSMAE-{cfg['variant'].upper()} ViT {cfg['embed_dim']}-d, "
                    f"{cfg['specific_depth']}+{cfg['shared_depth']} blocks")
        return f"{self.family} encoder"


def restore_interrupted_swap(path: Path) -> bool:
    """A build killed between moving the old bundle aside and moving the new one in leaves only
    `.NAME.old-PID`: put it back (it is the previous, complete bundle). True if one was restored."""
    if path.exists():
        return False
    aside = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not aside or not (aside[-1] / MANIFEST).is_file():
        return False
    aside[-1].rename(path)
    log.warning("restored %s from %s (a build was interrupted while swapping bundles)", path, aside[-1].name)
    return True


def read_manifest(path: Path) -> dict:
    restore_interrupted_swap(path)
    if not path.is_dir():
        raise DataNotFoundError(f"no index bundle at {path}; build one with scripts/build_index.py")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError as error:
        raise BundleError(f"{path} has no {MANIFEST}: not an index bundle (or an interrupted build); build it "
                          "again with scripts/build_index.py") from error
    except ValueError as error:
        raise BundleError(f"{path / MANIFEST} is not valid JSON ({error}); rebuild the bundle") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or manifest.get("format_version") != FORMAT_VERSION:
        said = (f"{manifest.get('format')} v{manifest.get('format_version')}" if isinstance(manifest, dict)
                else type(manifest).__name__)
        raise BundleError(f"{path} is not a version-{FORMAT_VERSION} {FORMAT} (manifest says {said}); "
                          "build one with scripts/build_index.py")
    missing = [name for name, ok in _MANIFEST_FIELDS.items() if not _holds(manifest, name, ok)]
    if missing:
        raise BundleError(f"{path / MANIFEST} lacks {', '.join(missing)} (or holds them in the wrong form): "
                          "the bundle is incomplete or was edited by hand; rebuild the bundle")
    return manifest


_MANIFEST_FIELDS = {
    "files": lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(d, str) for k, d in v.items()),
    "model.content_hash": lambda v: isinstance(v, str),
    "index.spec": lambda v: isinstance(v, dict),
    "counts.sensors": lambda v: isinstance(v, list) and bool(v) and set(v) <= set(SENSORS),
    "dim": lambda v: isinstance(v, int) and v > 0,
}


def _holds(manifest: dict, dotted: str, ok) -> bool:
    value: Any = manifest
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return ok(value)


def verify_files(path: Path, manifest: dict) -> None:
    for name, digest in manifest["files"].items():
        file = path / name
        if Path(name).name != name or name in (".", ".."):
            raise BundleError(f"{path / MANIFEST} lists {name!r}, which is not a file of the bundle folder; "
                              "rebuild the bundle")
        if not file.is_file():
            raise BundleError(f"{path} lacks {name}, listed in its manifest; rebuild the bundle")
        if sha256_file(file) != digest:
            raise BundleError(f"{path / name} does not match its manifest checksum: the file is corrupt or "
                              "was changed after the build; rebuild the bundle")


def check_model(manifest: dict, expected_hash: str | Collection[str] | None, path: Path) -> None:
    """The bundle was built with a model whose hash is `expected_hash` (one hash, or any of a collection:
    the same weights under earlier key layouts); None or an empty collection: no check."""
    accepted = [expected_hash] if isinstance(expected_hash, str) else list(expected_hash or ())
    if not accepted:
        return
    built_with = manifest["model"]["content_hash"]
    if built_with not in accepted:
        raise BundleError(f"the bundle {path.name} was built with model {built_with[:12]} but the model in use is "
                          f"{accepted[0][:12]}; its embeddings are not comparable. Load the matching model or "
                          f"rebuild it with this model (scripts/build_index.py writes bundles)")

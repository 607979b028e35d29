"""The upload as files on disk: paths are checked where they are; (file name, bytes) pairs are checked
and written once, each under its own numbered folder of a private temporary folder that is removed when
the reading is done. Of a user's file name only its base name is kept, so nothing a user names can
become a path outside that folder. Every upload is checked whole before a byte is written (each file and
all files together under the upload limit), and identified by the SHA-256 of its names and bytes."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from csmae_core.errors import InputError
from csmae_core.io.upload import safety

NamedBytes = tuple[str, Union[bytes, bytearray, memoryview]]
UploadFiles = Union[str, Path, NamedBytes, Sequence[Union[str, Path, NamedBytes]]]
_MAX_NAME_BYTES = 255  # what Linux, macOS and Windows file systems allow per name


def is_named_bytes(item: object) -> bool:
    return (isinstance(item, tuple) and len(item) == 2
            and isinstance(item[1], (bytes, bytearray, memoryview)))


def upload_items(files: UploadFiles) -> list:
    """The upload as a list of paths and (name, bytes) pairs; InputError when it is empty."""
    items = [files] if isinstance(files, (str, os.PathLike)) or is_named_bytes(files) else list(files)
    if not items:
        raise InputError(f"no file given; {safety.UPLOAD_FORMS}")
    odd = [item for item in items if not (isinstance(item, (str, os.PathLike)) or is_named_bytes(item))]
    if odd:
        raise InputError(f"an upload is given as paths or (file name, bytes) pairs, not as "
                         f"{type(odd[0]).__name__}; pass files in one of those forms")
    return items


def safe_name(name: object, index: int) -> str:
    """The base name of a user's file name, without NUL; `upload-<index>.tif` when nothing usable is
    left (an empty name, "." or "..", or one the file system cannot encode)."""
    base = str(name).replace("\x00", "").replace("\\", "/").rsplit("/", 1)[-1]
    try:
        size = len(os.fsencode(base))
    except UnicodeError:
        return f"upload-{index}.tif"
    if base in ("", ".", ".."):
        return f"upload-{index}.tif"
    if size > _MAX_NAME_BYTES:
        raise InputError(f"the file name {base[:40]!r}... is {size} bytes long, more than the "
                         f"{_MAX_NAME_BYTES} a file name may have; rename the file and upload it again")
    return base


@dataclass
class Staging:
    """The checked files of an upload, in the order given, and its content key."""

    paths: list[Path]
    key: str | None  # SHA-256 (hex) of the file names and contents, in order (None: not asked for)


@contextlib.contextmanager
def staged(files: UploadFiles) -> Iterator[list[Path]]:
    """Checked files of the upload, in the order given (see the module docstring)."""
    items = upload_items(files)
    if not any(is_named_bytes(item) for item in items):
        yield stage(items, None).paths
        return
    with tempfile.TemporaryDirectory(prefix="upload-") as folder:
        yield stage(items, Path(folder)).paths


def stage(items: list, folder: Path | None, identify: bool = False) -> Staging:
    """Check every item (sizes one by one and together), then write the (name, bytes) pairs under
    `folder` (None: there are none); with `identify`, hash names and contents too."""
    pairs = {index: (safe_name(item[0], index), item[1]) for index, item in enumerate(items) if is_named_bytes(item)}
    for name, data in pairs.values():
        safety.check_size(name, memoryview(data).nbytes)
    paths = {index: safety.check_path(item) for index, item in enumerate(items) if index not in pairs}
    safety.check_total([(name, memoryview(data).nbytes) for name, data in pairs.values()]
                       + [(path.name, path.stat().st_size) for path in paths.values()])
    digest = hashlib.sha256() if identify else None
    for index in range(len(items)):
        if index in pairs:
            name, data = pairs[index]
            target = folder / str(index) / name  # one folder per file: equal names do not collide
            target.parent.mkdir()
            target.write_bytes(data)
            paths[index] = target
        if digest is not None:
            _add_to_digest(digest, paths[index], pairs[index][1] if index in pairs else None)
    return Staging([paths[index] for index in range(len(items))], digest.hexdigest() if digest else None)


def _add_to_digest(digest, path: Path, data) -> None:
    """The file's name and length, then its bytes (read back in 1 MiB pieces when given as a path)."""
    name = path.name.encode("utf-8", "surrogateescape")
    digest.update(len(name).to_bytes(8, "little") + name)
    if data is not None:
        digest.update(memoryview(data).nbytes.to_bytes(8, "little"))
        digest.update(data)
        return
    digest.update(path.stat().st_size.to_bytes(8, "little"))
    with path.open("rb") as handle:
        while piece := handle.read(1 << 20):
            digest.update(piece)

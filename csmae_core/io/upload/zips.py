"""Zip safety: which members of an uploaded zip are the band files of its one patch folder, checked
before anything is extracted (no '..' or absolute names, no symbolic links, no bombs, no passwords,
macOS junk ignored), and extraction that never writes more than a member declared."""
from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from csmae_core.errors import InputError
from csmae_core.io.names import split_band_file_name
from csmae_core.io.upload import safety

MAX_ZIP_RATIO = 100  # expanded/compressed beyond this (on more than 1 MiB) looks like a zip bomb
MAX_ZIP_MEMBERS = 1000  # a patch folder has a dozen files; more entries is not a patch
_ZIP_RATIO_FLOOR = 1024 * 1024
_MAX_JSON_BYTES = 1024 * 1024  # a labels_metadata.json is about 1 KiB; a larger one is ignored
_CHUNK = 1024 * 1024


def check_zip(path: Path) -> None:
    """The checks of reading `path`, with nothing extracted (InputError when it would be refused)."""
    try:
        with zipfile.ZipFile(path) as archive:
            zip_members(archive, path.name)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"{path.name} is not a readable zip archive ({error}); zip the patch folder "
                         "again") from error


def zip_members(archive: zipfile.ZipFile, name: str) -> list[tuple[zipfile.ZipInfo, str]]:
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
    if expanded > safety.MAX_UPLOAD_BYTES:
        raise InputError(f"{name} expands to {safety.mib(expanded)}, over the "
                         f"{safety.mib(safety.MAX_UPLOAD_BYTES)} limit; zip one patch folder only")
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


def extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    """Copy one member to `target` (a name we chose), reading no more than it declared."""
    written = 0
    with archive.open(info) as source, target.open("wb") as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > info.file_size or written > safety.MAX_UPLOAD_BYTES:
                raise InputError(f"{name}: member {info.filename!r} expands beyond its declared size; "
                                 "refused as a possible zip bomb")
            sink.write(chunk)

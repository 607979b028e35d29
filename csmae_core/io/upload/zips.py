"""Zip safety: which members of an uploaded zip are the band files of its one patch folder, checked
before anything is extracted (no '..' or absolute names, no symbolic links, no bombs, no passwords,
macOS junk ignored), and extraction that never writes more than a member declared."""
from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from csmae_core.errors import InputError
from csmae_core.io.names import split_band_file_name
from csmae_core.io.upload import safety
from csmae_core.io.upload.naming import band_file_name

MAX_ZIP_RATIO = 100  # expanded/compressed beyond this (on more than 1 MiB) looks like a zip bomb
MAX_ZIP_MEMBERS = 1000  # a patch folder has a dozen files; more entries is not a patch
_ZIP_RATIO_FLOOR = 1024 * 1024
_MAX_JSON_BYTES = 1024 * 1024  # a labels_metadata.json is about 1 KiB; a larger one is ignored
_CHUNK = 1024 * 1024


Members = list[tuple[zipfile.ZipInfo, str]]


@dataclass
class ZipPlan:
    """What a zip holds: the band-file members of each patch folder (one, or the S1 and S2 folders of
    one pair), or one multi-band GeoTIFF (`geotiff`); each member with the file name to extract it as."""

    patches: list[Members] = field(default_factory=list)
    geotiff: tuple[zipfile.ZipInfo, str] | None = None
    band_files: Members = field(default_factory=list)  # SSL4EO / Major-TOM B02.tif, SAFE ..._B02_10m.jp2
    folder: str = "upload"  # the folder holding `band_files` (it names the patch)


def check_zip(path: Path) -> None:
    """The checks of reading `path`, with nothing extracted (InputError when it would be refused)."""
    try:
        with zipfile.ZipFile(path) as archive:
            zip_members(archive, path.name)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"{path.name} is not a readable zip archive ({error}); zip the patch folder "
                         "again") from error


def zip_members(archive: zipfile.ZipFile, name: str) -> ZipPlan:
    """The members to extract: the band files and labels JSON of the patch (or pair), or one GeoTIFF.

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
    geotiffs = [i for i in files if PurePosixPath(i.filename).suffix.lower() in (".tif", ".tiff")]
    if len(geotiffs) == 1 and not split_band_file_name(PurePosixPath(geotiffs[0].filename).name):
        return ZipPlan(geotiff=(geotiffs[0], "upload.tif"))
    if not any(split_band_file_name(PurePosixPath(i.filename).name) for i in files):
        if plan := _other_band_files(files, name):
            return plan
    return ZipPlan(patches=_patch_members(files, name))


def _other_band_files(files: Sequence[zipfile.ZipInfo], name: str) -> ZipPlan | None:
    """Band files named the SSL4EO / Major-TOM / SAFE way, all in one folder of the zip."""
    members = [(i, PurePosixPath(i.filename.replace("\\", "/"))) for i in files]
    members = [(i, path) for i, path in members if band_file_name(path.name)]
    if not members:
        return None
    folders = sorted({str(path.parent) for _, path in members})
    if len(folders) > 1:
        raise InputError(f"{name} holds band files in more than one folder ({', '.join(folders)}); zip one "
                         "patch folder per upload")
    targets = [path.name.lower() for _, path in members]
    if len(set(targets)) != len(targets):
        raise InputError(f"{name} holds a band file twice; zip one patch folder")
    folder = PurePosixPath(folders[0]).name
    return ZipPlan(band_files=[(i, path.name) for i, path in members],
                   folder=folder if folder not in ("", ".") else "upload")


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


def _patch_members(files: Sequence[zipfile.ZipInfo], name: str) -> list[Members]:
    """The members of the single patch folder, or of the S1 and the S2 folder of one pair; more
    patches (or one patch in two folders) are refused."""
    patches: dict[tuple[str, str], Members] = {}
    for info in files:
        member = PurePosixPath(info.filename.replace("\\", "/"))
        parsed = split_band_file_name(member.name)
        if parsed:
            patches.setdefault((str(member.parent), parsed[0]), []).append((info, member.name))
    if not patches:
        raise InputError(f"{name} holds no BigEarthNet band GeoTIFFs (<name>_B02.tif, <name>_VV.tif, "
                         "...) and not one multi-band GeoTIFF; zip one patch folder or one GeoTIFF")
    sensors = sorted(_sensor_of(members) for members in patches.values())
    if len(patches) > 1 and sensors != ["s1", "s2"]:
        found = ", ".join(sorted(f"{folder}/{patch}" if folder != "." else patch
                                 for folder, patch in patches))
        raise InputError(f"{name} holds more than one patch ({found}); zip one patch folder per upload "
                         "(or the S1 and the S2 folder of one pair)")
    out = []
    for (folder, patch), members in patches.items():
        targets = [target.lower() for _, target in members]
        if len(set(targets)) != len(targets):
            raise InputError(f"{name} holds a band of {patch} twice; zip one patch folder")
        labels = f"{folder}/{patch}_labels_metadata.json" if folder != "." else f"{patch}_labels_metadata.json"
        members += [(i, f"{patch}_labels_metadata.json") for i in files
                    if i.filename.replace("\\", "/") == labels and i.file_size <= _MAX_JSON_BYTES]
        out.append(members)
    return out


def _sensor_of(members: Members) -> str:
    bands = {split_band_file_name(target)[1] for _, target in members}  # type: ignore[index]
    return "s1" if bands <= {"VV", "VH"} else "s2"


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

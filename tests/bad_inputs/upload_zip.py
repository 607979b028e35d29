"""Upload cases, zips: patch-folder archives handed to `read_upload` that are bombs, escape the
extraction folder (traversal, absolute paths, symbolic links), hold several patches or none, are
truncated, encrypted or lie about their sizes."""
from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from tests.bad_inputs.builder import S2_NAME, upload_case
from tests.bad_inputs.spec import Category

CASES = Category("upload")

_ZIP = "read_upload(zip)"


def _zip_of_zeros(path: Path, mebibytes: int, **member_options) -> Path:
    """A zip whose one B02 member is `mebibytes` MiB of zeros, written 1 MiB at a time (a few kB deflated)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open(f"{S2_NAME}/{S2_NAME}_B02.tif", "w", **member_options) as member:
            block = bytes(2**20)
            for _ in range(mebibytes):
                member.write(block)
    return path


@CASES.case("zip-with-tif", "a patch-folder zip uploaded together with a GeoTIFF", "read_upload(paths)",
            "InputError", "a .zip must be uploaded on its own")
def build_zip_with_tif(b, d):
    archive = b.zip_of(d / "patch.zip", b.patch_members())
    return upload_case([archive, b.s1_tif(d / "s1.tif")])


@CASES.case("zip-bomb-ratio", "zip whose band member is 20 MiB of zeros packed into ~20 kB", _ZIP, "InputError",
            "which looks like a zip bomb", "refused")
def build_zip_bomb_ratio(b, d):
    return upload_case([_zip_of_zeros(d / "bomb_ratio.zip", 20)])


@CASES.case("zip-bomb-oversize", "zip of ~200 kB expanding to 210 MiB (over the upload cap)", _ZIP,
            "InputError", "expands to 210 MiB, over the 200 MiB limit", "zip one patch folder only")
def build_zip_bomb_oversize(b, d):
    return upload_case([_zip_of_zeros(d / "bomb_big.zip", 210, force_zip64=True)])


@CASES.case("zip-path-traversal", "real patch zip plus a member named ../../evil_B02.tif", _ZIP, "InputError",
            "holds a member named '../../evil_B02.tif'", "points outside the archive", hostile=True)
def build_zip_path_traversal(b, d):
    members = b.patch_members()
    members["../../evil_B02.tif"] = b"II*\x00 would land outside the extraction folder"
    return upload_case([b.zip_of(d / "traversal.zip", members)])


@CASES.case("zip-absolute-path", "real patch zip plus a member named /tmp/evil_B02.tif", _ZIP, "InputError",
            "holds a member named '/tmp/evil_B02.tif'", "zip the patch folder again with relative paths", hostile=True)
def build_zip_absolute_path(b, d):
    path = b.zip_of(d / "absolute.zip", b.patch_members())
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(zipfile.ZipInfo("/tmp/evil_B02.tif"), b"II*\x00 absolute")
    return upload_case([path])


@CASES.case("zip-symlink", "patch zip whose B02 member is a symbolic link to /etc/passwd", _ZIP, "InputError",
            "holds a symbolic link", "zip the files themselves", hostile=True)
def build_zip_symlink(b, d):
    members = b.patch_members()
    del members[f"{S2_NAME}/{S2_NAME}_B02.tif"]
    path = b.zip_of(d / "symlink.zip", members)
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo(f"{S2_NAME}/{S2_NAME}_B02.tif")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    return upload_case([path])


@CASES.case("zip-two-patches", "zip of two real patch folders", _ZIP, "InputError",
            "holds more than one patch", "zip one patch folder per upload")
def build_zip_two_patches(b, d):
    # two S2 patches (the S1 and S2 folder of one pair are a pair query since issue 12)
    members = b.patch_members()
    members.update(b.patch_members(S2_NAME.replace("_87_48", "_87_49")))
    return upload_case([b.zip_of(d / "two.zip", members)])


@CASES.case("zip-empty", "empty zip archive", _ZIP, "InputError", "is an empty zip archive",
            "zip one BigEarthNet patch folder")
def build_zip_empty(b, d):
    path = d / "empty.zip"
    zipfile.ZipFile(path, "w").close()
    return upload_case([path])


@CASES.case("zip-not-zip", "text file named .zip", _ZIP, "InputError", "is not a readable zip archive",
            "zip the patch folder again")
def build_zip_not_zip(b, d):
    path = d / "not_a.zip"
    path.write_text("this is not a zip archive\n")
    return upload_case([path])


@CASES.case("zip-truncated", "real patch-folder zip cut in half (interrupted download)", _ZIP, "InputError",
            "is not a readable zip archive", "zip the patch folder again")
def build_zip_truncated(b, d):
    path = b.zip_of(d / "cut.zip", b.patch_members())
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return upload_case([path])


@CASES.case("zip-encrypted", "real patch zip whose members are flagged as encrypted", _ZIP, "InputError",
            "is password-protected", "without a password")
def build_zip_encrypted(b, d):
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
    return upload_case([path])


@CASES.case("zip-huge-member", "patch zip whose B02 declares 100000 x 100000 pixels (a few kB)", _ZIP,
            "InputError", "declares 100000x100000 pixels", "crop it first")
def build_zip_huge_member(b, d):
    huge = b.huge_sparse_tif(d / "huge_B02.tif", 1, "uint16", b.s2_real()[1])
    members = b.patch_members()
    members[f"{S2_NAME}/{S2_NAME}_B02.tif"] = huge
    return upload_case([b.zip_of(d / "huge_member.zip", members)])


@CASES.case("zip-many-entries", "zip with 1001 tiny entries", _ZIP, "InputError", "holds 1001 entries",
            "zip one patch folder")
def build_zip_many_entries(b, d):
    return upload_case([b.zip_of(d / "many.zip", {f"f{i:04d}.txt": b"x" for i in range(1001)})])


@CASES.case("zip-lying-size", "patch zip whose B02 member says 1 kB but inflates to 8 MiB", _ZIP, "InputError",
            "is not a readable zip archive (Bad CRC-32", "zip the patch folder again", hostile=True)
def build_zip_lying_size(b, d):
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
    return upload_case([path])


@CASES.case("zip-bad-labels-json", "real patch zip whose labels_metadata.json is not JSON", _ZIP, "InputError",
            "labels_metadata.json is not valid JSON", "fix or remove the labels file")
def build_zip_bad_labels_json(b, d):
    members = b.patch_members()
    members[f"{S2_NAME}/{S2_NAME}_labels_metadata.json"] = b'{"labels": ["Arable land", '
    return upload_case([b.zip_of(d / "bad_json.zip", members)])


@CASES.case("zip-labels-json-wrong-type", "real patch zip whose labels_metadata.json says \"labels\": 5", _ZIP,
            "InputError", "field 'labels' must be a list of BigEarthNet label names (strings) or CLC codes "
            "(integers), not int (5)", "fix or remove the labels file")
def build_zip_labels_json_wrong_type(b, d):
    members = b.patch_members()
    members[f"{S2_NAME}/{S2_NAME}_labels_metadata.json"] = b'{"labels": 5}'
    return upload_case([b.zip_of(d / "labels_five.zip", members)])

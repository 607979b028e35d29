"""Upload cases, GeoTIFFs: files handed to `read_upload` (as the search page's uploader and
`python -m csmae_core inspect` hand them over) that are no usable Sentinel GeoTIFF: truncated or not a TIFF
at all, the wrong number of bands, NaN/inf or empty values, the wrong units, absurd sizes, band files of
two patches or two sensors."""
from __future__ import annotations

import shutil

import numpy as np

from tests.bad_inputs.builder import S1_NAME, S2_NAME, V1_S1, V1_S2, random_bytes, upload_case
from tests.bad_inputs.spec import Category

CASES = Category("upload")

_TIF = "read_upload(path)"
_TIFS = "read_upload(paths)"


@CASES.case("tif-truncated", "real S1 2-band GeoTIFF cut to 40 % of its bytes", _TIF, "InputError",
            "is not a readable GeoTIFF", "truncated or corrupt", "export or download it again")
def build_tif_truncated(b, d):
    path = b.s1_tif(d / "s1_truncated.tif")
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * 0.4)])
    return upload_case([path])


@CASES.case("tif-band-file-truncated", "real S2 band-file set (12 files) whose B03 file is cut in half",
            _TIFS, "InputError", f"{S2_NAME}_B03.tif is not a readable GeoTIFF", "export or download it again")
def build_tif_band_file_truncated(b, d):
    folder = b.patch_folder(d / "bands")
    b03 = folder / f"{S2_NAME}_B03.tif"
    b03.write_bytes(b03.read_bytes()[:b03.stat().st_size // 2])
    return upload_case(sorted(folder.glob("*.tif")))


@CASES.case("tif-corrupt-tiles", "tiled, deflate-compressed real S1 GeoTIFF with garbage bytes over its tiles",
            _TIF, "InputError", "is not a readable GeoTIFF", "export or download it again")
def build_tif_corrupt_tiles(b, d):
    path = b.s1_tif(d / "s1_corrupt.tif", tiled=True, blockxsize=64, blockysize=64, compress="deflate")
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start:start + 4096] = random_bytes(1, 4096)
    path.write_bytes(bytes(data))
    return upload_case([path])


@CASES.case("tif-zero-bytes", "empty file named .tif", _TIF, "InputError",
            "is not a GeoTIFF (an empty file)", "upload a multi-band GeoTIFF")
def build_tif_zero_bytes(b, d):
    path = d / "empty.tif"
    path.write_bytes(b"")
    return upload_case([path])


@CASES.case("tif-text", "text file renamed .tif", _TIF, "InputError",
            "is not a GeoTIFF (it does not start with a TIFF header)", "upload a multi-band GeoTIFF")
def build_tif_text(b, d):
    path = d / "notes.tif"
    path.write_text("band,value\nB02,1234\n")
    return upload_case([path])


@CASES.case("tif-png16", "16-bit greyscale PNG (real B02 values) renamed .tif", _TIF, "InputError",
            "is not a GeoTIFF (it is a PNG image)", "upload a multi-band GeoTIFF")
def build_tif_png16(b, d):
    from PIL import Image

    path = d / "b02_png16.tif"
    Image.fromarray(b.s2_stack(["B02"])[0].astype(np.uint16)).save(path, format="PNG")
    assert path.read_bytes()[:4] == b"\x89PNG"
    return upload_case([path])


@CASES.case("tif-vrt-xml", "GDAL VRT (XML) renamed .tif that points at /etc/passwd", _TIF, "InputError",
            "is not a GeoTIFF (it is an XML/HTML text file)", "upload a multi-band GeoTIFF", hostile=True)
def build_tif_vrt_xml(b, d):
    path = d / "points_elsewhere.tif"
    path.write_text('<VRTDataset rasterXSize="120" rasterYSize="120"><VRTRasterBand dataType="Byte" band="1">'
                    '<SimpleSource><SourceFilename relativeToVRT="0">/etc/passwd</SourceFilename>'
                    '<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>\n')
    return upload_case([path])


@CASES.case("tif-header-only", "TIFF magic bytes followed by random garbage", _TIF, "InputError",
            "is not a readable GeoTIFF", "export or download it again")
def build_tif_header_only(b, d):
    path = d / "header_only.tif"
    path.write_bytes(b"II*\x00" + random_bytes(2, 2000))
    return upload_case([path])


@CASES.case("tif-3-bands-uint16", "real S2 B04/B03/B02 as a 3-band uint16 GeoTIFF", _TIF, "InputError",
            "has 3 bands; expected 2 (S1) or 10/12/13 (S2) bands", "single-band files named like <name>_B02.tif")
def build_tif_3_bands_uint16(b, d):
    return upload_case([b.tif(d / "rgb16.tif", b.s2_stack(["B04", "B03", "B02"]), b.s2_real()[1])])


@CASES.case("tif-rgb-picture", "3-band 8-bit RGB GeoTIFF (a picture of the patch)", _TIF, "InputError",
            "is an 8-bit RGB image (a picture, not Sentinel bands)", "upload the bands themselves")
def build_tif_rgb_picture(b, d):
    rgb = np.clip(b.s2_stack(["B04", "B03", "B02"]) / 8, 0, 255).astype(np.uint8)
    return upload_case([b.tif(d / "picture.tif", rgb, b.s2_real()[1])])


@CASES.case("tif-7-bands", "real S2 bands, 7 of them, in one GeoTIFF", _TIF, "InputError",
            "has 7 bands; expected 2 (S1) or 10/12/13 (S2) bands")
def build_tif_7_bands(b, d):
    names = ["B02", "B03", "B04", "B05", "B06", "B07", "B08"]
    return upload_case([b.tif(d / "seven.tif", b.s2_stack(names), b.s2_real()[1])])


@CASES.case("tif-1-band", "single-band GeoTIFF (real B02) not named like a band file", _TIF, "InputError",
            "has 1 band; expected 2 (S1) or 10/12/13 (S2) bands", "single-band files named like <name>_B02.tif")
def build_tif_1_band(b, d):
    return upload_case([b.tif(d / "just_one.tif", b.s2_stack(["B02"]), b.s2_real()[1])])


_S2_10 = ["B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"]


@CASES.case("tif-nan", "real 10-band S2 (float32) with a NaN block", _TIF, "InputError",
            "band B04 holds NaN or infinite values", "fill them, or choose a window without them")
def build_tif_nan(b, d):
    data = b.s2_stack(_S2_10).astype(np.float32)
    data[2, 40:60, 40:60] = np.nan
    return upload_case([b.tif(d / "s2_nan.tif", data, b.s2_real()[1])])


@CASES.case("tif-inf", "real S1 (dB) with +inf pixels", _TIF, "InputError",
            "band VH holds NaN or infinite values", "fill them")
def build_tif_inf(b, d):
    data = b.s1_real()[0].copy()
    data[1, :3, :3] = np.inf
    return upload_case([b.s1_tif(d / "s1_inf.tif", data)])


@CASES.case("tif-minus-inf", "S1 in dB with -inf where the linear power was 0 (10*log10(0))", _TIF,
            "InputError", "band VV holds NaN or infinite values")
def build_tif_minus_inf(b, d):
    data = b.s1_real()[0].copy()
    data[0, 60:, 60:] = -np.inf
    return upload_case([b.s1_tif(d / "s1_minus_inf.tif", data)])


@CASES.case("tif-all-zero", "10-band S2 GeoTIFF of zeros (an empty export)", _TIF, "InputError",
            "band B02 is all zero in the chosen window (no data there)", "choose another window or check the export")
def build_tif_all_zero(b, d):
    return upload_case([b.tif(d / "zeros.tif", np.zeros((10, 120, 120), np.uint16), b.s2_real()[1])])


@CASES.case("tif-half-nodata", "real S1 whose right half is the declared nodata value", _TIF, "InputError",
            "50% of the chosen window is nodata", "choose a window fully inside the image's data")
def build_tif_half_nodata(b, d):
    data = b.s1_real()[0].copy()
    data[:, :, 60:] = -9999
    return upload_case([b.s1_tif(d / "s1_half_nodata.tif", data, nodata=-9999)])


@CASES.case("tif-s1-amplitude", "S1 as positive amplitudes / digital numbers (neither dB nor linear power)",
            _TIF, "InputError", "look like neither backscatter in dB", "calibrate to sigma0 (dB or linear)")
def build_tif_s1_amplitude(b, d):
    amplitude = (10 ** (b.s1_real()[0] / 20) * 2000).astype(np.float32)
    return upload_case([b.s1_tif(d / "s1_amplitude.tif", amplitude)])


@CASES.case("tif-s1-complex", "S1 as complex64 (an SLC product, not GRD backscatter)", _TIF, "InputError",
            "holds complex values", "upload GRD backscatter")
def build_tif_s1_complex(b, d):
    real = b.s1_real()[0]
    return upload_case([b.s1_tif(d / "s1_slc.tif", (real + 1j * real).astype(np.complex64))])


@CASES.case("tif-huge-dimensions", "S1 GeoTIFF declaring 100000 x 100000 pixels in a few kB (sparse tiles)",
            _TIF, "InputError", "declares 100000x100000 pixels", "crop it first")
def build_tif_huge_dimensions(b, d):
    path = b.huge_sparse_tif(d / "huge.tif", 2, "float32", b.s1_real()[1])
    assert path.stat().st_size < 64 * 1024, path.stat().st_size
    return upload_case([path])


@CASES.case("tif-huge-extent", "120 x 120 GeoTIFF with 1-degree pixels (13000 km wide on a 10 m grid)",
            _TIF, "InputError", "covers 16859 km x 16756 km", "pixels at 10 m", "crop it first")
def build_tif_huge_extent(b, d):
    from rasterio.transform import from_origin

    geo = {"crs": "EPSG:4326", "transform": from_origin(-60.0, 60.0, 1.0, 1.0)}
    return upload_case([b.tif(d / "continent.tif", b.s2_stack(_S2_10), geo)])


@CASES.case("tif-too-small", "real S1 cropped to 60 x 60 pixels (smaller than one patch)", _TIF, "InputError",
            "smaller than one 1200 m patch", "upload a larger area")
def build_tif_too_small(b, d):
    return upload_case([b.s1_tif(d / "s1_small.tif", b.s1_real()[0][:, :60, :60].copy())])


@CASES.case("tif-wrong-sensor", "real S1 GeoTIFF uploaded with sensor S2 chosen", "read_upload(path, sensor='s2')",
            "InputError", "the upload holds S1 bands, but sensor S2 was asked for", "upload S2 data or drop the choice")
def build_tif_wrong_sensor(b, d):
    return upload_case([b.s1_tif(d / "s1_as_s2.tif")], sensor="s2")


@CASES.case("tif-band-files-two-patches", "real band files of two different patch names", _TIFS, "InputError",
            "the files belong to more than one patch", "upload the band files of one patch")
def build_tif_band_files_two_patches(b, d):
    folder = b.patch_folder(d / "bands")
    other = folder / f"{S2_NAME}_B04.tif"
    other.rename(folder / "S2A_MSIL2A_20170613T101031_87_49_B04.tif")
    return upload_case(sorted(folder.glob("*.tif")))


@CASES.case("tif-band-files-mixed-sensors", "real S1 VV/VH files together with real S2 band files", _TIFS,
            "InputError", "mix Sentinel-1 and Sentinel-2", "give one sensor")
def build_tif_band_files_mixed_sensors(b, d):
    folder = b.patch_folder(d / "bands")
    for pol in ("VV", "VH"):
        shutil.copyfile(V1_S1 / f"{S1_NAME}_{pol}.tif", folder / f"{S2_NAME}_{pol}.tif")
    return upload_case(sorted(folder.glob("*.tif")))


@CASES.case("tif-declared-scene-huge-blocks", "12-band S2 GeoTIFF declaring 12288 x 12288 uint16 pixels (3.4 GiB "
            "decoded) in 8192 x 8192 tiles of 128 MiB, a few kB (sparse)", _TIF, "InputError",
            "declares 12288x12288x12 uint16 pixels", "more than the 256 MiB read at once", "blocks of 128 MiB",
            "save it tiled")
def build_tif_declared_scene_huge_blocks(b, d):
    import rasterio

    path = d / "scene.tif"
    with rasterio.open(path, "w", driver="GTiff", count=12, width=12_288, height=12_288, dtype="uint16",
                       tiled=True, blockxsize=8192, blockysize=8192, interleave="band", compress="deflate",
                       sparse_ok=True, **b.s2_real()[1]):
        pass  # no tile written
    assert path.stat().st_size < 64 * 1024, path.stat().st_size
    return upload_case([path])


@CASES.case("tif-upload-over-total-cap", "real S2 B02 and B03 band files, each padded to 105 MiB (sparse): 210 MiB "
            "in one upload, each file under the 200 MiB limit", _TIFS, "InputError",
            "hold 210.0 MiB together, more than the 200 MiB an upload may hold in total", "upload one patch")
def build_tif_upload_over_total_cap(b, d):
    import os

    paths = []
    for band in ("B02", "B03"):
        path = d / f"{S2_NAME}_{band}.tif"
        shutil.copyfile(V1_S2 / path.name, path)
        os.truncate(path, 105 * 2**20)  # a readable TIFF followed by zeros, stored sparse
        paths.append(path)
    return upload_case(paths)

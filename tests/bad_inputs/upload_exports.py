"""Upload cases, real tools' exports read wrongly before: band descriptions that do not identify a band
the model needs (no default order is assumed then), a band described twice, units declared in
contradiction, fill values without a nodata tag (S1 linear power exactly 0 at a swath edge, -9999 in
dB, an S2 border that is 0 in every band), a zip holding two S1 patches."""
from __future__ import annotations

import numpy as np

from tests.bad_inputs.builder import upload_case
from tests.bad_inputs.spec import Category

CASES = Category("upload")

_TIF = "read_upload(path)"
_S2_ESA = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


@CASES.case("tif-band-unidentified", "real 12-band S2 whose B08 is described 'NIR_broad' (not a name any tool uses)",
            _TIF, "InputError", "the band descriptions do not identify S2 band(s) B08",
            "'NIR_broad' (band 8)", "describe each band with its name")
def build_tif_band_unidentified(b, d):
    names = list(_S2_ESA)
    names[7] = "NIR_broad"
    return upload_case([b.tif(d / "s2_odd_name.tif", b.s2_stack(_S2_ESA), b.s2_real()[1], names)])


@CASES.case("tif-band-described-twice", "real 12-band S2 whose bands 3 and 4 are both described 'red'", _TIF,
            "InputError", "bands 3 and 4 are both described as B04", "describe each band once")
def build_tif_band_described_twice(b, d):
    names = ["coastal", "blue", "red", "red", "rededge1", "rededge2", "rededge3", "nir", "nir08", "nir09",
             "swir16", "swir22"]
    return upload_case([b.tif(d / "s2_twice.tif", b.s2_stack(_S2_ESA), b.s2_real()[1], names)])


@CASES.case("tif-s1-mixed-units", "real S1 described Sigma0_VV_db and Amplitude_VH", _TIF, "InputError",
            "declare different units", "export VV and VH in one unit")
def build_tif_s1_mixed_units(b, d):
    real, geo = b.s1_real()
    return upload_case([b.tif(d / "s1_mixed.tif", real, geo, ["Sigma0_VV_db", "Amplitude_VH"])])


@CASES.case("tif-s1-linear-zero-edge", "real S1 in linear power whose first 12 columns are 0 (swath edge), "
            "no nodata tag", _TIF, "InputError", "10% of the chosen window is nodata",
            "power exactly 0", "although the file has no nodata tag", "choose a window fully inside")
def build_tif_s1_linear_zero_edge(b, d):
    real, geo = b.s1_real()
    linear = (10 ** (real / 10)).astype(np.float32)
    linear[:, :, :12] = 0
    return upload_case([b.tif(d / "s1_edge.tif", linear, geo, ["Sigma0_VV", "Sigma0_VH"])])


@CASES.case("tif-s1-db-fill", "real S1 in dB with a -9999 block, no nodata tag", _TIF, "InputError",
            "25% of the chosen window is nodata", "-9999", "although the file has no nodata tag")
def build_tif_s1_db_fill(b, d):
    real, geo = b.s1_real()
    data = real.copy()
    data[:, :60, :60] = -9999
    return upload_case([b.tif(d / "s1_fill.tif", data, geo, ["VV", "VH"])])


@CASES.case("tif-s2-zero-border", "real 12-band S2 whose last 30 rows are 0 in every band, no nodata tag", _TIF,
            "InputError", "25% of the chosen window is nodata", "0 in every band",
            "although the file has no nodata tag")
def build_tif_s2_zero_border(b, d):
    data = b.s2_stack(_S2_ESA).copy()
    data[:, 90:, :] = 0
    return upload_case([b.tif(d / "s2_border.tif", data, b.s2_real()[1], list(_S2_ESA))])


@CASES.case("zip-two-s1-patches", "a zip of two S1 patch folders (a pair needs one S1 and one S2)", "read_upload(zip)",
            "InputError", "holds more than one patch", "or the S1 and the S2 folder of one pair")
def build_zip_two_s1_patches(b, d):
    from tests.bad_inputs.builder import S1_NAME, V1_S1

    members = {}
    for suffix in ("", "_copy"):
        for pol in ("VV", "VH"):
            members[f"{S1_NAME}{suffix}/{S1_NAME}{suffix}_{pol}.tif"] = V1_S1 / f"{S1_NAME}_{pol}.tif"
    return upload_case([b.zip_of(d / "two_s1.zip", members)])


@CASES.case("zip-pair-of-two-places", "a zip of a real S1 patch folder and the real S2 bands moved 12 km east "
            "(another place)", "read_upload(zip)", "InputError", "of different places",
            "zip the S1 and the S2 folder of one pair")
def build_zip_pair_of_two_places(b, d):
    import rasterio
    from rasterio import Affine

    from tests.bad_inputs.builder import S1_NAME, S2_NAME, V1_S1, V1_S2

    members = {f"{S1_NAME}/{path.name}": path for path in sorted(V1_S1.glob("*.tif"))}
    for path in sorted(V1_S2.glob("*.tif")):
        with rasterio.open(path) as source:
            t = source.transform
            geo = {"crs": source.crs, "transform": Affine(t.a, t.b, t.c + 12000, t.d, t.e, t.f)}
            members[f"{S2_NAME}/{path.name}"] = b.tif(d / path.name, source.read(), geo)
    return upload_case([b.zip_of(d / "two_places.zip", members)])


@CASES.case("zip-band-files-two-folders", "a zip of SSL4EO-style band files (B2.tif ...) split over two folders",
            "read_upload(zip)", "InputError", "holds band files in more than one folder", "zip one patch folder")
def build_zip_band_files_two_folders(b, d):
    members = {}
    for index, band in enumerate(("B02", "B03", "B04", "B08")):
        gee = f"B{int(band[1:])}"
        members[f"{'a' if index < 2 else 'b'}/{gee}.tif"] = b.tif(d / f"{gee}.tif", b.s2_stack([band]), b.s2_real()[1])
    return upload_case([b.zip_of(d / "split.zip", members)])

"""The rules behind real-world uploads, on tiny generated rasters: band names of real tools, units and
fill values, declared offsets against the data, Level-1C, the plausibility warnings."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from csmae_core.errors import InputError
from csmae_core.io.upload import read_upload
from csmae_core.io.upload.naming import NOT_SPECTRAL, parse_band_name

ESA = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


@pytest.mark.parametrize("text, band, unit", [
    ("B02", "B02", None), ("B2", "B02", None), ("b8a", "B8A", None), ("B8A", "B8A", None), ("B10", "B10", None),
    ("B02_10m", "B02", None), ("blue", "B02", None), ("nir", "B08", None), ("nir08", "B8A", None),
    ("nir09", "B09", None), ("rededge3", "B07", None), ("swir16", "B11", None), ("coastal", "B01", None),
    ("VV", "VV", None), ("vh", "VH", None), ("Sigma0_VV_db", "VV", "db"), ("Sigma0_VH", "VH", "power"),
    ("Amplitude_VH", "VH", "amplitude"), ("Intensity_VV", "VV", "power"), ("Gamma0_VV_db", "VV", "db"),
    ("angle", NOT_SPECTRAL, None), ("QA60", NOT_SPECTRAL, None), ("SCL", NOT_SPECTRAL, None),
    ("MSK_CLDPRB", NOT_SPECTRAL, None), ("AOT", NOT_SPECTRAL, None), ("WVP", NOT_SPECTRAL, None),
    ("TCI_R", NOT_SPECTRAL, None), ("cloud_probability", NOT_SPECTRAL, None),
    ("B13", None, None), ("NIR_broad", None, None), ("Phase_VV", None, None), ("HH", None, None),
])
def test_band_names_of_real_tools(text, band, unit):
    assert parse_band_name(text) == (band, unit)


def write(path, data, descriptions=None, **profile):
    with rasterio.open(path, "w", driver="GTiff", count=data.shape[0], height=data.shape[1], width=data.shape[2],
                       dtype=data.dtype.name, crs="EPSG:32633", transform=from_origin(500000, 5300000, 10, 10),
                       **profile) as dataset:
        dataset.write(data)
        for index, text in enumerate(descriptions or [], start=1):
            dataset.set_band_description(index, text)
    return path


def s1_db(seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-16, -8, (120, 120)), rng.uniform(-24, -16, (120, 120))]).astype(np.float32)


def s2_dn(seed=0, base=100):
    rng = np.random.default_rng(seed)
    return (base + rng.integers(0, 3000, (12, 120, 120))).astype(np.uint16)


def test_generic_descriptions_count_as_none(tmp_path):
    record = read_upload(write(tmp_path / "g.tif", s1_db(), ["Band 1", "Band 2"]))
    assert any(n.startswith("no band descriptions") for n in record.notes)


def test_vh_brighter_than_vv_is_warned(tmp_path):
    swapped = s1_db()[::-1].copy()
    record = read_upload(write(tmp_path / "s.tif", swapped))
    assert any("VH is brighter than VV in the median" in n and "swapped" in n for n in record.notes)
    record = read_upload(write(tmp_path / "ok.tif", s1_db()))
    assert not any("brighter" in n for n in record.notes)


def test_declared_db_that_is_linear_is_said_and_read_as_linear(tmp_path):
    linear = (10 ** (s1_db() / 10)).astype(np.float32)
    record = read_upload(write(tmp_path / "l.tif", linear, ["Sigma0_VV_db", "Sigma0_VH_db"]))
    assert any("descriptions say backscatter in dB, but the values" in n for n in record.notes)
    np.testing.assert_allclose(record.bands["VV"], s1_db()[0], atol=1e-4)


def test_amplitude_is_squared_before_db(tmp_path):
    amplitude = (10 ** (s1_db() / 20)).astype(np.float32)
    record = read_upload(write(tmp_path / "a.tif", amplitude, ["Amplitude_VV", "Amplitude_VH"]))
    np.testing.assert_allclose(record.bands["VH"], s1_db()[1], atol=1e-4)


def test_tagged_nodata_and_untagged_fill_are_the_same_rule(tmp_path):
    data = s1_db()
    data[:, :12, :] = -9999
    with pytest.raises(InputError, match="band VV: 10% of the chosen window is nodata") as tagged:
        read_upload(write(tmp_path / "t.tif", data, nodata=-9999))
    with pytest.raises(InputError, match="band VV: 10% of the chosen window is nodata") as untagged:
        read_upload(write(tmp_path / "u.tif", data))
    assert "no nodata tag" in str(untagged.value) and "no nodata tag" not in str(tagged.value)


def test_db_values_at_or_below_minus_50_are_fill(tmp_path):
    data = s1_db()
    data[1, 0, 0] = -60
    with pytest.raises(InputError, match=r"band VH: .* is nodata \(-9999 or -50 dB and below"):
        read_upload(write(tmp_path / "f.tif", data))


def test_offset_tag_agreeing_with_the_data_is_applied(tmp_path):
    data = s2_dn(base=1100)
    record = read_upload(write(tmp_path / "o.tif", data, list(ESA)))
    assert any("declares no offset: kept as they are" in n for n in record.notes)
    assert int(record.bands["B02"].min()) >= 1100
    path = write(tmp_path / "tagged.tif", data, list(ESA))
    with rasterio.open(path, "r+") as dataset:
        dataset.update_tags(BOA_ADD_OFFSET="-1000")
    record = read_upload(path)
    np.testing.assert_array_equal(record.bands["B02"], data[1] - 1000)


def test_offset_tag_on_data_without_offset_is_not_applied(tmp_path):
    data = s2_dn(base=20)
    path = write(tmp_path / "tagged.tif", data, list(ESA))
    with rasterio.open(path, "r+") as dataset:
        dataset.update_tags(RADIO_ADD_OFFSET="-1000")
    record = read_upload(path)
    np.testing.assert_array_equal(record.bands["B02"], data[1])
    assert any("RADIO_ADD_OFFSET=-1000 declares an offset of -1000, but the data disagree" in n for n in record.notes)


@pytest.mark.parametrize("how", ["name", "tag"])
def test_level_1c_is_warned(tmp_path, how):
    name = "S2A_MSIL1C_20170613T101031_N0205_R022_T33UUP.tif" if how == "name" else "scene.tif"
    path = write(tmp_path / name, s2_dn(), list(ESA))
    if how == "tag":
        with rasterio.open(path, "r+") as dataset:
            dataset.update_tags(PROCESSING_LEVEL="Level-1C")
    record = read_upload(path)
    assert any("looks like a Level-1C (top-of-atmosphere) product" in n for n in record.notes)
    assert not any("offset" in n for n in record.notes)  # N0205 predates the offset


def test_partial_descriptions_refuse_naming_the_missing_band(tmp_path):
    names = list(ESA)
    names[3] = ""
    with pytest.raises(InputError, match=r"do not identify S2 band\(s\) B04"):
        read_upload(write(tmp_path / "p.tif", s2_dn(), names))

"""Every readable real-world form of a patch (scripts/measure_inputs.FORMS: ESA/GEE/STAC/SNAP names, offset
products, percent, SAFE JP2, SSL4EO/Major-TOM band files, zips, pairs) built from a real demo patch with
rasterio: read by `read_upload`, it embeds like the original patch (cosine > 0.99 with the real demo model)
and its notes say what was done. The guards: data without an offset is never "corrected", a harmonised
export named N04xx stays as it is."""
from __future__ import annotations

import numpy as np
import pytest

from csmae_core.io.upload import read_upload, read_upload_pair
from scripts.measure_inputs import FORMS, footprint_of

ROW = 3  # a v1 pair of the demo archive (Austria)
# what the notes of each form must say (fragments); forms without an entry just name their bands
NOTES = {
    "s2-no-descriptions": ["no band descriptions: assumed the default 12-band S2 order"],
    "s2-gee-export": ["B1=B01", "B8A", "ignored non-spectral band(s) AOT, WVP, SCL, QA60, MSK_CLDPRB"],
    "s2-stac-names": ["blue=B02", "nir=B08", "nir08=B8A", "swir22=B12"],
    "s2-offset-tag": ["applied the offset -1000 declared by the tag BOA_ADD_OFFSET=-1000; the data agree"],
    "s2-offset-gdal": ["applied the offset -1000 declared by the GDAL band scale 0.0001 and offset -0.1"],
    "s2-offset-name": ["applied the offset -1000 declared by processing baseline 05.09 in the name"],
    "s2-harmonised-N04": ["declares an offset of -1000, but the data disagree", "kept the values as they are"],
    "s2-percent": ["scaled reflectance from percent"],
    "s2-unit-floats": ["scaled reflectance from 0-1"],
    "s2-south-up": ["reprojected from EPSG:"],
    "s2-l1c-13": ["dropped band B10", "looks like a Level-1C (top-of-atmosphere) product"],
    "s2-safe-jp2": ["bands named from the file names:", "T33UUP_20170613T101031_B02_10m.jp2=B02"],
    "s2-ssl4eo-files": ["bands named from the file names:", "B2.tif=B02", "B8A.tif=B8A"],
    "s2-majortom-files": ["B02.tif=B02", "applied the offset -1000 declared by processing baseline 05.09"],
    "s2-zip-geotiff": ["read the GeoTIFF patch/patch.tif from upload.zip"],
    "s2-zip-ssl4eo": ["B2.tif=B02", "read the band files of patch from upload.zip"],
    "s2-zip-safe-jp2": ["T33UUP_20170613T101031_B8A_20m.jp2=B8A", "read the band files of patch from upload.zip"],
    "s2-zip-folder": ["read BigEarthNet patch folder"],
    "pair-zip": ["the zip holds the S1 and S2 patches of one pair", "read S2"],
    "s1-snap-db": ["Sigma0_VH_db=VH", "Sigma0_VV_db=VV"],
    "s1-snap-power": ["Sigma0_VH=VH", "converted linear power to dB"],
    "s1-snap-intensity": ["Intensity_VH=VH", "converted linear power to dB"],
    "s1-snap-amplitude": ["Amplitude_VH=VH", "converted amplitude to dB", "squared"],
    "s1-gee-export": ["ignored non-spectral band(s) angle"],
    "s1-power-no-descriptions": ["no band descriptions", "converted linear power to dB"],
    "s1-zip-geotiff": ["read the GeoTIFF patch/s1.tif from upload.zip"],
}
READABLE = [name for name in FORMS if name != "s2-offset-undeclared"]


@pytest.fixture(scope="module")
def demo(demo_archive):
    import csmae_core

    encoder = csmae_core.load_model("assets/models/demo.pt")
    row = demo_archive.table.iloc[ROW]
    return encoder, demo_archive.load_pair(row), footprint_of(row)


def embed(encoder, record) -> np.ndarray:
    return encoder.embed_records([record], record.sensor)[0]


def build(name, demo, tmp_path):
    _, pair, fp = demo
    files = FORMS[name][2](pair, fp, tmp_path)
    return files if len(files) > 1 else files[0]


@pytest.mark.parametrize("name", READABLE)
def test_each_form_embeds_like_the_original_patch(name, demo, tmp_path):
    encoder, pair, _ = demo
    sensor = FORMS[name][0]
    record = read_upload(build(name, demo, tmp_path))
    assert record.sensor == sensor
    cosine = float(embed(encoder, record) @ embed(encoder, pair.record(sensor)))
    assert cosine > 0.99, (name, cosine, record.notes)
    for fragment in NOTES.get(name, ["bands named from the file's band descriptions"]):
        assert any(fragment in note for note in record.notes), (fragment, record.notes)


def test_data_without_an_offset_is_never_corrected(demo, tmp_path):
    _, pair, _ = demo
    undeclared = read_upload(build("s2-offset-undeclared", demo, tmp_path / "a"))
    np.testing.assert_array_equal(undeclared.bands["B02"], pair.s2.bands["B02"].astype(np.int64) + 1000)
    assert any("declares no offset: kept as they are" in note for note in undeclared.notes)
    harmonised = read_upload(build("s2-harmonised-N04", demo, tmp_path / "b"))
    for band, array in pair.s2.bands.items():
        np.testing.assert_array_equal(harmonised.bands[band], array, err_msg=band)
    plain = read_upload(build("s2-esa-names", demo, tmp_path / "c"))
    assert not any("offset" in note for note in plain.notes)


def test_pair_zip_reads_both_sensors(demo, tmp_path):
    encoder, pair, _ = demo
    path = build("pair-zip", demo, tmp_path)
    both = read_upload_pair(path)
    assert (both.s1.name, both.s2.name) == (pair.s1.name, pair.s2.name)
    s1 = read_upload(path, sensor="s1")
    assert s1.sensor == "s1" and any("read S1" in note for note in s1.notes)
    for sensor in ("s1", "s2"):
        assert float(embed(encoder, both.record(sensor)) @ embed(encoder, pair.record(sensor))) > 0.99

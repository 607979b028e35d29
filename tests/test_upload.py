"""Tests of csmae_core.io.upload: every accepted upload form and every rejection.

All inputs are generated in pytest's tmp_path with rasterio and numpy.
"""
from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import CRS
from rasterio.transform import from_origin

from csmae_core.bands import BANDS, IGNORED_BANDS, PATCH_PIXELS, STORED_BANDS, UPLOAD_DEFAULT_ORDER
from csmae_core.errors import DataNotFoundError, InputError
from csmae_core.io.upload import MAX_UPLOAD_BYTES, read_upload, safety, upload_raster_size

UTM33 = "EPSG:32633"
X0, Y0 = 500000.0, 5300000.0
S2_NAME = "S2A_MSIL2A_20170613T101031_87_48"

# the generators below write rasters without georeference on purpose
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


# ------------------------------------------------------------------------------------ generators


def write_tif(path: Path, data: np.ndarray, *, crs=UTM33, pixel: float = 10.0, origin=(X0, Y0),
              descriptions=None, nodata=None, photometric=None) -> Path:
    """A GeoTIFF of `data` (bands, rows, cols); crs=None writes one without georeference."""
    data = data if data.ndim == 3 else data[None]
    profile = {"driver": "GTiff", "count": data.shape[0], "height": data.shape[1],
               "width": data.shape[2], "dtype": data.dtype.name}
    if crs is not None:
        profile.update(crs=crs, transform=from_origin(origin[0], origin[1], pixel, pixel))
    if nodata is not None:
        profile["nodata"] = nodata
    if photometric:
        profile["photometric"] = photometric
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(data)
        for index, text in enumerate(descriptions or [], start=1):
            dataset.set_band_description(index, text)
    return path


def s2_stack(count: int, size: int = PATCH_PIXELS, seed: int = 0) -> np.ndarray:
    """Distinct reflectances per band (band i around 1000*(i+1)), so a wrong order shows up."""
    rng = np.random.default_rng(seed)
    base = np.arange(1, count + 1, dtype=np.uint16)[:, None, None] * 1000
    return (base + rng.integers(1, 500, (count, size, size))).astype(np.uint16)


def s1_stack(size: int = PATCH_PIXELS, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-20, -5, (size, size)), rng.uniform(-30, -12, (size, size))]
                    ).astype(np.float32)


def block_mean(array: np.ndarray, native: int) -> np.ndarray:
    factor = array.shape[0] // native
    return array.reshape(native, factor, native, factor).astype(np.float64).mean(axis=(1, 3))


def expected_s2(band_stack: np.ndarray, order) -> dict[str, np.ndarray]:
    """BigEarthNet-sized uint16 arrays of a 120x120 stack whose bands are in `order`."""
    out = {}
    for index, band in enumerate(order):
        if band not in IGNORED_BANDS:
            native = block_mean(band_stack[index], BANDS[band].native_pixels)
            out[band] = np.rint(native).astype(np.uint16)
    return out


def assert_bigearthnet_shapes(record) -> None:
    for band, array in record.bands.items():
        size = BANDS[band].native_pixels
        assert array.shape == (size, size), band
        assert array.dtype == (np.uint16 if record.sensor == "s2" else np.float32)


def write_band_files(folder: Path, name: str, sensor: str = "s2", sizes=None, pixel_scale: int = 1,
                     crs=UTM33) -> list[Path]:
    """One `<name>_<band>.tif` per stored band, at native size (x sizes factor) and resolution."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for number, band in enumerate(STORED_BANDS[sensor], start=1):
        size = BANDS[band].native_pixels * pixel_scale
        if sensor == "s2":
            data = (number * 500 + rng.integers(1, 400, (size, size))).astype(np.uint16)
        else:
            data = rng.uniform(-25, -5, (size, size)).astype(np.float32)
        pixel = BANDS[band].resolution_m
        paths.append(write_tif(folder / f"{name}_{band}.tif", data, pixel=pixel, crs=crs))
    return paths


def labels_metadata(name: str) -> dict:
    return {"labels": ["Non-irrigated arable land"],
            "coordinates": {"ulx": X0, "uly": Y0, "lrx": X0 + 1200, "lry": Y0 - 1200},
            "projection": CRS.from_epsg(32633).to_wkt(),
            "tile_source": "S2A_MSIL1C_20170613T101031_N0205_R022_T33UUP_20170613T101541",
            "acquisition_date": "2017-06-13 10:10:31"}


def zip_folder(zip_path: Path, folder: Path, arc_root: str | None = None) -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, f"{arc_root or folder.name}/{file.name}")
    return zip_path


# ------------------------------------------------------------------------------ multi-band S2


def test_s2_12_bands_with_descriptions_round_trip(tmp_path):
    # Descriptions in a non-default order and in mixed spellings: the descriptions must win.
    order = ("B02", "B03", "B04", "B08", "B05", "B06", "B07", "B11", "B12", "B8A", "B01", "B09")
    spellings = ["B2", "b03", "B4", "B08", "b5", "B06", "B7", "B11", "b12", "b8a", "B1", "B09"]
    data = s2_stack(12)
    path = write_tif(tmp_path / "scene.tif", data, descriptions=spellings)
    record = read_upload(path)
    assert record.sensor == "s2" and record.name == "scene" and record.source == "upload"
    assert list(record.bands) == list(STORED_BANDS["s2"])
    assert_bigearthnet_shapes(record)
    for band, array in expected_s2(data, order).items():
        np.testing.assert_array_equal(record.bands[band], array, err_msg=band)
    assert record.footprint.epsg == 32633
    assert (record.footprint.ulx, record.footprint.uly) == (X0, Y0)
    assert (record.footprint.lrx, record.footprint.lry) == (X0 + 1200, Y0 - 1200)
    assert any("band descriptions" in note for note in record.notes)
    assert not any("window" in note for note in record.notes)


def test_s2_10_bands_without_descriptions_uses_default_order(tmp_path):
    data = s2_stack(10)
    record = read_upload(write_tif(tmp_path / "ten.tif", data))
    order = UPLOAD_DEFAULT_ORDER[10][1]
    assert any("no band descriptions: assumed the default 10-band S2 order " + ", ".join(order) in n
               for n in record.notes)
    for band, array in expected_s2(data, order).items():
        np.testing.assert_array_equal(record.bands[band], array, err_msg=band)
    assert set(record.bands) == set(order)


def test_s2_13_bands_drops_b10(tmp_path):
    data = s2_stack(13)
    record = read_upload(write_tif(tmp_path / "l1c.tif", data))
    order = UPLOAD_DEFAULT_ORDER[13][1]
    assert "B10" not in record.bands
    assert set(record.bands) == set(STORED_BANDS["s2"])
    assert any("dropped band B10" in note for note in record.notes)
    for band, array in expected_s2(data, order).items():
        np.testing.assert_array_equal(record.bands[band], array, err_msg=band)


def test_unrecognised_descriptions_are_refused_not_guessed(tmp_path):
    # Issue 12 changed this rule: described bands that do not identify every needed band are refused and
    # named (the old default-order fallback swapped bands of real exports silently).
    data = s2_stack(12)
    names = ["coastal", "blue", "green", "red"] + [f"x{i}" for i in range(8)]
    with pytest.raises(InputError, match="do not identify S2 band"):
        read_upload(write_tif(tmp_path / "named.tif", data, descriptions=names))


def test_s2_reflectance_floats_are_scaled(tmp_path):
    data = s2_stack(12).astype(np.float32) / 10000
    record = read_upload(write_tif(tmp_path / "float.tif", data))
    assert any("0-1 to BigEarthNet's 0-10000" in note for note in record.notes)
    np.testing.assert_array_equal(record.bands["B02"], np.rint(data[1].astype(np.float64) * 10000))
    assert record.bands["B02"].dtype == np.uint16


# ---------------------------------------------------------------------------------- multi-band S1


def test_s1_db_passes_unchanged(tmp_path):
    data = s1_stack()
    record = read_upload(write_tif(tmp_path / "s1.tif", data), sensor="s1")
    assert record.sensor == "s1" and list(record.bands) == ["VV", "VH"]
    assert_bigearthnet_shapes(record)
    np.testing.assert_array_equal(record.bands["VV"], data[0])  # default order: VV, VH
    np.testing.assert_array_equal(record.bands["VH"], data[1])
    assert not any("dB" in note for note in record.notes)


def test_s1_linear_power_is_converted_to_db(tmp_path):
    rng = np.random.default_rng(3)
    linear = rng.uniform(0.001, 0.5, (2, PATCH_PIXELS, PATCH_PIXELS)).astype(np.float32)
    linear[0, 0, 0] = 1e-7  # far below the floor: clipped to -60 dB (an exact 0 is nodata since issue 12)
    record = read_upload(write_tif(tmp_path / "lin.tif", linear, descriptions=["vh", "VV"]))
    assert any("converted linear power to dB" in note for note in record.notes)
    expected = 10 * np.log10(np.maximum(linear.astype(np.float64), 1e-6))
    np.testing.assert_allclose(record.bands["VH"], expected[0], rtol=1e-6)
    np.testing.assert_allclose(record.bands["VV"], expected[1], rtol=1e-6)
    assert record.bands["VH"][0, 0] == pytest.approx(-60.0)


# ------------------------------------------------------------------------- windows and resampling


def test_large_raster_centre_window_and_explicit_window(tmp_path):
    data = s1_stack(size=1068)
    path = write_tif(tmp_path / "big.tif", data)
    assert upload_raster_size(path) == (1068, 1068)
    record = read_upload(path)
    assert "window 120x120 at 474,474 of 1068x1068" in record.notes
    np.testing.assert_array_equal(record.bands["VV"], data[0, 474:594, 474:594])
    assert (record.footprint.ulx, record.footprint.uly) == (X0 + 4740, Y0 - 4740)
    record = read_upload(path, window=(0, 948))
    assert "window 120x120 at 0,948 of 1068x1068" in record.notes
    np.testing.assert_array_equal(record.bands["VH"], data[1, 948:1068, 0:120])
    assert record.meta["window"] == (0, 948)


def test_window_outside_raster_names_valid_range(tmp_path):
    path = write_tif(tmp_path / "big.tif", s1_stack(size=200))
    with pytest.raises(InputError, match=r"window 81,0 lies outside the 200x200 raster: col_off must "
                                         r"be in 0\.\.80 and row_off in 0\.\.80"):
        read_upload(path, window=(81, 0))
    with pytest.raises(InputError, match="window must be two integers"):
        read_upload(path, window=("a", 3))


def test_20m_raster_is_resampled_to_10m(tmp_path):
    data = s2_stack(12, size=200)  # 4000 m at 20 m -> 400x400 at 10 m
    record = read_upload(write_tif(tmp_path / "twenty.tif", data, pixel=20.0))
    assert any(n.startswith("reprojected from EPSG:32633 (about 20 m pixels) to EPSG:32633 at 10 m")
               for n in record.notes)
    assert "window 120x120 at 140,140 of 400x400" in record.notes
    assert_bigearthnet_shapes(record)
    assert record.footprint.epsg == 32633
    assert record.footprint.ulx == X0 + 1400
    # Nearest up-sampling then area averaging gives back the 20 m pixels of a 20 m band exactly.
    np.testing.assert_array_equal(record.bands["B05"], data[4, 70:130, 70:130])


def test_epsg4326_raster_is_reprojected_to_utm(tmp_path):
    data = s2_stack(12, size=300)  # 0.03 x 0.03 degrees near 12.5E 48N: about 2.2 x 3.3 km
    path = write_tif(tmp_path / "wgs84.tif", data, crs="EPSG:4326", pixel=0.0001, origin=(12.5, 48.0))
    record = read_upload(path)
    assert any(n.startswith("reprojected from EPSG:4326") and "to EPSG:32633 at 10 m" in n
               for n in record.notes)
    assert_bigearthnet_shapes(record)
    assert record.footprint.epsg == 32633
    assert record.footprint.ulx % 10 == 0 and record.footprint.lrx - record.footprint.ulx == 1200
    width, height = upload_raster_size(path)
    assert 200 < width < 260 and 300 < height < 360
    # A corner window reaches outside the rotated source footprint: refused, not zero-filled.
    with pytest.raises(InputError, match="of the chosen window is nodata"):
        read_upload(path, window=(0, 0))


def test_raster_without_crs_is_taken_as_10m_pixels(tmp_path):
    data = s2_stack(12)
    record = read_upload(write_tif(tmp_path / "plain.tif", data, crs=None))
    assert "no georeference: location unknown" in record.notes
    assert record.footprint is None
    np.testing.assert_array_equal(record.bands["B04"], data[3])


# ----------------------------------------------------------------------------- band-file sets


def test_single_band_files_of_bigearthnet_size(tmp_path):
    paths = write_band_files(tmp_path / "files", S2_NAME)
    record = read_upload([str(p) for p in reversed(paths)])
    assert record.name == S2_NAME and record.sensor == "s2"
    assert list(record.bands) == list(STORED_BANDS["s2"])
    assert_bigearthnet_shapes(record)
    with rasterio.open(paths[1]) as dataset:  # B02
        np.testing.assert_array_equal(record.bands["B02"], dataset.read(1))
    assert record.footprint.epsg == 32633 and record.footprint.ulx == X0


def test_larger_single_band_files_are_windowed_per_band(tmp_path):
    name = "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_61_39"
    paths = write_band_files(tmp_path / "s1", name, sensor="s1", pixel_scale=2)
    record = read_upload(paths, window=(100, 20))
    assert record.sensor == "s1" and "window 120x120 at 100,20 of 240x240" in record.notes
    with rasterio.open(paths[0]) as dataset:  # VV
        np.testing.assert_array_equal(record.bands["VV"], dataset.read(1)[20:140, 100:220])
    paths = write_band_files(tmp_path / "s2", S2_NAME, pixel_scale=2)
    record = read_upload(paths)
    assert_bigearthnet_shapes(record)
    with rasterio.open(paths[4]) as dataset:  # B05, 20 m: the centre window is 30..90 of 120
        np.testing.assert_array_equal(record.bands["B05"], dataset.read(1)[30:90, 30:90])


# ------------------------------------------------------------------------------------------ zip


def make_patch_folder(root: Path, name: str = S2_NAME) -> Path:
    folder = root / name
    write_band_files(folder, name)
    (folder / f"{name}_labels_metadata.json").write_text(json.dumps(labels_metadata(name)))
    return folder


def test_zip_of_v1_patch_folder_with_labels(tmp_path):
    folder = make_patch_folder(tmp_path / "src")
    record = read_upload(zip_folder(tmp_path / "patch.zip", folder))
    assert record.name == S2_NAME and record.sensor == "s2" and record.source == "upload"
    assert record.labels_43 == ["Non-irrigated arable land"]
    assert record.labels == ["Arable land"]
    assert record.footprint.epsg == 32633 and record.footprint.ulx == X0
    assert list(record.bands) == list(STORED_BANDS["s2"])
    assert_bigearthnet_shapes(record)
    assert any("from patch.zip" in note for note in record.notes)
    assert upload_raster_size(tmp_path / "patch.zip") == (PATCH_PIXELS, PATCH_PIXELS)


def test_zip_ignores_directories_and_macos_junk(tmp_path):
    folder = make_patch_folder(tmp_path / "src")
    path = zip_folder(tmp_path / "patch.zip", folder)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(f"__MACOSX/{S2_NAME}/._{S2_NAME}_B02.tif", b"junk")
        archive.writestr(f"{S2_NAME}/readme.txt", b"hello")
    assert read_upload(path).name == S2_NAME


# ------------------------------------------------------------------------------------ rejections


def test_rejects_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such file: .*nothing.tif"):
        read_upload(tmp_path / "nothing.tif")


def test_rejects_folder_and_empty_list(tmp_path):
    with pytest.raises(InputError, match="is a folder, not a file"):
        read_upload(tmp_path)
    with pytest.raises(InputError, match="no file given"):
        read_upload([])


def test_rejects_text_file(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("just some text\n")
    with pytest.raises(InputError, match=r"notes.tif is not a GeoTIFF \(it does not start with a TIFF "
                                         r"header\); upload a multi-band GeoTIFF"):
        read_upload(path)


def test_rejects_png_renamed_tif(tmp_path):
    path = tmp_path / "photo.tif"
    with rasterio.open(path, "w", driver="PNG", width=130, height=130, count=3, dtype="uint8") as out:
        out.write(np.full((3, 130, 130), 100, np.uint8))
    with pytest.raises(InputError, match=r"photo.tif is not a GeoTIFF \(it is a PNG image\)"):
        read_upload(path)


def test_rejects_8bit_rgb_geotiff(tmp_path):
    path = write_tif(tmp_path / "rgb.tif", np.full((3, 130, 130), 100, np.uint8), photometric="RGB")
    with pytest.raises(InputError, match="rgb.tif is an 8-bit RGB image"):
        read_upload(path)


@pytest.mark.parametrize("count", [3, 5])
def test_rejects_wrong_band_count(tmp_path, count):
    path = write_tif(tmp_path / "odd.tif", s2_stack(count))
    with pytest.raises(InputError, match=rf"odd.tif has {count} bands; expected 2 \(S1\) or "
                                         r"10/12/13 \(S2\) bands"):
        read_upload(path)


def test_rejects_single_band_file_without_band_name(tmp_path):
    with pytest.raises(InputError, match=r"one.tif has 1 band; expected 2 \(S1\)"):
        read_upload(write_tif(tmp_path / "one.tif", s2_stack(1)[0]))


def test_rejects_s1_values_that_are_neither_db_nor_linear(tmp_path):
    data = np.random.default_rng(0).uniform(50, 400, (2, 120, 120)).astype(np.float32)
    with pytest.raises(InputError, match="look like neither backscatter in dB"):
        read_upload(write_tif(tmp_path / "dn.tif", data))


def test_rejects_unknown_band_file_name(tmp_path):
    paths = write_band_files(tmp_path / "files", S2_NAME)
    odd = write_tif(tmp_path / "files" / f"{S2_NAME}_B13.tif", s2_stack(1)[0])
    with pytest.raises(InputError, match=f"{S2_NAME}_B13.tif is not named like a BigEarthNet band file"):
        read_upload(paths + [odd])


def test_rejects_mixed_sensors_in_descriptions_and_files(tmp_path):
    data = np.concatenate([s2_stack(1), s2_stack(1)]).astype(np.float32)
    with pytest.raises(InputError, match="mix Sentinel-1 and Sentinel-2"):
        read_upload(write_tif(tmp_path / "mixed.tif", data, descriptions=["VV", "B02"]))
    s1 = write_band_files(tmp_path / "s1", S2_NAME, sensor="s1")
    s2 = write_band_files(tmp_path / "s2", S2_NAME)
    with pytest.raises(InputError, match="mix Sentinel-1 and Sentinel-2"):
        read_upload(s1 + s2)


def test_rejects_band_files_of_two_patches(tmp_path):
    first = write_band_files(tmp_path / "a", S2_NAME)
    second = write_band_files(tmp_path / "b", "S2A_MSIL2A_20170613T101031_87_49")
    with pytest.raises(InputError, match="the files belong to more than one patch"):
        read_upload(first[:6] + second[6:])


def test_rejects_missing_model_band(tmp_path):
    paths = write_band_files(tmp_path / "files", S2_NAME)
    with pytest.raises(InputError, match="lacks band.* B02"):
        read_upload([p for p in paths if not p.name.endswith("_B02.tif")])


def test_rejects_raster_smaller_than_a_patch(tmp_path):
    with pytest.raises(InputError, match=r"small.tif is 100x100 pixels at 10 m \(1000 m x 1000 m\), "
                                         "smaller than one 1200 m patch"):
        read_upload(write_tif(tmp_path / "small.tif", s2_stack(12, size=100)))
    with pytest.raises(InputError, match="smaller than one 1200 m patch"):  # 50 x 20 m = 1000 m
        read_upload(write_tif(tmp_path / "coarse.tif", s2_stack(12, size=50), pixel=20.0))


def test_rejects_all_zero_band(tmp_path):
    data = s2_stack(12)
    data[2] = 0
    with pytest.raises(InputError, match="band B03 is all zero in the chosen window"):
        read_upload(write_tif(tmp_path / "zero.tif", data))


def test_rejects_all_nodata_band(tmp_path):
    data = s2_stack(12)
    data[3] = 65535
    with pytest.raises(InputError, match="band B04 is all nodata in the chosen window"):
        read_upload(write_tif(tmp_path / "nodata.tif", data, nodata=65535))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_rejects_non_finite_values(tmp_path, bad):
    data = s1_stack()
    data[1, 5, 7] = bad
    with pytest.raises(InputError, match="band VH holds NaN or infinite values"):
        read_upload(write_tif(tmp_path / "nan.tif", data))


def test_rejects_truncated_geotiff(tmp_path):
    path = write_tif(tmp_path / "cut.tif", s2_stack(12))
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(InputError, match="cut.tif is not a readable GeoTIFF .*truncated or corrupt"):
        read_upload(path)


def test_rejects_file_over_size_cap(tmp_path):
    path = tmp_path / "huge.tif"
    with path.open("wb") as handle:  # sparse: costs no disk
        handle.write(b"II*\x00")
        handle.truncate(MAX_UPLOAD_BYTES + 1)
    with pytest.raises(InputError, match=r"huge.tif is larger than the 200 MiB upload limit \(200.0 MiB\)"):
        read_upload(path)


def test_rejects_sensor_mismatch_and_unknown_sensor(tmp_path):
    path = write_tif(tmp_path / "s1.tif", s1_stack())
    with pytest.raises(InputError, match="holds S1 bands, but sensor S2 was asked for"):
        read_upload(path, sensor="s2")
    with pytest.raises(InputError, match="unknown sensor 's3'"):
        read_upload(path, sensor="s3")


def test_rejects_zip_with_two_patches(tmp_path):
    make_patch_folder(tmp_path / "src")
    make_patch_folder(tmp_path / "src", "S2A_MSIL2A_20170613T101031_87_49")
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted((tmp_path / "src").rglob("*.tif")):
            archive.write(file, file.relative_to(tmp_path / "src").as_posix())
    with pytest.raises(InputError, match=r"two.zip holds more than one patch \(.*_87_48, .*_87_49\); "
                                         "zip one patch folder per upload"):
        read_upload(path)


def test_rejects_zip_with_same_patch_in_two_folders(tmp_path):
    folder = make_patch_folder(tmp_path / "src")
    path = zip_folder(tmp_path / "dup.zip", folder, arc_root="one")
    with zipfile.ZipFile(path, "a") as archive:
        archive.write(folder / f"{S2_NAME}_B02.tif", f"two/{S2_NAME}_B02.tif")
    with pytest.raises(InputError, match="holds more than one patch"):
        read_upload(path)


def test_rejects_zip_path_traversal_and_writes_nothing(tmp_path):
    folder = make_patch_folder(tmp_path / "src")
    path = zip_folder(tmp_path / "evil.zip", folder)
    with zipfile.ZipFile(path, "a") as archive:
        archive.write(folder / f"{S2_NAME}_B02.tif", "../evil.tif")
    before = set(tmp_path.parent.iterdir())  # pytest's base dir: only this session writes there
    with pytest.raises(InputError, match=r"member named '\.\./evil\.tif' .*points outside the archive"):
        read_upload(path)
    assert set(tmp_path.parent.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip", "src"]
    assert not (tmp_path.parent / "evil.tif").exists()
    assert not (Path(tempfile.gettempdir()) / "evil.tif").exists()


@pytest.mark.parametrize("member", ["/etc/x_B02.tif", "C:/x_B02.tif", "a/..\\..\\x_B02.tif"])
def test_rejects_absolute_member_name(tmp_path, member):
    path = tmp_path / "abs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("x")
        info.filename = member  # ZipInfo() would normalise the name; an attacker's tool does not
        archive.writestr(info, b"II*\x00")
    with pytest.raises(InputError, match="points outside the archive"):
        read_upload(path)


def test_rejects_zip_expanding_beyond_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_UPLOAD_BYTES", 4 * 2**20)
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{S2_NAME}/{S2_NAME}_B02.tif", bytes(8 * 2**20))
    with pytest.raises(InputError, match="big.zip expands to 8 MiB, over the 4 MiB limit"):
        read_upload(path)


def test_rejects_zip_bomb_ratio(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{S2_NAME}/{S2_NAME}_B02.tif", bytes(20 * 2**20))
    with pytest.raises(InputError, match=r"bomb.zip is compressed \d+:1, which looks like a zip bomb"):
        read_upload(path)


def test_rejects_empty_zip(tmp_path):
    path = tmp_path / "empty.zip"
    zipfile.ZipFile(path, "w").close()
    with pytest.raises(InputError, match="empty.zip is an empty zip archive"):
        read_upload(path)


def test_rejects_zip_without_band_files(tmp_path):
    path = tmp_path / "docs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match="docs.zip holds no BigEarthNet band GeoTIFFs"):
        read_upload(path)


def test_rejects_corrupt_zip(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(InputError, match="broken.zip is not a readable zip archive"):
        read_upload(path)


def test_rejects_zip_with_png_band(tmp_path):
    folder = make_patch_folder(tmp_path / "src")
    target = folder / f"{S2_NAME}_B02.tif"
    target.unlink()
    with rasterio.open(target, "w", driver="PNG", width=120, height=120, count=1, dtype="uint16") as out:
        out.write(np.ones((1, 120, 120), np.uint16))
    with pytest.raises(InputError, match=r"_B02.tif is not a GeoTIFF \(it is a PNG image\)"):
        read_upload(zip_folder(tmp_path / "png.zip", folder))


def test_rejects_zip_together_with_other_files(tmp_path):
    folder = make_patch_folder(tmp_path / "src")
    path = zip_folder(tmp_path / "patch.zip", folder)
    with pytest.raises(InputError, match="a .zip must be uploaded on its own"):
        read_upload([path, folder / f"{S2_NAME}_B02.tif"])


def test_raster_size_of_a_broken_zip_is_refused(tmp_path):
    path = tmp_path / "t.zip"
    path.write_text("hello")
    with pytest.raises(InputError, match="t.zip is not a readable zip archive"):
        upload_raster_size(path)


def test_rejects_zip_band_of_wrong_size_before_reading_it(tmp_path):
    folder = make_patch_folder(tmp_path / "src")
    write_tif(folder / f"{S2_NAME}_B02.tif", s2_stack(1, size=240)[0])
    with pytest.raises(InputError, match=r"_B02.tif is 240x240 pixels; a BigEarthNet B02 band is 120x120"):
        read_upload(zip_folder(tmp_path / "wrong.zip", folder))


# ------------------------------------------------------------------- uploads as (file name, bytes)


def named_bytes(paths) -> list[tuple[str, bytes]]:
    return [(Path(p).name, Path(p).read_bytes()) for p in paths]


def assert_same_record(one, other) -> None:
    assert (one.sensor, one.name, one.source, one.notes, one.meta) == (other.sensor, other.name, other.source,
                                                                       other.notes, other.meta)
    assert (one.labels, one.footprint) == (other.labels, other.footprint)
    assert list(one.bands) == list(other.bands)
    for band in one.bands:
        np.testing.assert_array_equal(one.bands[band], other.bands[band], err_msg=band)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Library temporary folders go here (and must be empty again after each call)."""
    folder = tmp_path / "a" / "b" / "tmp"
    folder.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_bytes_of_real_band_files_give_the_record_of_their_paths(private_tmp):
    from tests.conftest import V1_S1, V1_S2

    for folder in (V1_S2, V1_S1):
        paths = sorted(folder.glob("*.tif"))
        assert_same_record(read_upload(named_bytes(paths)), read_upload(paths))
    assert not list(private_tmp.iterdir())


def test_bytes_of_a_multiband_file_and_of_a_zip_give_the_record_of_their_paths(tmp_path, private_tmp):
    from tests.conftest import V1_S2

    big = write_tif(tmp_path / "big.tif", s1_stack(size=300))
    assert_same_record(read_upload(named_bytes([big]), window=(7, 9)), read_upload(big, window=(7, 9)))
    assert_same_record(read_upload(named_bytes([big])[0], sensor="s1"), read_upload([big], sensor="s1"))
    archive = zip_folder(tmp_path / "patch.zip", V1_S2)
    from_bytes = read_upload(named_bytes([archive]))
    assert_same_record(from_bytes, read_upload(archive))
    assert from_bytes.labels and any("from patch.zip" in note for note in from_bytes.notes)
    assert not list(private_tmp.iterdir())


def test_user_file_names_never_leave_the_private_folder(tmp_path, private_tmp):
    from csmae_core.io.upload.staging import staged

    data = write_tif(tmp_path / "src.tif", s2_stack(12)).read_bytes()
    names = ["../../x.tif", "..\\..\\w.tif", "/etc/y.tif", "C:\\fakepath\\z.tif", "n\x00ul.tif", "..", "", "a/.."]
    with staged([(name, data) for name in names]) as paths:
        folder = paths[0].parents[1]
        assert folder.parent == private_tmp
        assert [p.name for p in paths] == ["x.tif", "w.tif", "y.tif", "z.tif", "nul.tif", "upload-5.tif",
                                           "upload-6.tif", "upload-7.tif"]
        for path in paths:
            assert path.resolve().parent.parent == folder.resolve() and path.read_bytes() == data
    assert not list(private_tmp.iterdir())
    record = read_upload([("../../x.tif", data)])
    assert record.name == "x"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["src.tif"]
    with pytest.raises(InputError, match=r"not named like a BigEarthNet band file"):
        read_upload([("../x_B02.tif", data), ("..", data)])


def test_equal_user_file_names_do_not_overwrite_each_other(tmp_path, private_tmp):
    from csmae_core.io.upload.staging import staged

    with staged([("same.tif", b"one"), ("same.tif", b"two")]) as paths:
        assert [p.read_bytes() for p in paths] == [b"one", b"two"]
    with pytest.raises(InputError, match=r"band B02 is given twice \(a_B02.tif, a_B02.tif\)"):
        read_upload(named_bytes(write_band_files(tmp_path / "f", "a")[1:2]) * 2)


def test_size_limit_of_bytes_is_checked_once_before_anything_is_written(monkeypatch, private_tmp):
    monkeypatch.setattr(safety, "MAX_UPLOAD_BYTES", 2**20)
    with pytest.raises(InputError, match=r"big.tif is larger than the 1 MiB upload limit \(2.0 MiB\); crop it"):
        read_upload([("ok.tif", b"II*\x00"), ("dir/big.tif", bytes(2 * 2**20))])
    assert not list(private_tmp.iterdir())
    calls = []
    monkeypatch.setattr(safety, "MAX_UPLOAD_BYTES", 200 * 2**20)
    real_check = safety.check_size
    monkeypatch.setattr(safety, "check_size", lambda name, size: calls.append(name) or real_check(name, size))
    from tests.conftest import V1_S2

    read_upload(named_bytes(sorted(V1_S2.glob("*.tif"))))
    assert len(calls) == 12  # once per file


def test_odd_upload_arguments_are_refused_clearly(tmp_path):
    with pytest.raises(InputError, match="no file given"):
        read_upload([])
    with pytest.raises(InputError, match=r"paths or \(file name, bytes\) pairs, not as int"):
        read_upload([3])
    with pytest.raises(InputError, match="more than the 255 a file name may have"):
        read_upload([("x" * 300 + ".tif", b"II*\x00")])


def test_upload_layout_of_bytes(tmp_path, private_tmp):
    from csmae_core.io.upload import upload_layout, upload_overview

    big = write_tif(tmp_path / "big.tif", s2_stack(12, size=300))
    layout = upload_layout(named_bytes([big]))
    assert (layout.width, layout.height, layout.needs_window) == (300, 300, True)
    assert layout.overview.dtype == np.uint8 and layout.overview.shape[2] == 3
    np.testing.assert_array_equal(layout.overview, upload_overview(big))
    assert upload_raster_size(named_bytes([big])) == upload_raster_size(big) == (300, 300)
    small = upload_layout(named_bytes([write_tif(tmp_path / "small.tif", s2_stack(12))]))
    assert (small.width, small.height, small.needs_window, small.overview) == (120, 120, False, None)
    with pytest.raises(InputError, match="a window is chosen on one uploaded file, not on 2"):
        upload_layout(named_bytes([big, big]))
    assert not list(private_tmp.iterdir())

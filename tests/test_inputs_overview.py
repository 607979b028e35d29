"""The window picker's overview shows the same north-up 10 m grid that the window is read from, also for a
raster written south-up (first row = southern edge), which GDAL reads bottom-up."""
from __future__ import annotations

import numpy as np
import rasterio
from rasterio.transform import from_origin

from csmae_core.io.upload import open_upload

X0, Y0, SIDE = 500000.0, 5300000.0, 360
ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


def scene() -> np.ndarray:
    """12 bands, 360x360: a bright northern third and a dark south, so an upside-down overview shows."""
    rng = np.random.default_rng(0)
    data = rng.integers(200, 400, (12, SIDE, SIDE)).astype(np.uint16)
    data[:, : SIDE // 3, :] += 3000
    return data


def write(path, data, south_up: bool):
    transform = from_origin(X0, Y0, 10, 10)
    if south_up:
        data = data[:, ::-1, :]
        transform = rasterio.Affine(10, 0, X0, 0, 10, Y0 - 10 * SIDE)
    with rasterio.open(path, "w", driver="GTiff", count=12, width=SIDE, height=SIDE, dtype="uint16",
                       crs="EPSG:32633", transform=transform) as dataset:
        dataset.write(np.ascontiguousarray(data))
        for index, name in enumerate(ORDER, start=1):
            dataset.set_band_description(index, name)
    return path


def test_south_up_overview_matches_the_window_that_is_read(tmp_path):
    data = scene()
    north = open_upload(write(tmp_path / "north.tif", data, False))
    south = open_upload(write(tmp_path / "south.tif", data, True))
    overviews = [north.layout(max_side=120).overview, south.layout(max_side=120).overview]
    assert overviews[0].shape == overviews[1].shape
    top, bottom = (o.astype(float).mean() for o in (overviews[1][:30], overviews[1][-30:]))
    assert top > bottom + 50, (top, bottom)  # the bright north is at the top
    assert np.abs(overviews[0].astype(int) - overviews[1].astype(int)).mean() < 3
    for upload in (north, south):  # window (0, 0): the north-west corner, bright, in both
        record = upload.read(window=(0, 0))
        assert np.median(record.bands["B02"]) > 3000
        assert record.footprint.uly == Y0

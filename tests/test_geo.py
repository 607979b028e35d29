import json

import numpy as np
import pytest

from csmae_core import geo
from csmae_core.errors import InputError
from csmae_core.io.geotiff import read_band_file
from tests.conftest import RICO_S1_NAME, RICO_S2_NAME, RICO_TIFFS, V1_S1, V1_S2


def test_tile_of_every_name_form():
    assert geo.tile_of_name("S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_75_43") == "33UUP"
    assert geo.tile_of_name("S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48") == "33UUP"
    assert geo.tile_of_name("S2A_MSIL2A_20170613T101031_87_48") is None  # v1 S2 names carry no tile
    assert geo.patch_xy("S2A_MSIL2A_20171101T094131_N9999_R036_T35VNJ_00_13") == (0, 13)


def test_tile_table_has_all_56_tiles():
    assert len(geo.tiles()) == 56
    assert geo.tiles()["29SNB"].epsg == 32629


def test_v1_json_geotiff_and_tile_grid_agree_exactly():
    s1_meta = json.loads((V1_S1 / f"{V1_S1.name}_labels_metadata.json").read_text())
    s2_meta = json.loads((V1_S2 / f"{V1_S2.name}_labels_metadata.json").read_text())
    assert "lly" in s1_meta["coordinates"]  # the real quirk of v1 S1 files
    from_json_s1 = geo.footprint_from_labels_metadata(s1_meta)
    from_json_s2 = geo.footprint_from_labels_metadata(s2_meta)
    from_tiff = read_band_file(V1_S2 / f"{V1_S2.name}_B02.tif").footprint
    from_tiff_20m = read_band_file(V1_S2 / f"{V1_S2.name}_B05.tif").footprint
    from_grid = geo.footprint_from_name(V1_S2.name, geo.tile_of_name(V1_S1.name))
    assert from_json_s1 == from_json_s2 == from_tiff == from_tiff_20m == from_grid


@pytest.mark.parametrize("folder", [
    RICO_TIFFS / "BigEarthNet-S1" / "S1A_IW_GRDH_1SDV_20170613T165043" / RICO_S1_NAME,
    RICO_TIFFS / "BigEarthNet-S2" / "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP" / RICO_S2_NAME,
])
def test_v2_geotiffs_agree_with_tile_grid(folder):
    for tif in folder.glob("*.tif"):
        assert read_band_file(tif).footprint == geo.footprint_from_name(folder.name)


def test_v1_name_without_tile_is_refused_with_advice():
    with pytest.raises(InputError, match="pass the tile or the paired S1 name"):
        geo.footprint_from_name("S2A_MSIL2A_20170613T101031_87_48")
    with pytest.raises(InputError, match="not one of the 56"):
        geo.footprint_from_name("S2A_MSIL2A_20170613T101031_87_48", "99ZZZ")


def test_wgs84_polygon_is_a_closed_1200m_square_in_austria():
    footprint = geo.footprint_from_name("S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48")
    ring = footprint.polygon_wgs84()
    assert ring[0] == ring[-1] and len(ring) == 5
    lon, lat = footprint.centroid_wgs84()
    assert 13.7 < lon < 13.75 and 48.2 < lat < 48.25
    assert geo.haversine_km(ring[0][0], ring[0][1], ring[1][0], ring[1][1]) == pytest.approx(1.2, abs=0.01)


def test_vectorised_centroids_match_scalar():
    names = ["S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48", "S1B_IW_GRDH_1SDV_20171101T154016_35VNJ_0_0"]
    fps = [geo.footprint_from_name(n) for n in names]
    lon, lat = geo.centroids_wgs84(np.array([f.epsg for f in fps]), np.array([f.ulx for f in fps]),
                                   np.array([f.uly for f in fps]))
    for i, fp in enumerate(fps):
        assert (lon[i], lat[i]) == pytest.approx(fp.centroid_wgs84())


def test_demo_footprints_s1_equals_s2_equals_tile_grid(demo_archive):
    table = demo_archive.table
    assert len(table) == 60
    for index in range(len(table)):
        pair = demo_archive[index]
        grid = geo.footprint_from_name(pair.pair_id, geo.tile_of_name(pair.s1.name))
        assert pair.s1.footprint == pair.s2.footprint == grid
        lon, lat = grid.centroid_wgs84()
        assert (table.loc[index, "lon"], table.loc[index, "lat"]) == pytest.approx((lon, lat))
        assert 35 < lat < 71 and -10 < lon < 32  # Europe


def test_missing_crs_and_metadata_errors_are_clear():
    with pytest.raises(InputError, match="no coordinate reference system"):
        geo.footprint_from_transform(None, None, 120, 120)
    with pytest.raises(InputError, match="no usable coordinates"):
        geo.footprint_from_labels_metadata({"labels": []})

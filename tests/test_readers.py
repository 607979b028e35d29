"""Every reader on real fixtures (tests/data) and on the real demo archive."""
import os
import pickle
from pathlib import Path

import lmdb
import numpy as np
import pandas as pd
import pytest

from csmae_core.bands import BANDS, STORED_BANDS
from csmae_core.errors import DataNotFoundError, InputError, UnsafePickleError
from csmae_core.geo import footprint_from_name
from csmae_core.io.folders import BenV1Folders, BenV2Folders, read_patch_folder, read_reben_metadata
from csmae_core.io.lmdb_pickle import EncodedLmdb, decode_value
from csmae_core.io.lmdb_rico import RicoLmdb
from tests.conftest import DATA, RICO_S1_NAME, RICO_S2_NAME, RICO_TIFFS, V1_S1, V1_S2


def assert_native_bands(record):
    assert set(record.bands) == set(STORED_BANDS[record.sensor])
    for name, array in record.bands.items():
        side = BANDS[name].native_pixels
        assert array.shape == (side, side)
        assert array.dtype == (np.float32 if record.sensor == "s1" else np.uint16)


def test_v1_s2_folder():
    record = read_patch_folder(V1_S2)
    assert record.sensor == "s2" and record.name == V1_S2.name
    assert_native_bands(record)
    assert record.labels_43 == ["Non-irrigated arable land", "Land principally occupied by agriculture, "
                                "with significant areas of natural vegetation"]
    assert record.labels == ["Arable land", "Land principally occupied by agriculture, with significant "
                             "areas of natural vegetation"]
    assert record.acquisition == "2017-06-13 10:10:31"
    assert record.footprint.ulx == 404400 and record.footprint.epsg == 32633


def test_v1_s1_folder_with_lly_quirk():
    record = read_patch_folder(V1_S1)
    assert record.sensor == "s1"
    assert_native_bands(record)
    assert record.meta["corresponding_s2_patch"] == V1_S2.name
    assert -40 < float(record.bands["VV"].mean()) < 10  # dB


def test_v1_archive_pairs_through_s1_json(names_table):
    archive = BenV1Folders(DATA / "v1" / "BigEarthNet-S1-v1.0", DATA / "v1" / "BigEarthNet-v1.0", names_table)
    assert len(archive) == 1
    pair = archive[0]
    assert pair.pair_id == V1_S2.name and pair.s1.name == V1_S1.name
    assert pair.s1.footprint == pair.s2.footprint
    assert pair.s2.meta["country"] == "Austria" and pair.s2.meta["season"] == "Summer"
    assert pair.s1.meta["counterpart"] == pair.s2.name


def test_v2_folders_paired_by_metadata(tmp_path):
    # The rico-hdl sample holds an S1 and an S2 patch of different places: pair them through a
    # metadata row to exercise the reBEN folder layout (product folder / patch folder / band files).
    metadata = pd.DataFrame([{"patch_id": RICO_S2_NAME, "labels": ["Coniferous forest"], "split": "test",
                              "country": "Austria", "s1_name": RICO_S1_NAME, "s2v1_name": "x",
                              "contains_seasonal_snow": False, "contains_cloud_or_shadow": False}])
    archive = BenV2Folders(RICO_TIFFS, metadata)
    pair = archive[0]
    assert_native_bands(pair.s2)
    assert_native_bands(pair.s1)
    assert pair.s2.footprint == footprint_from_name(RICO_S2_NAME)
    assert pair.s2.labels == ["Coniferous forest"] and pair.s2.meta["split"] == "test"
    assert pair.s2.meta["season"] == "Summer"


def test_v2_folders_without_files_say_where_they_looked(tmp_path):
    metadata = pd.DataFrame([{"patch_id": "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_01_02",
                              "labels": [], "split": "test", "country": "Austria",
                              "s1_name": "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_1_2", "s2v1_name": "x",
                              "contains_seasonal_snow": False, "contains_cloud_or_shadow": False}])
    with pytest.raises(InputError, match="pass s1_root= and s2_root="):
        BenV2Folders(tmp_path, metadata)


def test_reben_metadata_missing_columns(tmp_path):
    path = tmp_path / "metadata.parquet"
    pd.DataFrame({"patch_id": ["a"], "labels": [["Pastures"]]}).to_parquet(path)
    with pytest.raises(InputError, match="lacks column"):
        read_reben_metadata(path)
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="not a readable parquet"):
        read_reben_metadata(tmp_path / "bad.parquet")
    with pytest.raises(DataNotFoundError, match="pass metadata="):
        read_reben_metadata(tmp_path / "none.parquet")


def test_rico_lmdb_pair():
    archive = RicoLmdb(DATA / "rico_pair_lmdb", DATA / "rico_pair_lmdb" / "metadata.parquet")
    assert len(archive) == 1
    pair = archive[0]
    assert_native_bands(pair.s1)
    assert_native_bands(pair.s2)
    assert pair.s1.footprint == pair.s2.footprint == footprint_from_name(pair.pair_id)
    assert pair.labels and pair.s2.meta["country"] == "Austria"


def test_rico_lmdb_official_sample_entries_match_the_geotiffs():
    from csmae_core.io.detect import read_lmdb_entry

    for name, folder in ((RICO_S1_NAME, RICO_TIFFS / "BigEarthNet-S1" / RICO_S1_NAME.rsplit("_", 3)[0]),
                         (RICO_S2_NAME, RICO_TIFFS / "BigEarthNet-S2" / RICO_S2_NAME.rsplit("_", 2)[0])):
        from_lmdb = read_lmdb_entry(DATA / "rico-hdl" / "BigEarthNet_LMDB", name)
        from_tiffs = read_patch_folder(folder / name)
        assert from_lmdb.bands.keys() == from_tiffs.bands.keys()
        for band in from_lmdb.bands:
            np.testing.assert_array_equal(from_lmdb.bands[band], from_tiffs.bands[band])


def test_encoder_lmdb_pair(names_table):
    archive = EncodedLmdb(DATA / "encoder_lmdb", names_table)
    pair = archive[0]
    assert pair.pair_id == "S2B_MSIL2A_20170906T101019_82_41"
    assert pair.s1.name.startswith("S1") and "_34VDN_" in pair.s1.name
    assert_native_bands(pair.s1)
    assert_native_bands(pair.s2)
    assert pair.s2.labels_43 and pair.s2.labels
    assert pair.s2.footprint == footprint_from_name(pair.pair_id, "34VDN")
    assert pair.s2.meta["country"] == "Finland"


def test_encoder_lmdb_without_names_has_no_location_and_says_so():
    pair = EncodedLmdb(DATA / "encoder_lmdb")[0]
    assert pair.s2.footprint is None
    assert any("location unknown" in note for note in pair.s2.notes)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious_lmdb(path: Path, payload: bytes) -> Path:
    with lmdb.open(str(path), map_size=2**20) as env, env.begin(write=True) as txn:
        txn.put(b"S2A_MSIL2A_20170613T101031_1_1", payload)
    return path


def test_malicious_pickle_lmdb_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    db = _malicious_lmdb(tmp_path / "evil.lmdb", pickle.dumps(_RunsCode(marker)))
    archive = EncodedLmdb(db)
    with pytest.raises(UnsafePickleError, match=r"refused to unpickle posix\.system.*Nothing was executed"):
        archive[0]
    assert not marker.exists()


@pytest.mark.parametrize("payload, message", [
    (pickle.dumps(eval), "refused to unpickle builtins.eval"),
    (b"\x80\x04\x95\x10", "not a BigEarthNet encoder pickle"),
    (pickle.dumps({"labels": []}), "lacks 's1_patch'"),
    (pickle.dumps({"s1_patch": 1, "s2_patch": 2}), "unexpected pickle layout"),
])
def test_bad_pickles_get_clear_errors(payload, message):
    with pytest.raises(InputError, match=message):
        from csmae_core.io.lmdb_pickle import decode_patch
        decode_patch(payload)


def test_restricted_unpickler_still_reads_numpy():
    array = np.arange(6, dtype=np.uint16).reshape(2, 3)
    np.testing.assert_array_equal(decode_value(pickle.dumps(array)), array)


def test_missing_lmdb_and_folder_messages(tmp_path):
    with pytest.raises(DataNotFoundError, match="no LMDB"):
        EncodedLmdb(tmp_path)
    with pytest.raises(DataNotFoundError, match="no patch folder"):
        read_patch_folder(tmp_path / "nope")
    with pytest.raises(InputError, match="no BigEarthNet band GeoTIFFs"):
        read_patch_folder(tmp_path)


def test_demo_archive_holds_60_real_pairs(demo_archive):
    table = demo_archive.table
    assert len(table) == 60 and table["pair_id"].is_unique
    assert table["country"].nunique() == 7 and table["tile"].nunique() == 20
    assert table["source"].value_counts().to_dict() == {
        "configilm 0.7.1 BENv1 encoder LMDB": 30, "configilm 0.7.1 BENv2 rico-hdl LMDB": 24,
        "bigearthnet-common 2.8.0 example folders": 6}
    assert set(table["split"]) == {"train", "validation", "test"}
    assert table["labels"].map(len).min() >= 1
    for index in (0, 29, 59):
        pair = demo_archive[index]
        assert_native_bands(pair.s1)
        assert_native_bands(pair.s2)
        assert pair.s2.meta["pair_id"] == table.loc[index, "pair_id"]


def test_demo_arrays_equal_their_sources(demo_archive, names_table):
    """The packed demo holds exactly the pixels of its sources."""
    fixture_pair = BenV1Folders(DATA / "v1" / "BigEarthNet-S1-v1.0", DATA / "v1" / "BigEarthNet-v1.0")[0]
    encoded_pair = EncodedLmdb(DATA / "encoder_lmdb", names_table)[0]
    rico_pair = RicoLmdb(DATA / "rico_pair_lmdb", DATA / "rico_pair_lmdb" / "metadata.parquet")[0]
    for source in (fixture_pair, encoded_pair, rico_pair):
        packed = demo_archive[demo_archive.index_of(source.pair_id)]
        assert packed.s1.name == source.s1.name
        for sensor in ("s1", "s2"):
            for band, array in source.record(sensor).bands.items():
                np.testing.assert_array_equal(packed.record(sensor).bands[band], array)


def test_open_archive_recognises_every_archive_form(tmp_path):
    from csmae_core.io.detect import open_archive

    assert len(open_archive(DATA / "v1")) == 1
    assert open_archive(DATA / "encoder_lmdb").source == "bigearthnet-encoder LMDB"
    assert len(open_archive(DATA / "rico_pair_lmdb", DATA / "rico_pair_lmdb" / "metadata.parquet")) == 1
    with pytest.raises(InputError, match="pass its metadata.parquet"):
        open_archive(DATA / "rico_pair_lmdb")
    with pytest.raises(InputError, match="not an archive this tool reads"):
        open_archive(tmp_path)

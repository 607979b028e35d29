import numpy as np
import pytest

from csmae_core import bands, labels


def test_model_band_order_is_the_published_one():
    assert bands.MODEL_BANDS["s1"] == ("VH", "VV")
    assert bands.MODEL_BANDS["s2"] == ("B02", "B03", "B04", "B08", "B05", "B06", "B07", "B11", "B12", "B8A")
    assert bands.model_channels("s1") == 2 and bands.model_channels("s2") == 10


def test_native_sizes_follow_resolution():
    assert {b.name: b.native_pixels for b in bands.BANDS.values() if b.sensor == "s2"} == {
        "B01": 20, "B09": 20, "B02": 120, "B03": 120, "B04": 120, "B08": 120,
        "B05": 60, "B06": 60, "B07": 60, "B8A": 60, "B11": 60, "B12": 60}


def test_normalisation_comes_from_the_table():
    means, stds = bands.normalisation("s1")
    assert means == (bands.BANDS["VH"].mean, bands.BANDS["VV"].mean)
    assert stds[0] == pytest.approx(5.464428464912864)


def test_upload_default_orders_use_known_bands():
    for count, (sensor, order) in bands.UPLOAD_DEFAULT_ORDER.items():
        assert len(order) == count
        assert all(b in bands.BANDS or b in bands.IGNORED_BANDS for b in order)
        assert set(bands.MODEL_BANDS[sensor]) <= set(order)


def test_unknown_sensor_is_refused():
    with pytest.raises(ValueError, match="choose one of s1, s2"):
        bands.check_sensor("s3")


def test_nomenclatures_have_the_right_sizes_and_order():
    assert len(labels.LABELS_19) == 19 and list(labels.LABELS_19) == sorted(labels.LABELS_19)
    assert len(labels.LABELS_43) == 43 and labels.CLC_CODES == tuple(sorted(labels.CLC_CODES))
    assert {v for v in labels.MAP_43_TO_19.values() if v} == set(labels.LABELS_19)


@pytest.mark.parametrize("given, expected", [
    (["Non-irrigated arable land", "Rice fields"], ["Arable land"]),
    (["Transitional woodland/shrub"], ["Transitional woodland, shrub"]),
    (["Airports", "Sea and ocean"], ["Marine waters"]),
    ([311, 523], ["Broad-leaved forest", "Marine waters"]),
    (["Urban fabric", "Arable land"], ["Arable land", "Urban fabric"]),
    (["Bare rock"], []),
])
def test_to_19(given, expected):
    assert labels.to_19(given) == expected


def test_unknown_labels_are_named():
    with pytest.raises(labels.UnknownLabelError, match="'Moon dust'"):
        labels.to_19(["Moon dust"])
    with pytest.raises(labels.UnknownLabelError, match="unknown CLC code 999"):
        labels.to_19([999])


def test_multi_hot_round_trip():
    names = ["Arable land", "Urban fabric"]
    vector = labels.to_multi_hot(names)
    assert vector.dtype == np.float32 and vector.sum() == 2 and vector[1] == 1 and vector[18] == 1
    assert labels.from_multi_hot(vector) == names
    assert labels.multi_hot_matrix([names, []]).shape == (2, 19)
    with pytest.raises(ValueError, match="19 entries"):
        labels.from_multi_hot(np.zeros(5))

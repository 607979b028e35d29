"""The single band table of the project.

Every band list, channel count, native resolution and normalisation statistic in the code is derived
from this table. Statistics are the BigEarthNet means/stds in raw units (S2: reflectance x 10000,
S1: backscatter in dB) used by the published CSMAE weights.
"""
from __future__ import annotations

from dataclasses import dataclass

PATCH_METRES = 1200
PATCH_PIXELS = 120  # model input size: 120 x 120 at 10 m
SENSORS = ("s1", "s2")


@dataclass(frozen=True)
class Band:
    name: str
    sensor: str
    resolution_m: int
    mean: float
    std: float

    @property
    def native_pixels(self) -> int:
        """Side length of a BigEarthNet patch of this band at its native resolution."""
        return PATCH_METRES // self.resolution_m


_ALL = (
    Band("VH", "s1", 10, -19.29044597721542, 5.464428464912864),
    Band("VV", "s1", 10, -12.619993741972035, 5.115911777546365),
    Band("B01", "s2", 60, 340.76769064, 554.81258967),
    Band("B02", "s2", 10, 429.9430203, 572.41639287),
    Band("B03", "s2", 10, 614.21682446, 582.87945694),
    Band("B04", "s2", 10, 590.23569706, 675.88746967),
    Band("B05", "s2", 20, 950.68368468, 729.89827633),
    Band("B06", "s2", 20, 1792.46290469, 1096.01480586),
    Band("B07", "s2", 20, 2075.46795189, 1273.45393088),
    Band("B08", "s2", 10, 2218.94553375, 1365.45589904),
    Band("B8A", "s2", 20, 2266.46036911, 1356.13789355),
    Band("B09", "s2", 60, 2246.0605464, 1302.3292881),
    Band("B11", "s2", 20, 1594.42694882, 1079.19066363),
    Band("B12", "s2", 20, 1009.32729131, 818.86747235),
)
BANDS: dict[str, Band] = {band.name: band for band in _ALL}

# Channel order of the model input (the order of the published CSMAE code and weights).
MODEL_BANDS: dict[str, tuple[str, ...]] = {
    "s1": ("VH", "VV"),
    "s2": ("B02", "B03", "B04", "B08", "B05", "B06", "B07", "B11", "B12", "B8A"),
}

# Bands stored on disk by BigEarthNet, in ESA's spectral order (L2A has no B10).
STORED_BANDS: dict[str, tuple[str, ...]] = {
    "s1": ("VV", "VH"),
    "s2": ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12"),
}

# Default band order of an uploaded multi-band GeoTIFF without band descriptions, keyed by band
# count: ESA's product order (S1 GRD "VV+VH"; S2 spectral order as exported by SNAP, GDAL and
# Google Earth Engine). 13 bands = L1C including the cirrus band B10, which is dropped.
UPLOAD_DEFAULT_ORDER: dict[int, tuple[str, tuple[str, ...]]] = {
    2: ("s1", ("VV", "VH")),
    10: ("s2", ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")),
    12: ("s2", STORED_BANDS["s2"]),
    13: ("s2", ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11",
                "B12")),
}
IGNORED_BANDS = frozenset({"B10"})  # cirrus band of L1C products: not used by any model here

# Names other tools give the bands, mapped to the table's names (compared in lower case). ESA and GEE
# numbers (B02 / B2, B8A) are parsed, not listed; these are the STAC / odc-stac common names (eo
# extension, as on Planetary Computer and Earth Search; B08 is "nir", B8A "nir08").
STAC_COMMON_NAMES: dict[str, str] = {
    "coastal": "B01", "blue": "B02", "green": "B03", "red": "B04", "rededge1": "B05", "rededge2": "B06",
    "rededge3": "B07", "nir": "B08", "nir08": "B8A", "nir09": "B09", "cirrus": "B10", "swir16": "B11",
    "swir22": "B12",
}
# S1 calibration prefixes (SNAP: Sigma0_VV, Amplitude_VH, Intensity_VV, ..._db) -> the unit they mean.
S1_UNIT_PREFIXES: dict[str, str] = {
    "sigma0": "power", "gamma0": "power", "beta0": "power", "intensity": "power", "amplitude": "amplitude",
}
# Bands of real exports that are not spectral: ignored with a note (GEE S1 "angle", S2 QA60/SCL/MSK_*,
# sen2cor AOT/WVP/TCI/cloud and snow probabilities). Compared in lower case, as a whole name or prefix.
NON_SPECTRAL_NAMES = frozenset({"angle", "scl", "aot", "wvp", "tci", "qa10", "qa20", "qa60", "cld", "snw",
                                "msk_cldprb", "msk_snwprb", "msk_cldprb_20m", "msk_snwprb_20m", "mask"})
NON_SPECTRAL_PREFIXES = ("tci_", "msk_", "cloud", "snow", "cldprb", "snwprb", "qa", "scl_", "aot_", "wvp_",
                         "incidence", "elevation", "probability")


def sensor_of_band(name: str) -> str:
    return BANDS[name].sensor


def model_channels(sensor: str) -> int:
    return len(MODEL_BANDS[sensor])


def normalisation(sensor: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Means and stds of the model bands of `sensor`, in model channel order."""
    names = MODEL_BANDS[sensor]
    return tuple(BANDS[n].mean for n in names), tuple(BANDS[n].std for n in names)


def check_sensor(sensor: str) -> str:
    if sensor not in SENSORS:
        raise ValueError(f"unknown sensor {sensor!r}; choose one of {', '.join(SENSORS)}")
    return sensor

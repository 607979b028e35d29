"""Small helpers shared by the readers: dates and seasons from names, band file names."""
from __future__ import annotations

import re
from datetime import datetime

from csmae_core.bands import BANDS, IGNORED_BANDS

_DATE_RE = re.compile(r"_(\d{8})T(\d{1,6})")
_BAND_FILE_RE = re.compile(r"^(?P<name>.+)_(?P<band>B0[1-9]|B1[0-2]|B8A|VV|VH)\.tiff?$", re.IGNORECASE)
# BigEarthNet v1's own season names (bigearthnet-common's s1_s2_name_country_season.csv)
_SEASONS = {12: "Winter", 1: "Winter", 2: "Winter", 3: "Spring", 4: "Spring", 5: "Spring",
            6: "Summer", 7: "Summer", 8: "Summer", 9: "Fall", 10: "Fall", 11: "Fall"}


def date_of_name(name: str) -> datetime | None:
    """Acquisition date in a Sentinel product or patch name (`..._20170613T101031_...`)."""
    match = _DATE_RE.search(name)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d")
    except ValueError:
        return None


def season_of_name(name: str) -> str | None:
    """Meteorological season (Winter = Dec-Feb, ...) of the date in a name, in v1's vocabulary."""
    date = date_of_name(name)
    return _SEASONS[date.month] if date else None


def split_band_file_name(file_name: str) -> tuple[str, str] | None:
    """`S2A_..._87_48_B8A.tif` -> ("S2A_..._87_48", "B8A"); None if not a band file name."""
    match = _BAND_FILE_RE.match(file_name)
    if not match:
        return None
    band = match.group("band").upper()
    band = "B8A" if band == "B8A" else band
    if band not in BANDS and band not in IGNORED_BANDS:
        return None
    return match.group("name"), band

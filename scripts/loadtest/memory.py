"""The server's memory under uploads (scripts/bench_memory.py): real-format GeoTIFFs of a chosen size, a
scene that declares far more pixels than it stores, browser sessions that upload them and close, and the
server's RSS and held upload bytes sampled afterwards."""
from __future__ import annotations

import re
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .browser import CHROMIUM_FLAGS, require_chromium
from .server import mib, rss_bytes

UPLOADER = '.st-key-upload_files [data-testid="stFileUploaderDropzoneInput"]'
DONE = re.compile(r"\d+ most similar patches")
ERROR_BOX = '[data-testid="stAlertContentError"]'
SCENE_SIDE, SCENE_BANDS = 10980, 12  # one Sentinel-2 tile, 12 bands


def s2_geotiff(path: Path, megabytes: float, seed: int = 0) -> Path:
    """An uncompressed 12-band uint16 Sentinel-2-like GeoTIFF (10 m UTM) of about `megabytes` MB, written
    block by block (random reflectances: the file size is the data size). Kept when it already exists."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    side = int((megabytes * 1e6 / (SCENE_BANDS * 2)) ** 0.5)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    profile = {"driver": "GTiff", "width": side, "height": side, "count": SCENE_BANDS, "dtype": "uint16",
               "crs": "EPSG:32633", "transform": from_origin(500_000, 5_500_000, 10, 10), "tiled": True,
               "blockxsize": 256, "blockysize": 256}
    partial = path.with_suffix(".part")
    with rasterio.open(partial, "w", **profile) as out:
        for top in range(0, side, 256):
            rows = min(256, side - top)
            block = 1000 + rng.integers(0, 3000, (SCENE_BANDS, rows, side), dtype=np.uint16)
            out.write(block, window=Window(0, top, side, rows))
    partial.rename(path)
    return path


def declared_scene(path: Path) -> Path:
    """A deflate-compressed 12-band 10980 x 10980 uint16 GeoTIFF (2.9 GB decoded) of a few MB: a smooth
    field with a little noise, written in tiles. Kept when it already exists."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tile = 512
    profile = {"driver": "GTiff", "width": SCENE_SIDE, "height": SCENE_SIDE, "count": SCENE_BANDS,
               "dtype": "uint16", "crs": "EPSG:32633", "transform": from_origin(500_000, 5_500_000, 10, 10),
               "tiled": True, "blockxsize": tile, "blockysize": tile, "compress": "deflate", "zlevel": 9}
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 2, (tile, SCENE_SIDE), dtype=np.uint16)
    partial = path.with_suffix(".part")
    with rasterio.open(partial, "w", **profile) as out:
        for top in range(0, SCENE_SIDE, tile):
            rows = min(tile, SCENE_SIDE - top)
            for band in range(1, SCENE_BANDS + 1):
                out.write(1000 * band + noise[:rows], band, window=Window(0, top, SCENE_SIDE, rows))
    partial.rename(path)
    return path


def held_upload_bytes(url: str) -> int | None:
    """Bytes of uploaded files Streamlit's upload manager holds (its /_stcore/metrics), None if unknown."""
    try:
        text = urllib.request.urlopen(f"{url}/_stcore/metrics?families=cache_memory_bytes", timeout=30).read()
    except OSError:
        return None
    found = re.search(rb'cache_memory_bytes\{cache_type="UploadedFileManager"[^}]*\} (\d+)', text)
    return int(found.group(1)) if found else 0


@dataclass
class Drop:
    """What one browser session saw after dropping files: results, or the first error box's text."""

    files: list[str]
    seconds: float
    outcome: str                 # "results" | "error" | "timeout"
    message: str = ""
    peak_rss: int | None = None  # server RSS peak while the session ran


class Browser:
    """Debian's Chromium for the benchmark (every non-loopback request refused); a context per session."""

    def __enter__(self) -> "Browser":
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_FLAGS)
        return self

    def __exit__(self, *exc) -> None:
        self.browser.close()
        self._playwright.stop()

    def session(self):
        """A new context (its own Streamlit session once a page loads), offline but for loopback."""
        context = self.browser.new_context(viewport={"width": 1400, "height": 1600})
        context.route("**/*", _loopback_only)
        return context


def _loopback_only(route) -> None:
    url = route.request.url
    host = url.split("/")[2] if "://" in url else ""
    if host.startswith(("127.0.0.1", "localhost")) or url.startswith(("data:", "blob:", "about:")):
        route.continue_()
    else:
        route.abort()


def open_search(context, url: str, timeout_s: float = 300):
    page = context.new_page()
    page.goto(url)
    page.get_by_text("Upload a patch, click the map").wait_for(timeout=timeout_s * 1000)
    return page


def drop_files(page, files: list[Path], pid: int | None, timeout_s: float = 300) -> Drop:
    """Drop `files` on the uploader; wait for the results or an error box, sampling the server's RSS."""
    started, peak = time.perf_counter(), rss_bytes(pid) or 0
    page.locator(UPLOADER).set_input_files([str(f) for f in files])
    outcome, message = "timeout", ""
    while time.perf_counter() - started < timeout_s:
        peak = max(peak, rss_bytes(pid) or 0)
        if page.locator(ERROR_BOX).count():
            outcome, message = "error", page.locator(ERROR_BOX).first.inner_text()
            break
        if page.get_by_text(DONE).count() and page.locator(".result-card").count():
            outcome = "results"
            break
        page.wait_for_timeout(100)
    return Drop([f.name for f in files], time.perf_counter() - started, outcome, message, peak)


def sample_rss(pid: int | None, url: str, seconds: float, every: float,
               since: float) -> list[tuple[float, float | None, float | None]]:
    """[(seconds since `since`, RSS MiB, held upload MiB)] every `every` s for `seconds` s."""
    rows = []
    end = time.perf_counter() + seconds
    while True:
        held = held_upload_bytes(url)
        rows.append((round(time.perf_counter() - since), mib(rss_bytes(pid)), mib(held) if held is not None else None))
        if time.perf_counter() >= end:
            return rows
        time.sleep(every)

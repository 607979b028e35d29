"""Full scale in a real browser: the app serving a bundle of the whole reBEN archive (549,488 pairs x 2
sensors = 1,098,976 vectors; real metadata, SYNTHETIC vectors, see scripts/build_scale_bundle.py).

Runs only when REBEN_METADATA=/path/to/metadata.parquet is set (the snow/cloud table next to it is used when
present). The bundle (about 4.2 GB, minutes to build) goes to a temporary folder and is removed afterwards,
or is built once into / reused from SCALE_BUNDLE=/path/outside/the/repo/reben-synthetic. Asserts that results
and the explorer's aggregation are shown; prints start time, memory and latencies (no speed assertion)."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

import scripts.build_scale_bundle as scale
from scripts.loadtest import measure
from scripts.loadtest.server import AppServer, rss_bytes
from scripts.loadtest.workload import served_pairs
from tests.e2e.conftest import LATENCIES, OUTPUT

REBEN = os.environ.get("REBEN_METADATA")
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not REBEN or not Path(REBEN).is_file(),
                                 reason="set REBEN_METADATA to a reBEN metadata.parquet to run the full-scale test "
                                        "(and SCALE_BUNDLE to a folder outside the repository to keep its bundle)")]


@pytest.fixture(scope="module")
def scale_catalogue(tmp_path_factory):
    cached = os.environ.get("SCALE_BUNDLE")
    bundle = Path(cached) if cached else tmp_path_factory.mktemp("scale") / "reben-synthetic"
    if not (bundle / "manifest.json").is_file():
        metadata = Path(REBEN)
        report = scale.build(metadata, bundle, scale.snow_cloud_of(metadata, None))
        LATENCIES.append(f"full scale: built {report['vectors']:,} synthetic vectors on real metadata in "
                         f"{report['build_total_s']:.0f} s (index {report['index_build_s']:.0f} s), "
                         f"{report['bundle_bytes'] / 2**30:.2f} GiB")
    yield scale.write_scale_catalogue(bundle, tmp_path_factory.mktemp("catalogue") / "catalogue.json")
    if not cached:
        shutil.rmtree(bundle, ignore_errors=True)


def test_full_scale_search_and_explorer_in_the_browser(scale_catalogue, browser):
    pairs = served_pairs(scale_catalogue)
    assert len(pairs) > 400_000
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with AppServer(catalogue=scale_catalogue, log_path=OUTPUT.parent / "scale-server.log") as server:
        pid = server.pid()
        context = measure.open_context(browser)
        page = measure.new_page(context)
        try:
            first_page_s = measure.first_page(page, server.url)
            to_first_page = time.perf_counter() - server.started_at
            idle = rss_bytes(pid)
            assert scale.BUNDLE_NAME in page.locator('[data-testid="stSidebar"]').inner_text()
            search = measure.measure_search(page, server.url, pairs, searches=4)
            assert search["cards"] == 10 and search["heading"] == 1
            page.screenshot(path=str(OUTPUT / "scale-search.png"), full_page=True)
            explorer = measure.measure_explorer(page, server.url)
            assert explorer["pairs_shown"] == f"{len(pairs):,}" and explorer["cells"] > 0
            assert explorer["pairs_shown_filtered"] != explorer["pairs_shown"]
            page.keyboard.press("Escape")  # close the country list; let the map finish its move
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUTPUT / "scale-explorer.png"), full_page=True)
            after = rss_bytes(pid)
        finally:
            context.close()
    mib = lambda v: f"{v / 2**20:,.0f} MiB" if v else "?"  # noqa: E731
    lines = [f"full scale ({len(pairs):,} pairs, synthetic vectors): health after {server.health_s:.1f} s, first page "
             f"after {to_first_page:.1f} s (its load {first_page_s:.1f} s); server RSS idle {mib(idle)}, after "
             f"queries {mib(after)}",
             f"full scale search: shared link (new session) {search['first_ms']} ms, later searches "
             f"{search['later_ms']} ms (median {search['later_median_ms']} ms)",
             f"full scale explorer: first open {explorer['first_ms']} ms, again {explorer['again_ms']} ms, "
             f"country filter {explorer['filter_ms']} ms ({explorer['pairs_shown']} -> "
             f"{explorer['pairs_shown_filtered']} pairs)"]
    LATENCIES.extend(lines)
    print("\n" + "\n".join(lines))

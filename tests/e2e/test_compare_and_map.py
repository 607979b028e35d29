"""In a real browser: the archive explorer coloured by similarity to the search page's last query (a shared
search link, then the explorer's toggle), and two encoders side by side on the compare page. Screenshots
land in test-output/e2e/."""
from __future__ import annotations

import re

import pytest

from scripts.loadtest.server import AppServer
from tests.e2e.conftest import OUTPUT, start_or_fail

pytestmark = pytest.mark.e2e
PORT = 8712
QUERY_PAIR = "S2A_MSIL2A_20170613T101031_87_48"
RAMP_LENGTH = 10  # pages/ui/explorer_map.RAMP


# the fill colours of the explorer map's patches (its GeoJSON layer draws on a canvas: no element per patch)
PATCH_COLOURS = """() => {
    const colours = [];
    window.map.eachLayer(layer => {
        const pair = layer.feature && layer.feature.properties && layer.feature.properties.pair;
        if (pair) colours.push(layer.options.fillColor);
    });
    return colours;
}"""
NOTHING_STALE = """() => !document.querySelector('[data-stale="true"]')"""  # no element left of an earlier run
# the thumbnails in view have loaded (those further down load lazily, when scrolled to)
IMAGES_LOADED = """(count) => {
    const images = [...document.querySelectorAll('[data-testid="stImage"] img')];
    return images.filter(i => i.complete && i.naturalWidth > 0).length >= count;
}"""


@pytest.fixture(scope="module")
def app_url():
    """This module's own app server (its own port, so that it can run beside the other browser tests)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    server = start_or_fail(AppServer(port=PORT, log_path=OUTPUT.parent / "app-server-compare.log"), "the app")
    yield server.url
    server.stop()


def test_the_explorer_colours_the_archive_by_similarity_to_the_last_search(page, app_url):
    page.goto(f"{app_url}/?pair={QUERY_PAIR}&sensor=s2&k=5&targets=s1,s2")
    page.get_by_text("5 most similar patches").wait_for(timeout=90_000)
    page.get_by_role("link", name="Archive explorer").click()  # the same session: the last query stays
    page.locator('[data-testid="stMetric"]', has_text="Pairs shown").wait_for(timeout=60_000)
    page.wait_for_function(NOTHING_STALE, timeout=30_000)  # the search page's map is gone
    page.wait_for_timeout(1000)
    frame = page.locator('iframe[title="streamlit_folium.st_folium"]').first.element_handle().content_frame()
    frame.wait_for_function("() => window.map && Object.keys(window.map._layers).length > 10", timeout=30_000)
    page.wait_for_timeout(1500)  # the map has reported its view; the page is idle
    frame.evaluate("() => { window.keptFrame = true; }")
    page.get_by_text("Colour by similarity to the last search").click()
    legend = page.locator(".similarity-legend")
    legend.wait_for(timeout=60_000)
    assert "standard deviations above this query's mean score" in legend.inner_text()
    page.wait_for_function(NOTHING_STALE, timeout=30_000)
    page.wait_for_timeout(1500)  # the map has drawn the coloured layer
    assert frame.evaluate("() => window.keptFrame === true")  # the same map, recoloured: its view is kept
    colours = frame.evaluate(PATCH_COLOURS)
    assert len(colours) == 60 and len(set(colours)) >= 4  # 60 patches, not one colour
    assert "#fde725" in colours  # the best match in the ramp's brightest colour
    page.screenshot(path=str(OUTPUT / "explorer-similarity.png"), full_page=True)
    page.get_by_text("mean of each cell's patches").click()
    legend.filter(has_text="cells show the mean").wait_for(timeout=30_000)
    # the choices outlive the widgets: off and on again, the archive's S1 patches stay chosen
    page.locator(".st-key-explorer_similarity_sensor").get_by_text("Sentinel-1").click()
    legend.filter(has_text="60 Sentinel-1 patches").wait_for(timeout=30_000)
    toggle = page.get_by_text("Colour by similarity to the last search")
    toggle.click()
    legend.wait_for(state="detached", timeout=30_000)
    toggle.click()
    legend.filter(has_text="60 Sentinel-1 patches; cells show the mean").wait_for(timeout=30_000)
    assert not [e for e in page.errors if "is not defined" in e or "is not a function" in e], page.errors


def test_two_encoders_side_by_side_on_the_compare_page(page, app_url):
    page.goto(f"{app_url}/compare")
    page.get_by_text("Pick an archive pair").wait_for(timeout=90_000)
    pair = page.locator(".st-key-compare_pair input")
    pair.click()
    pair.fill(QUERY_PAIR)
    page.keyboard.press("Enter")
    page.locator(".st-key-compare_second").click()
    page.get_by_role("option", name=re.compile(r"^CMID demo \(self")).click()
    page.locator('[data-testid="stHeading"]', has_text="CMID demo").wait_for(timeout=90_000)  # its run is drawn
    page.wait_for_function(NOTHING_STALE, timeout=60_000)
    assert page.get_by_text(re.compile(r"of the top 10 results are found by both models")).count() == 1
    assert page.locator('[data-testid="stMetric"]', has_text=re.compile(r"^P@k")).count() == 2
    assert page.locator('[data-testid="stMetric"]', has_text=re.compile(r"^AP@k")).count() == 2
    assert page.locator('[data-testid="stMetric"]', has_text="Counterpart rank").count() == 2
    assert page.locator('[data-testid="stImage"] img').count() == 1 + 2 * 10  # the query + 2 x 10 thumbnails
    page.wait_for_function(IMAGES_LOADED, arg=7, timeout=60_000)  # the query and each column's first three
    page.screenshot(path=str(OUTPUT / "compare-encoders.png"), full_page=True)

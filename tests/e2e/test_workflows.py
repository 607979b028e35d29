"""In a real browser, offline: "More like this" on a result puts it in the examples strip, and a rectangle
drawn with Leaflet.draw's toolbar (served by the app, no CDN) restricts the results to the patches inside
it. Screenshot in test-output/e2e/workflows.png."""
from __future__ import annotations

import re

import pytest

from csmae_core.retrieval.bundle import Bundle
from tests.conftest import ROOT
from tests.e2e.conftest import OUTPUT

pytestmark = pytest.mark.e2e
RESULTS = re.compile(r"\d+ most similar patches")
PAIR_IDS = re.compile(r"S2[AB]_MSIL2A_\w+?_\d+_\d+")
FINLAND = (20.0, 59.0, 32.0, 68.5)  # west, south, east, north: around the demo archive's Finnish patches


def map_point(frame, lon: float, lat: float) -> tuple[float, float]:
    """Page coordinates of (lon, lat) on the Leaflet map inside `frame` (a Playwright Frame)."""
    point = frame.evaluate("([lat, lon]) => { const p = window.map.latLngToContainerPoint([lat, lon]);"
                           " const box = window.map.getContainer().getBoundingClientRect();"
                           " return [box.left + p.x, box.top + p.y]; }", [lat, lon])
    element = frame.frame_element().bounding_box()
    # kept 8 px inside the map: a box edge beyond the view is drawn at the view's edge
    x = min(max(point[0], 8), element["width"] - 8)
    y = min(max(point[1], 8), element["height"] - 8)
    return element["x"] + x, element["y"] + y


def test_an_example_and_a_drawn_rectangle_restrict_the_search(page, app_url):
    table = Bundle(ROOT / "assets" / "bundles" / "demo").table
    country = dict(zip(table["pair_id"], table["country"]))
    query = table.index[table["country"] == "Austria"][0]
    page.goto(f"{app_url}/?pair={table.at[query, 'pair_id']}&sensor=s2&k=10")
    page.get_by_text(RESULTS).wait_for(timeout=90_000)

    page.locator(".st-key-feedback_all_1").get_by_text("More like this").click()
    page.locator(".st-key-examples_strip").get_by_text("more like this").first.wait_for(timeout=30_000)
    assert "examples=s" in page.url

    page.get_by_text("Filters", exact=True).click()
    page.locator(".st-key-area_drawing").get_by_text("Draw on a map").click()
    frame_element = page.locator(".st-key-area_map_box iframe")
    frame_element.wait_for(timeout=30_000)
    frame = frame_element.element_handle().content_frame()
    frame.wait_for_function("window.map && document.querySelector('.leaflet-draw-draw-rectangle')", timeout=30_000)
    frame.locator(".leaflet-draw-draw-rectangle").click()
    west, south, east, north = FINLAND
    start, end = map_point(frame, west, north), map_point(frame, east, south)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
    page.mouse.move(*end, steps=5)
    page.mouse.up()

    summary = page.locator(".area-summary")
    summary.wait_for(state="attached", timeout=30_000)
    kept = int(summary.get_attribute("data-kept"))
    assert 0 < kept < len(table)
    page.get_by_text(RESULTS).wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('.result-card').length > 0", timeout=30_000)
    gallery = page.locator('[data-testid="stMain"]').inner_text()
    found = set(PAIR_IDS.findall(gallery.split("most similar patches", 1)[1]))
    assert found and {country[pair] for pair in found if pair in country} == {"Finland"}
    assert not page.errors and not page.blocked_requests
    page.screenshot(path=str(OUTPUT / "workflows.png"), full_page=True)


def settled(page, quiet_ms: int = 700) -> None:
    """Wait until no script run has been going for `quiet_ms` (a shared link's page reruns as its map and
    address report back)."""
    idle = ("() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"
            " === 'notRunning'")
    for _ in range(3):
        page.wait_for_function(idle, timeout=30_000)
        page.wait_for_timeout(quiet_ms)
        if page.evaluate(idle):
            return


def test_the_result_downloads_are_made_when_clicked_and_hold_every_result(page, app_url):
    """The page hands the results files out on click (built then, not on every rerun): a real download."""
    import csv
    import io
    import json

    table = Bundle(ROOT / "assets" / "bundles" / "demo").table
    page.goto(f"{app_url}/?pair={table.at[3, 'pair_id']}&sensor=s2&k=12")
    page.get_by_text(RESULTS).wait_for(timeout=90_000)
    files = {}
    for label in ("Download CSV", "Download GeoJSON"):
        settled(page)  # a file made on click comes from the last finished run: not clicked during a rerun
        with page.expect_download(timeout=30_000) as download:
            page.get_by_role("button", name=label).click()
        files[label] = open(download.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(files["Download CSV"])))
    assert [int(row["rank"]) for row in rows] == list(range(1, 13))
    features = json.loads(files["Download GeoJSON"])["features"]
    ranks = [f["properties"].get("rank") for f in features if f["properties"].get("rank") is not None]
    assert ranks == list(range(1, 13)) and all(f["geometry"] for f in features)
    assert not page.errors and not page.blocked_requests

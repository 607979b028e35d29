"""In a real browser: on the Evaluation page, failure inspection of an S1 query against the S2 archive, the
user opens a result and sees where the match is (both previews under their token similarity maps, a colour
scale, the sentence). Screenshot: test-output/e2e/explain-evaluation.png."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import OUTPUT

pytestmark = pytest.mark.e2e
TIMEOUT_MS = 90_000
PAGE_END = re.compile("^PCA of the stacked S1 and S2 embeddings")  # the page's last caption: it has rendered


def choose(page, label: str, option: str | re.Pattern, attempts: int = 3) -> None:
    """Pick `option` in the Streamlit selectbox labelled `label` (again when a rerun re-mounts the open list)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label)
    wanted = page.get_by_role("option", name=option).first
    for attempt in range(attempts):
        settle(page)
        box.get_by_role("combobox").click()
        try:
            try:
                wanted.wait_for(timeout=3_000)
            except PlaywrightTimeout:  # a click that lands while the page scrolls only focuses the box
                page.keyboard.press("ArrowDown")
            wanted.click(timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def settle(page) -> None:
    """Until the app's rerun has finished (its "running" status is gone), so widgets are not re-mounted
    under the pointer."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=TIMEOUT_MS)


def test_evaluation_failure_inspection_shows_the_token_maps_of_an_opened_result(page, app_url):
    page.goto(f"{app_url}/evaluation")
    page.get_by_text(PAGE_END).wait_for(timeout=TIMEOUT_MS)
    choose(page, "Direction", "S1→S2")
    page.get_by_text(re.compile(r"^Top \d+ results \(S1→S2")).wait_for(timeout=TIMEOUT_MS)
    page.get_by_text(PAGE_END).wait_for(timeout=TIMEOUT_MS)
    choose(page, "Where is the match? Open a result", re.compile(r"^#1 · S2 · "))
    page.get_by_text(re.compile("same grid position")).wait_for(timeout=TIMEOUT_MS)
    opened = page.locator('[data-testid="stSelectbox"]').filter(has_text="Where is the match").locator(
        "input").input_value()
    pair = re.search(r"#1 · S2 · (\S+) · score", opened).group(1)
    assert page.get_by_text("query (Sentinel-1): tokens vs the result").count() == 1
    assert page.get_by_text(f"#1 Sentinel-2 {pair}: tokens vs the query").count() == 1   # the opened result
    assert page.get_by_text(re.compile(r"^cosine -?\d\.\d\d \(dark\) to -?\d\.\d\d \(bright\)")).count() == 2
    images = page.locator('[data-testid="stImage"] img')
    assert images.count() >= 3
    heading = page.get_by_text(re.compile("Where the match is: query row"))
    inspected = page.locator('[data-testid="stSelectbox"]').filter(has_text="Inspect query").locator(
        "input").input_value()
    row = re.match(r"row (\d+) · ", inspected).group(1)
    assert heading.inner_text().startswith(f"Where the match is: query row {row} (S1)")  # the query shown
    heading.scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "explain-evaluation.png"), full_page=True)
    assert not page.errors and not page.blocked_requests

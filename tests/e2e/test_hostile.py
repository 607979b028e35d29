"""The app used carelessly and with hostile intent, in a real browser against `make run` on loopback:
links whose values are Markdown, HTML, javascript: URLs, bidi characters or far too long; an archive whose
pair ids and names are such payloads (search results, gallery, map popups and tooltips, the explorer);
Back, Forward and reload; an upload replaced by another file of the same name and size.

Nothing may link to, load from or request the payloads' host (the `page` fixture records every
non-loopback request), no script of a payload may run (no dialog opens), and no traceback is shown."""
from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from scripts.loadtest.server import AppServer
from tests.e2e.conftest import OUTPUT, start_or_fail
from tests.payloads import HOST, PAYLOADS, archive_value, write_payload_catalogue

pytestmark = pytest.mark.e2e
RESULTS = re.compile(r"\d+ most similar patches")
NOT_RUNNING = ("() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"
               " === 'notRunning'")
FIRST_CARD_IS = "(name) => document.querySelector('.result-card')?.dataset.query === name"
LINKS_AND_IMAGES = f"""() => [
    ...Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    ...Array.from(document.querySelectorAll('img[src], source[src]')).map(i => i.src),
    ...Array.from(document.querySelectorAll('image')).map(i => i.href?.baseVal || ''),
].filter(url => url.toLowerCase().startsWith('javascript:') ||
               (() => {{ try {{ return new URL(url).host.endsWith('{HOST}'); }} catch (e) {{ return false; }} }})())"""


# opens the popup of every layer of the Leaflet map in this frame, one after another; their text
OPEN_EVERY_POPUP = """() => {
    const map = Object.values(window).find(v => v instanceof L.Map);
    const texts = [];
    map.eachLayer(layer => {
        if (layer.getPopup && layer.getPopup()) {
            layer.openPopup();
            const element = layer.getPopup().getElement();
            texts.push(element ? element.innerText : '');
        }
    });
    return texts;
}"""


MAP_READY = "() => window.L && Object.values(window).some(v => v instanceof L.Map)"
# the HTML of the tooltip of every layer (and of every feature of a GeoJSON layer, whose tooltip is a
# function that fills a div's innerHTML) of the Leaflet map in this frame
EVERY_TOOLTIP = """() => {
    const map = Object.values(window).find(v => v instanceof L.Map);
    const html = [];
    const shown = content => typeof content === 'string' ? content : (content && content.outerHTML) || '';
    map.eachLayer(layer => {
        const tooltip = layer.getTooltip && layer.getTooltip();
        if (!tooltip) return;
        const content = tooltip._content;
        if (typeof content !== 'function') { html.push(shown(content)); return; }
        for (const target of (layer.getLayers ? layer.getLayers() : [layer])) html.push(shown(content(target)));
    });
    return html;
}"""


def watch_dialogs(page) -> list[str]:
    """Every alert/confirm a payload's script would open (dismissed), for the test to assert none."""
    opened: list[str] = []
    page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
    return opened


def settled(page, timeout: int = 90_000) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function(NOT_RUNNING, timeout=timeout, polling=100)


def payload_links(page) -> list[str]:
    """Links to and images from the payloads' host, and javascript: links, in the page and in every frame
    (the maps)."""
    found = []
    for frame in page.frames:
        try:
            found += frame.evaluate(LINKS_AND_IMAGES)
        except Exception:  # noqa: BLE001 - a frame that went away has nothing to show
            continue
    return found


def assert_inert(page, dialogs: list[str]) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert payload_links(page) == []
    assert [url for url in page.blocked_requests if HOST in url] == []
    assert dialogs == [] and not [e for e in page.errors if "alert" in e or "SyntaxError" in e], page.errors


# ------------------------------------------------------------------------------------------ addresses

URL_PAYLOADS = [n for n in PAYLOADS if n != "long"]


def test_hostile_addresses_show_plain_text_and_link_load_or_run_nothing(page, app_url):
    dialogs = watch_dialogs(page)
    for name in URL_PAYLOADS + ["long"]:
        value = PAYLOADS[name] if name != "long" else "A" * 5_000  # 100 kB: the server refuses the request line
        query = urllib.parse.urlencode({"pair": value, "sensor": value[:100], "k": "²", "targets": value[:100]})
        page.goto(f"{app_url}/?{query}")
        page.get_by_text("The link could not be followed as given").wait_for(timeout=60_000)
        settled(page)
        warning = page.locator('[data-testid="stAlert"]').first
        assert warning.locator("a, img").count() == 0, name
        assert len(warning.inner_text()) < 800, name
        assert_inert(page, dialogs)
    page.goto(f"{app_url}/?pair=S2A_MSIL2A_20170613T101031_87_48&k={'9' * 5000}")
    page.get_by_text(RESULTS).wait_for(timeout=60_000)  # the default k, and the message
    assert page.get_by_text("k must be a whole number from 1 to 1000").count() == 1
    assert_inert(page, dialogs)


def test_a_markdown_link_in_the_address_is_shown_as_typed(page, app_url):
    dialogs = watch_dialogs(page)
    page.goto(f"{app_url}/?" + urllib.parse.urlencode({"pair": PAYLOADS["markdown-link"]}))
    warning = page.locator('[data-testid="stAlert"]').first
    warning.wait_for(timeout=60_000)
    settled(page)
    assert f"[Session expired, sign in again](http://{HOST}/phish)" in warning.inner_text().replace("\u2060", "")
    assert_inert(page, dialogs)
    page.screenshot(path=str(OUTPUT / "hostile-address.png"), full_page=True)


# ---------------------------------------------------------------------------------- a hostile archive


@pytest.fixture(scope="module")
def payload_app(tmp_path_factory):
    """The app serving the demo with a bundle whose pair ids, S1 names, countries, seasons and name are
    payloads (tests/payloads.py); it releases a closed session's uploads 3 s after it closed."""
    catalogue = write_payload_catalogue(tmp_path_factory.mktemp("payload-archive"))
    server = AppServer(catalogue=catalogue, log_path=OUTPUT.parent / "payload-server.log")
    with pytest.MonkeyPatch.context() as patch:  # closed sessions' uploads released after 3 s (30 s served)
        patch.setenv("CSMAE_RELEASE_AFTER_S", "3")
        patch.setenv("CSMAE_CHECK_EVERY_S", "1")
        start_or_fail(server, "the payload app")
    yield server.url
    server.stop()


def test_a_hostile_archive_shows_its_names_plainly_in_results_maps_and_the_explorer(page, payload_app):
    dialogs = watch_dialogs(page)
    page.goto(f"{payload_app}/?" + urllib.parse.urlencode({"pair": archive_value(0), "k": "50", "targets": "s1,s2"}))
    page.get_by_text("50 most similar patches").wait_for(timeout=90_000)
    settled(page)
    frame = page.locator(".st-key-results_map_box iframe").last.content_frame
    frame.locator("img.leaflet-image-layer").nth(20).wait_for(state="attached", timeout=30_000)
    map_frame = page.locator(".st-key-results_map_box iframe").last.element_handle().content_frame()
    popups = map_frame.evaluate(OPEN_EVERY_POPUP)  # their HTML holds pair ids and labels
    assert len(popups) == 50 and any("evil" in text for text in popups)
    assert frame.locator(".leaflet-popup-content a").count() == 0
    # the gallery is paged (pages/ui/results_gallery.PAGE_SIZE = 25): all 50 cards, on two pages
    assert page.locator(".result-card").count() == 25
    assert_inert(page, dialogs)
    page.screenshot(path=str(OUTPUT / "hostile-archive-results.png"), full_page=True)
    page.get_by_role("button", name="Next ›").first.click()
    page.locator('.result-card[data-rank="50"]').wait_for(state="attached", timeout=60_000)
    assert page.locator(".result-card").count() == 25
    assert_inert(page, dialogs)
    page.goto(f"{payload_app}/explorer")
    page.locator('[data-testid="stMetric"]', has_text="Pairs shown").wait_for(timeout=90_000)
    settled(page)
    explorer = page.locator('iframe[title="streamlit_folium.st_folium"]').first.element_handle().content_frame()
    explorer.wait_for_function(MAP_READY, timeout=30_000)
    tooltips = explorer.evaluate(EVERY_TOOLTIP)  # GeoJSON tooltips put pair ids into innerHTML
    assert len(tooltips) >= 60 and any("evil" in html for html in tooltips)
    assert not [html for html in tooltips if re.search(r"<(a|img|script)\b", html)]
    assert_inert(page, dialogs)


# ------------------------------------------------------------------------------ Back, Forward, reload


def first_query(page) -> str:
    return page.locator(".result-card").first.get_attribute("data-query")


def wait_query(page, name: str) -> None:
    page.wait_for_function(FIRST_CARD_IS, arg=name, timeout=60_000, polling=100)
    settled(page)


def test_back_forward_and_reload_show_the_search_of_the_address(page, app_url):
    page.goto(f"{app_url}/?pair=S2A_MSIL2A_20170613T101031_87_48&sensor=s2&k=5&targets=s1,s2")
    wait_query(page, "S2A_MSIL2A_20170613T101031_87_48")
    entries = [(page.url, first_query(page))]
    page.get_by_text("Random example", exact=True).click()
    settled(page)
    for _ in range(2):
        page.locator(".st-key-random_example button").click()
        page.wait_for_function("(u) => location.href !== u", arg=entries[-1][0], timeout=60_000)
        settled(page)
        entries.append((page.url, first_query(page)))
    assert len({url for url, _ in entries}) == 3 and all("k=5" in url for url, _ in entries)
    for url, name in (entries[1], entries[0]):  # Back, Back
        page.go_back()
        wait_query(page, name)
        assert page.url == url and page.get_by_text("5 most similar patches").count() == 1
    page.go_forward()
    wait_query(page, entries[1][1])
    assert page.url == entries[1][0]
    page.reload()
    wait_query(page, entries[1][1])
    assert page.url == entries[1][0]
    page.screenshot(path=str(OUTPUT / "history-forward-reload.png"), full_page=True)


# ----------------------------------------------------------------------- an upload replaced in place


def s1_geotiff(path: Path, row: int) -> Path:
    """Real S1 bands (VV, VH, dB) of demo archive pair `row` as one 2-band GeoTIFF of 120 x 120 float32."""
    import rasterio
    from rasterio.transform import from_origin

    from csmae_core.io.packed import PackedArchive
    from tests.conftest import DEMO

    record = PackedArchive(DEMO)[row].record("s1")
    footprint = record.footprint
    path.parent.mkdir(parents=True, exist_ok=True)
    geo = {"crs": f"EPSG:{footprint.epsg}", "transform": from_origin(footprint.ulx, footprint.uly, 10, 10)}
    with rasterio.open(path, "w", driver="GTiff", width=120, height=120, count=2, dtype="float32", **geo) as out:
        out.write(np.stack([record.bands["VV"], record.bands["VH"]]).astype("float32"))
        out.descriptions = ("VV", "VH")
    return path


def test_an_upload_removed_and_replaced_by_a_file_of_the_same_name_and_size_is_searched(page, app_url, tmp_path):
    first, second = s1_geotiff(tmp_path / "a" / "patch.tif", 3), s1_geotiff(tmp_path / "b" / "patch.tif", 40)
    assert first.stat().st_size == second.stat().st_size and first.read_bytes() != second.read_bytes()
    page.goto(app_url)
    page.get_by_text("Upload a patch, click the map").wait_for(timeout=60_000)
    uploader = page.locator('.st-key-upload_files [data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(str(first))
    page.get_by_text(RESULTS).wait_for(timeout=60_000)
    settled(page)
    footprint_first = page.get_by_text("Footprint").first.inner_text()
    page.locator('[data-testid="stFileChipDeleteBtn"] button').first.click()
    page.get_by_text("Upload a patch, click the map").wait_for(timeout=60_000)  # no stale results
    assert page.get_by_text(RESULTS).count() == 0
    uploader.set_input_files(str(second))
    page.get_by_text(RESULTS).wait_for(timeout=60_000)
    settled(page)
    footprint_second = page.get_by_text("Footprint").first.inner_text()
    assert footprint_first != footprint_second  # the second file's place, not the first's


# ------------------------------------------------------------------------ a closed session's uploads


def test_the_uploads_of_a_closed_session_are_released(browser, payload_app, tmp_path):
    """pages/ui/sessions.py: Streamlit would keep them for as long as the server runs."""
    import time

    from scripts.loadtest.memory import held_upload_bytes

    context = browser.new_context()
    page = context.new_page()
    page.goto(payload_app)
    page.get_by_text("Upload a patch, click the map").wait_for(timeout=90_000)
    uploader = page.locator('.st-key-upload_files [data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(str(s1_geotiff(tmp_path / "p.tif", 5)))
    page.get_by_text(RESULTS).wait_for(timeout=60_000)
    deadline = time.monotonic() + 30
    while not held_upload_bytes(payload_app) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert held_upload_bytes(payload_app) > 0  # held while the session is open
    context.close()
    deadline = time.monotonic() + 60
    while held_upload_bytes(payload_app) and time.monotonic() < deadline:
        time.sleep(1)
    assert held_upload_bytes(payload_app) == 0


def test_the_memory_benchmark_runs(tmp_path):
    """scripts/bench_memory.py end to end on a tiny upload (its numbers are docs/HARDENING.md's)."""
    import subprocess
    import sys

    from tests.e2e.conftest import ROOT

    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_memory.py"), "--scenario", "sessions",
                          "--sessions", "1", "--mb", "2", "--observe", "2", "--every", "1", "--work", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "session 1: results after" in run.stdout
    rows = [line for line in run.stdout.splitlines() if re.match(r"\| \d+ \| [\d.]+ \| [-\d.]+ \| [\d.]+ \|", line)]
    assert len(rows) >= 2, run.stdout

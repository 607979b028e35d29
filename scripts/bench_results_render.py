"""Browser render time of many results: from the user's click on "Random example" to the new query's results
rendered, at k = 10, 100 and 1,000 (Debian's headless Chromium, every non-loopback request refused).

Rendered means: the heading names the new count, the gallery's first page holds the new query's cards (at most
pages.ui.results_gallery.PAGE_SIZE) with their images decoded, the results map frame has drawn the image
overlays it gets (every result up to CLUSTER_FROM, else the best OVERLAY_RANKS) and, beyond CLUSTER_FROM
results, its cluster markers. Each k gets a fresh page opened on a shared link with that k (not counted);
then --rounds random examples are timed (medians reported). The load average is printed with the numbers.

The demo archive has 60 pairs (118 other patches: k = 1,000 shows 118). For k = 1,000 results proper, serve a
bigger catalogue, e.g. synthetic vectors over the real reBEN metadata (no pixels: the gallery and the map
show no images there):

    .venv/bin/python scripts/bench_results_render.py --ks 10,100,1000 --rounds 5 --json test-output/render.json
    .venv/bin/python scripts/build_scale_bundle.py --metadata PATH/metadata.parquet --pairs 100000 --out /tmp/s/b
    .venv/bin/python scripts/bench_results_render.py --catalogue /tmp/s/catalogue.json --ks 10,100,1000
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

from loadtest.browser import CHROMIUM_FLAGS, require_chromium
from loadtest.server import AppServer
from loadtest.workload import served_pairs

PAGE_SIZE, CLUSTER_FROM, OVERLAY_RANKS = 25, 50, 10  # pages/ui/results_gallery.py, pages/ui/results.py
HEADING = re.compile(r"([\d,]+) most similar patches")
TIMEOUT_S = 120

# the main document: the results heading's count, the first card's query, the cards shown, images pending
PAGE_STATE = """() => {
  const heading = Array.from(document.querySelectorAll('h3')).map(h => h.innerText)
      .find(t => t.includes('most similar patches')) || null;
  const cards = document.querySelectorAll('.result-card');
  const images = Array.from(document.querySelectorAll('[data-testid="stMain"] img'));
  return {heading, query: cards.length ? cards[0].dataset.query : null, cards: cards.length, images: images.length,
          pending: images.filter(i => !(i.complete && i.naturalWidth > 0)).length,
          running: document.querySelector('[data-test-script-state="running"]') !== null};
}"""
NOT_RUNNING = "() => document.querySelector('[data-test-script-state=\"running\"]') === null"
# the results map's frame: image overlays drawn and loaded, cluster bubbles and unclustered result points
MAP_STATE = """() => {
  const overlays = Array.from(document.querySelectorAll('img.leaflet-image-layer'));
  return {overlays: overlays.length, loaded: overlays.filter(i => i.complete && i.naturalWidth > 0).length,
          clusters: document.querySelectorAll('.marker-cluster').length,
          points: document.querySelectorAll('path.result-point').length};
}"""


def expected(count: int, pixels: bool) -> dict:
    """What a rendered page of `count` results shows: cards on page 1, map overlays, whether clustered."""
    drawn = count if count <= CLUSTER_FROM else OVERLAY_RANKS
    return {"cards": min(count, PAGE_SIZE), "overlays": drawn + 1 if pixels else 0, "clustered": count > CLUSTER_FROM}


def is_rendered(state: dict, map_state: dict, want: dict, before: str | None) -> bool:
    return (state["heading"] is not None and state["query"] not in (None, before) and not state["running"]
            and state["cards"] == want["cards"] and state["pending"] == 0
            and map_state["loaded"] >= want["overlays"]
            and (not want["clustered"] or map_state["clusters"] + map_state["points"] > 0))


def map_frame(page):
    return page.locator(".st-key-results_map_box iframe").last.element_handle().content_frame()


def wait_rendered(page, before: str | None, pixels: bool, started: float) -> tuple[float, dict]:
    """Polls (every ~20 ms) until the results of a query other than `before` are rendered; (ms since
    `started`, the final page and map state)."""
    deadline = started + TIMEOUT_S
    while time.perf_counter() < deadline:
        state = page.evaluate(PAGE_STATE)
        match = HEADING.search(state["heading"] or "")
        if match:
            map_state = map_frame(page).evaluate(MAP_STATE)
            if is_rendered(state, map_state, expected(int(match[1].replace(",", "")), pixels), before):
                return (time.perf_counter() - started) * 1000, {**state, **map_state}
        page.wait_for_timeout(20)
    raise TimeoutError(f"no results rendered within {TIMEOUT_S} s (last state {state})")


def measure_k(browser, url: str, pair: str, k: int, rounds: int) -> dict:
    """A fresh page on the shared link of `pair` with k (not counted), then `rounds` timed random examples."""
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        (url, "data:", "blob:", "about:")) else route.abort())
    page = context.new_page()
    try:
        page.goto(f"{url}/?pair={pair}&sensor=s2&k={k}&targets=s1,s2")
        page.locator(".result-card").first.wait_for(state="attached", timeout=TIMEOUT_S * 1000)
        page.wait_for_function(NOT_RUNNING, timeout=TIMEOUT_S * 1000, polling=100)
        page.wait_for_timeout(1500)
        # the query's and the results' pictures, if the archive has pixels
        pixels = page.evaluate(PAGE_STATE)["images"] > 0 or map_frame(page).evaluate(MAP_STATE)["overlays"] > 0
        page.get_by_text("Random example", exact=True).click()
        page.locator(".st-key-random_example button").wait_for(timeout=TIMEOUT_S * 1000)
        samples, last = [], {}
        for _ in range(rounds):
            page.wait_for_timeout(1500)  # the last search has settled; a user looks at it
            before = page.locator(".result-card").first.get_attribute("data-query")
            started = time.perf_counter()
            page.locator(".st-key-random_example button").click()
            elapsed, last = wait_rendered(page, before, pixels, started)
            samples.append(round(elapsed))
        count = int(HEADING.search(last["heading"])[1].replace(",", ""))
        return {"k": k, "results": count, "pixels": pixels, "ms": samples, "median_ms": statistics.median(samples),
                "cards": last["cards"], "images": last["images"], "overlays": last["overlays"],
                "clusters": last["clusters"]}
    finally:
        context.close()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--catalogue", type=Path, help="serve this catalogue (default: the demo's)")
    parser.add_argument("--url", help="measure this running app instead (serving --catalogue's first entry)")
    parser.add_argument("--port", type=int, help="port of the app started here (default: a free one)")
    parser.add_argument("--ks", default="10,100,1000", help="comma-separated k values (default 10,100,1000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed random examples per k (median reported)")
    parser.add_argument("--json", type=Path, help="write the samples, medians and load average here")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from playwright.sync_api import sync_playwright

    ks = [int(k) for k in args.ks.split(",")]
    pair = served_pairs(args.catalogue)[0][0]
    load_at_start = os.getloadavg()
    server = None
    if args.url is None:
        options = {"catalogue": args.catalogue, "log_path": Path(os.devnull)}
        server = AppServer(**options, **({"port": args.port} if args.port else {})).start()
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_FLAGS)
            for k in ks:
                rows.append(measure_k(browser, args.url or server.url, pair, k, args.rounds))
                print(f"k = {k:>5,}: {rows[-1]['results']:,} results, rendered in {rows[-1]['ms']} ms "
                      f"(median {rows[-1]['median_ms']:.0f} ms; {rows[-1]['cards']} cards, {rows[-1]['images']} images, "
                      f"{rows[-1]['overlays']} overlays, {rows[-1]['clusters']} clusters)", flush=True)
            browser.close()
    finally:
        if server is not None:
            server.stop()
    load = os.getloadavg()
    print(f"load average (1, 5, 15 min) at the start {' '.join(f'{v:.2f}' for v in load_at_start)}, at the end "
          f"{' '.join(f'{v:.2f}' for v in load)}, on {os.cpu_count()} CPUs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"catalogue": str(args.catalogue or "demo"), "rows": rows,
                                         "load_average": [round(v, 2) for v in load],
                                         "load_average_at_start": [round(v, 2) for v in load_at_start],
                                         "cpus": os.cpu_count()}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

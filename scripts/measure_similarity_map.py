"""Query -> archive coloured by similarity: how long the archive explorer takes to score every patch of a
sensor against a query and aggregate the scores per map cell, on a bundle (default: the committed demo).

    .venv/bin/python scripts/measure_similarity_map.py --bundle SCALE_DIR/reben-synthetic [--queries 20] [--page]

For a 549,488-pair bundle, build one with scripts/build_scale_bundle.py (real reBEN metadata, synthetic
768-d vectors; keep it out of the repository). Per sensor and query (archive rows drawn with a fixed seed):
  score      csmae_core.retrieval.similarity_map.score_archive (one matrix-vector product over the
             memory-mapped embeddings, mean and std)
  aggregate  browse.TableFacts.viewport with the scores at the explorer's first views (the whole archive
             at zoom 4, and a zoom-7 view of its centre): per-cell best and mean
  total      score + both views
p50 / p95 in ms over the queries; the first query of each sensor is reported apart (`cold_ms`: the
embeddings are read from disk or page cache into the product for the first time).
--page: also the explorer page itself (Streamlit AppTest, the real pages/explorer.py with this bundle as
its catalogue): the rerun from "a new last query" to the coloured map drawn (S2 patches, standardised, cells
by their best), per query, p50 / p95; and the same reruns with the colouring off, the explorer's own cost.
--browser: in Chromium against a real app server (`make run`) on this bundle: a search by an archive pair
(the search page), then the click on "Archive explorer" until the map is drawn for that query, alternately
with the colouring on and off (one session: the explorer keeps the toggle), in seconds; and the scoring
time the page itself reports ("scored in ... ms").
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from csmae_core.retrieval.aggregate import fit_view, view_bounds
from csmae_core.retrieval.browse import table_facts
from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.queries import archive_query
from csmae_core.retrieval.similarity_map import score_archive

ROOT = Path(__file__).resolve().parents[1]
MAX_POINTS = 2000  # pages/explorer.py's
# pages/ui/state.py's KEY_LAST_QUERY (scripts never import the UI; a drift fails the page measurement loudly)
KEY_LAST_QUERY = "last_query"


def percentiles(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(samples, 50)), 1),
            "p95_ms": round(float(np.percentile(samples, 95)), 1), "n": len(samples)}


def views(facts) -> list[tuple[tuple[float, float, float, float], int]]:
    """The explorer's first view (all pairs fitted) and a zoom-7 view of its centre."""
    lat, lon, zoom = fit_view(facts.home)
    return [(view_bounds(lat, lon, zoom), zoom), (view_bounds(lat, lon, 7), 7)]


def measure_core(bundle: Bundle, rows: np.ndarray) -> dict:
    facts = table_facts(bundle.table)
    mask = np.ones(len(bundle.table), dtype=bool)
    report = {}
    for sensor in bundle.sensors:
        timings: dict[str, list[float]] = {"score": [], "aggregate": [], "total": []}
        cold = None
        for i, row in enumerate(rows):
            started = time.perf_counter()
            scores = score_archive(bundle.embeddings[sensor], bundle.embeddings[sensor][row], sensor, row)
            scored = time.perf_counter()
            values = scores.values("standardised")
            cells = [facts.viewport(mask, bounds, zoom, MAX_POINTS, values) for bounds, zoom in views(facts)]
            done = time.perf_counter()
            assert all(c["mode"] == "points" or "best" in c["cells"] for c in cells)
            if i == 0:
                cold = round(1000 * (done - started), 1)
                continue
            timings["score"].append(1000 * (scored - started))
            timings["aggregate"].append(1000 * (done - scored))
            timings["total"].append(1000 * (done - started))
        report[sensor] = {"cold_ms": cold, **{name: percentiles(t) for name, t in timings.items()}}
    return report


def measure_page(bundle: Bundle, rows: np.ndarray) -> dict:
    """The explorer page's rerun after the last query changed (AppTest, in this process)."""
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as folder:
        catalogue = Path(folder) / "catalogue.json"
        catalogue.write_text(json.dumps({"entries": [{"name": "measured bundle", "bundle": str(bundle.path.resolve()),
                                                      "verify": False}]}))
        os.environ["CSMAE_CATALOGUE"] = str(catalogue)
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        app.switch_page("pages/explorer.py")
        app.run()  # loads the bundle and its table facts (once per server)
        report = {}
        for coloured in (False, True):  # the same reruns without colouring: what the explorer costs anyway
            app.toggle(key="explorer_similarity").set_value(coloured)
            timings = []
            for i, row in enumerate(rows):
                app.session_state[KEY_LAST_QUERY] = archive_query(bundle, int(row), "s2")
                started = time.perf_counter()
                app.run()
                elapsed = 1000 * (time.perf_counter() - started)
                drawn = any("similarity-legend" in m.value for m in app.markdown)
                if app.exception or drawn != coloured:
                    raise RuntimeError(f"the explorer did not draw what was asked: {app.exception or app.warning}")
                if i:
                    timings.append(elapsed)
            report["coloured_s2" if coloured else "uncoloured"] = percentiles(timings)
    return report


def server_catalogue(bundle: Bundle, folder: Path) -> Path:
    """A catalogue serving just `bundle` (its checksums are not checked: hashing GBs is not what is measured)."""
    catalogue = folder / "catalogue.json"
    catalogue.write_text(json.dumps({"entries": [{"name": "measured bundle", "bundle": str(bundle.path.resolve()),
                                                  "verify": False}]}))
    return catalogue


def explorer_after_search(page, pair_id: str, coloured: bool) -> tuple[float, float | None]:
    """From the explorer: search with `pair_id`'s S2 image, then back to the explorer; (seconds from the
    click on "Archive explorer" to the map drawn, the scoring time the page reports or None)."""
    fresh = "() => !document.querySelector('[data-stale=\"true\"]')"
    picker = page.locator(".st-key-explorer_pair input")
    picker.click()
    picker.fill(pair_id)
    page.keyboard.press("Enter")
    page.locator(".st-key-explorer_search_s2 button").wait_for(timeout=120_000)
    page.wait_for_function(fresh, timeout=60_000)
    page.locator(".st-key-explorer_search_s2 button").click()
    page.get_by_text(re.compile(r"\d+ most similar patches")).wait_for(timeout=120_000)
    page.wait_for_function(fresh, timeout=60_000)
    page.wait_for_timeout(1000)
    started = time.perf_counter()
    page.get_by_role("link", name="Archive explorer").click()
    page.locator('[data-testid="stMetric"]', has_text="Pairs shown").wait_for(timeout=120_000)
    caption = page.get_by_text(re.compile(f"last search.s query {re.escape(pair_id)}.*scored in"))
    if coloured:
        caption.wait_for(timeout=120_000)
    page.locator('iframe[title="streamlit_folium.st_folium"]').first.wait_for(timeout=60_000)
    page.wait_for_function(fresh, timeout=60_000)
    elapsed = time.perf_counter() - started
    scored = re.search(r"scored in (\d+) ms", caption.inner_text()) if coloured else None
    return elapsed, float(scored.group(1)) if scored else None


def measure_browser(bundle: Bundle, rows: np.ndarray) -> dict:
    """Search -> explorer in Chromium, the colouring on and off alternately (the first row warms up)."""
    from playwright.sync_api import sync_playwright

    from loadtest.browser import CHROMIUM_FLAGS, require_chromium
    from loadtest.server import AppServer

    pair_ids = [str(bundle.table.at[int(row), "pair_id"]) for row in rows]
    timings: dict[str, list[float]] = {"coloured": [], "uncoloured": [], "scored": []}
    with tempfile.TemporaryDirectory() as folder, \
            AppServer(catalogue=server_catalogue(bundle, Path(folder)), log_path=Path(folder) / "app.log") as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.goto(f"{server.url}/?pair={pair_ids[0]}&sensor=s2&k=10&targets=s2", timeout=600_000)
        page.get_by_text(re.compile(r"\d+ most similar patches")).wait_for(timeout=600_000)
        page.get_by_role("link", name="Archive explorer").click()
        page.locator('[data-testid="stMetric"]', has_text="Pairs shown").wait_for(timeout=600_000)
        page.get_by_text("Colour by similarity to the last search").click()  # on; the first scoring is cold
        page.locator(".similarity-legend").wait_for(timeout=600_000)
        coloured = True
        for pair_id in pair_ids[1:]:
            elapsed, scored = explorer_after_search(page, pair_id, coloured)
            timings["coloured" if coloured else "uncoloured"].append(1000 * elapsed)
            if scored is not None:
                timings["scored"].append(scored)
            page.get_by_text("Colour by similarity to the last search").click()
            page.wait_for_timeout(500)
            coloured = not coloured
        browser.close()
    return {name: percentiles(values) for name, values in timings.items() if values}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=ROOT / "assets" / "bundles" / "demo",
                        help="index bundle (default: the committed demo)")
    parser.add_argument("--queries", type=int, default=20, help="queries per sensor (the first is a warm-up)")
    parser.add_argument("--page", action="store_true", help="also time the explorer page's rerun (AppTest)")
    parser.add_argument("--browser", type=int, default=0, metavar="N",
                        help="also time search -> explorer in Chromium for N queries (alternately coloured or not)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the query rows")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.queries < 2:
        parser.error("--queries must be at least 2 (the first one is a warm-up)")
    # the files' checksums are not what is measured (hashing 7 GB takes minutes)
    bundle = Bundle(args.bundle, verify=False)
    rows = np.random.default_rng(args.seed).choice(len(bundle.table), min(args.queries, len(bundle.table)),
                                                   replace=False)
    report = {"bundle": str(args.bundle), "pairs": len(bundle.table), "dim": bundle.dim,
              "dtype": str(bundle.embeddings[bundle.sensors[0]].dtype), "core": measure_core(bundle, rows)}
    if args.page:
        report["page"] = measure_page(bundle, rows)
    if args.browser:
        more = np.random.default_rng(args.seed + 1).choice(len(bundle.table), min(args.browser + 1, len(bundle.table)),
                                                           replace=False)
        report["browser"] = measure_browser(bundle, more)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

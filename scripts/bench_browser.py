"""Browser latency of a search, from the user's action to the results rendered with their map overlays, and
where the time goes: a timeline of each search (upload requests, rerun request, server messages, script
finished, results map frame and Leaflet, overlays added / loaded / decoded, result cards, gallery images).

Scenarios, in a fresh page each (Debian's headless Chromium, every non-loopback request refused):
  first   "Pick on the map", then a click on a marker: the first search of a freshly opened page
  later   three more marker clicks in that page (the map frame stays)
  upload  a drop of the 12 band GeoTIFFs of a real BigEarthNet-S2 patch

With --reference REV the app of git revision REV (exported with `git archive` to a temporary folder,
served with this project's virtual environment and assets) runs beside the working tree's, the two are
measured alternately in the same run, and the summary gives the ratios. The first --warmup rounds (server
caches cold) are not counted. Medians over --rounds; the machine's load average is printed with the numbers.

    .venv/bin/python scripts/bench_browser.py --rounds 5 --reference HEAD --json test-output/bench-browser.json
    .venv/bin/python scripts/bench_browser.py --url http://127.0.0.1:8501 --rounds 3   # a running app
    .venv/bin/python scripts/bench_browser.py --reference HEAD --tree /tmp/proposed     # a copy with a change
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

from loadtest.browser import CHROMIUM_FLAGS, require_chromium
from loadtest.cpu import CpuMeter
from loadtest.server import ROOT, AppServer, pid_listening
from loadtest.timeline import TIMELINE_PROBE, Timeline, search_timeline, wait_rendered

UPLOAD_DIR = ROOT / "tests" / "data" / "v1" / "BigEarthNet-v1.0" / "S2A_MSIL2A_20170613T101031_87_48"
LATER_MARKERS = (20, 40, 55)
K = 10
SETTLE_MS = 1500
TREE_FILES = ["app.py", "pages", "csmae_core", ".streamlit", "static"]


def measured(page, timeline: Timeline, action, cpu: CpuMeter, k: int = K) -> dict:
    """Run `action` (a user's action), wait for its results rendered; the search's timeline, counted from
    the browser's own click / change event (the driver's part is left out), and the CPU time it cost the
    browser's main thread and the server (the driver's polling included: a few ms)."""
    page.wait_for_timeout(SETTLE_MS)  # the page has drawn what the last action brought; a user looks at it
    runs, called, mark = len(timeline.finished_cards), time.time() * 1000, cpu.mark()
    action()
    query, main, inner = wait_rendered(page, timeline, called, runs, k)
    seen, spent = time.time() * 1000, cpu.since(mark)
    events = [e["t"] for e in main["events"] + action_events(page) if e["name"] in ("click", "change")
              and e["t"] >= called]
    started = min(events, default=called)
    out = search_timeline(timeline.types, main, inner, started, query)
    out["driver seen"] = round(seen - called)
    return {**out, **spent}


def action_events(page) -> list[dict]:
    """The probe's events of every child frame (a click on the query map happens in its frame)."""
    events = []
    for frame in page.frames[1:]:
        try:
            events += frame.evaluate("() => (window.__tl || {events: []}).events")
        except Exception:  # noqa: BLE001 - a frame that went away has nothing to add
            pass
    return events


def open_page(browser, url: str):
    """A fresh page of the app at `url`, its timeline probe and its CPU meter."""
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    context.add_init_script(TIMELINE_PROBE)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        (url, "data:", "blob:", "about:")) else route.abort())
    page = context.new_page()
    timeline = Timeline(page)
    page.goto(url)
    page.get_by_text("Upload a patch, click the map").wait_for(timeout=120_000)
    return context, page, timeline, CpuMeter(page, pid_listening(urlsplit(url).port))


def map_searches(browser, url: str) -> list[tuple[str, dict]]:
    """The first search of a fresh page (a marker click on the query map), then LATER_MARKERS clicks."""
    context, page, timeline, cpu = open_page(browser, url)
    try:
        page.get_by_text("Pick on the map", exact=True).click()
        frame = page.locator(".st-key-query_map_box iframe").content_frame
        frame.locator("path.leaflet-interactive").first.wait_for(timeout=60_000)
        out = [("first", measured(page, timeline, lambda: frame.locator("path.leaflet-interactive").first.click(
            force=True), cpu))]
        for index in LATER_MARKERS:
            marker = frame.locator("path.leaflet-interactive").nth(index)
            out.append(("later", measured(page, timeline, lambda: marker.click(force=True), cpu)))
        return out
    finally:
        context.close()


def upload_search(browser, url: str) -> list[tuple[str, dict]]:
    context, page, timeline, cpu = open_page(browser, url)
    files = sorted(str(p) for p in UPLOAD_DIR.glob("*.tif"))
    try:
        uploader = page.locator('.st-key-upload_files [data-testid="stFileUploaderDropzoneInput"]')
        return [("upload", measured(page, timeline, lambda: uploader.set_input_files(files), cpu))]
    finally:
        context.close()


def export_revision(revision: str, into: Path) -> Path:
    """The app's files of git `revision` in `into` (read-only for the repository), with this project's assets."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, *TREE_FILES], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "assets").symlink_to(ROOT / "assets")
    return into


def medians(samples: list[dict]) -> dict:
    steps = dict.fromkeys(name for sample in samples for name in sample)
    return {name: round(statistics.median(s[name] for s in samples if name in s)) for name in steps}


def print_timelines(results: dict) -> None:
    for server, by_kind in results.items():
        for kind, samples in by_kind.items():
            row = medians(samples)
            print(f"\n{server} · {kind} (median of {len(samples)}; ms after the user's action)")
            for name, value in row.items():
                print(f"  {name:24s} {value:>9,}")


def summary(results: dict, step: str = "rendered") -> dict:
    """Per server and kind of search, the median of `step` (ms), and each server's ratio to the reference."""
    out = {server: {kind: round(statistics.median(s[step] for s in samples if step in s))
                    for kind, samples in by_kind.items() if any(step in s for s in samples)}
           for server, by_kind in results.items()}
    for server in [name for name in out if name != "reference"] if "reference" in out else []:
        out[f"ratio {server}/reference"] = {kind: round(out[server][kind] / out["reference"][kind], 2)
                                            for kind in out[server] if out["reference"].get(kind)}
    return out


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--url", help="measure this running app instead of starting the working tree's")
    parser.add_argument("--reference", metavar="REV", help="also serve and measure the app of git revision REV")
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="also serve and measure the app in this folder (e.g. a copy with a proposed change)")
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds (each: a map page and an upload page)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first and not counted (they fill caches)")
    parser.add_argument("--json", type=Path, help="write every timeline and the summary here")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from playwright.sync_api import sync_playwright

    load_at_start = os.getloadavg()
    results: dict = {}
    with ExitStack() as stack, sync_playwright() as playwright:
        servers = {"current": args.url or stack.enter_context(AppServer(log_path=Path(os.devnull))).url}
        if args.reference:
            tree = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-browser-")))
            servers["reference"] = stack.enter_context(AppServer(tree=export_revision(args.reference, tree))).url
        for tree in args.tree:
            servers[f"tree {tree.name}"] = stack.enter_context(AppServer(tree=tree.resolve())).url
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_FLAGS)
        for round_number in range(args.warmup + args.rounds):
            order = list(servers.items()) if round_number % 2 == 0 else list(reversed(servers.items()))
            for name, url in order:
                for kind, sample in map_searches(browser, url) + upload_search(browser, url):
                    if round_number >= args.warmup:
                        results.setdefault(name, {}).setdefault(kind, []).append(sample)
            print(f"round {round_number} done ({'warm-up' if round_number < args.warmup else 'counted'})", flush=True)
        browser.close()
    load = os.getloadavg()
    print_timelines(results)
    report = {"summary_ms": summary(results), "browser_cpu_ms": summary(results, "browser main thread CPU"),
              "server_cpu_ms": summary(results, "server CPU"), "load_average": [round(v, 2) for v in load],
              "load_average_at_start": [round(v, 2) for v in load_at_start],
              "cpus": os.cpu_count(), "rounds": args.rounds, "reference": args.reference, "timelines": results}
    print(f"\nrendered, median ms: {json.dumps(report['summary_ms'])}")
    print(f"browser main thread CPU, median ms: {json.dumps(report['browser_cpu_ms'])}")
    print(f"server CPU, median ms: {json.dumps(report['server_cpu_ms'])}")
    print(f"load average (1, 5, 15 min) at the start {' '.join(f'{v:.2f}' for v in load_at_start)}, at the end "
          f"{' '.join(f'{v:.2f}' for v in load)}, on {os.cpu_count()} CPUs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

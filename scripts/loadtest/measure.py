"""One user's timings in a real browser (sync Playwright): the first page of a fresh server, searches on
the Search page, the archive explorer; and `measure_app`, which starts the app on a catalogue and takes
them all (plus load runs). Used by scripts/build_scale_bundle.py --measure and tests/e2e/test_scale.py."""
from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from .browser import CHROMIUM_FLAGS, RUN_COUNTER, VIEWPORT, WAIT_RENDERED, RunWatcher, require_chromium
from .drive import run_load
from .report import print_report
from .server import ROOT, AppServer, mib, rss_bytes
from .workload import served_pairs

EXPLORER_MAP = 'iframe[title="streamlit_folium.st_folium"]'
NOT_RUNNING = ("() => document.querySelector('[data-testid=stApp]')"
               ".getAttribute('data-test-script-state') === 'notRunning'")
METRIC_CHANGED = ("([label, before]) => { const m = Array.from(document.querySelectorAll("
                  "'[data-testid=stMetric]')).find(e => e.innerText.includes(label));"
                  " return m && !m.innerText.includes(before); }")


def open_context(browser):
    """A browser context of the laptop viewport whose pages count their script runs."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(RUN_COUNTER)
    return context


def new_page(context):
    """A page whose finished script runs are counted from its websocket (`page.csmae_runs`, a RunWatcher)."""
    page = context.new_page()
    page.csmae_runs = RunWatcher(page)
    return page


def runs_after(page, runs_before: int, timeout_s: float) -> list[str]:
    """Until the server has finished a run after `runs_before` (Playwright delivers the websocket frames
    while it waits); the result-card query names of that run."""
    deadline = time.monotonic() + timeout_s
    while page.csmae_runs.finished <= runs_before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server finished no run within {timeout_s:.0f} s")
        page.wait_for_timeout(20)
    return page.csmae_runs.cards


def wait_rendered(page, k: int, name: str | None, runs_before: int, timeout_s: float) -> None:
    """Until the k results of the next finished run are rendered (the load test's criterion)."""
    cards = runs_after(page, runs_before, timeout_s)
    state = page.evaluate(WAIT_RENDERED, [k, name or (cards[0] if cards else None), -1, timeout_s * 1000])
    if state != "ok":
        raise AssertionError(f"no results rendered: {state}")


def wait_idle(page, runs_before: int, timeout_s: float) -> None:
    """Until a run after `runs_before` has finished and the page shows no run going."""
    runs_after(page, runs_before, timeout_s)
    page.wait_for_function(NOT_RUNNING, timeout=timeout_s * 1000, polling=100)


def first_page(page, url: str, timeout_s: float = 600) -> float:
    """Seconds from navigation to the Search page rendered with its backend (the first session of a fresh
    server loads the bundle here)."""
    started = time.perf_counter()
    page.goto(url)
    page.get_by_text("Upload a patch, click the map").wait_for(timeout=timeout_s * 1000)
    return time.perf_counter() - started


def measure_search(page, url: str, pairs, searches: int = 5, k: int = 10, seed: int = 0,
                   timeout_s: float = 120) -> dict:
    """A shared link (new session: page load + first search of the session), then `searches - 1`
    "Random example" searches in that session; milliseconds to the k results rendered."""
    pair_id, s1_name = random.Random(seed).choice(pairs)
    runs = page.csmae_runs.finished
    started = time.perf_counter()
    page.goto(f"{url}/?pair={pair_id}&sensor=s1&k={k}&targets=s1,s2")
    wait_rendered(page, k, s1_name, runs, timeout_s)
    first_ms = (time.perf_counter() - started) * 1000
    cards = page.locator(".result-card").count()
    heading = page.get_by_text(f"{k} most similar patches").count()
    runs = page.csmae_runs.finished
    page.locator(".st-key-query_source button", has_text="Random example").click()  # S2 images by default
    wait_idle(page, runs, timeout_s)
    page.locator(".st-key-random_example button").wait_for(timeout=timeout_s * 1000)
    later = []
    for _ in range(searches - 1):
        runs = page.csmae_runs.finished
        started = time.perf_counter()
        page.locator(".st-key-random_example button").click()
        wait_rendered(page, k, None, runs, timeout_s)
        later.append((time.perf_counter() - started) * 1000)
    return {"first_ms": round(first_ms), "later_ms": [round(v) for v in later],
            "later_median_ms": round(statistics.median(later)) if later else None,
            "cards": cards, "heading": heading, "query": f"{pair_id} (S1 image)"}


def wait_explorer_ready(page, runs_before: int, timeout_s: float) -> None:
    """Run finished, the metrics shown, the map's frame with aggregated cells, the label chart drawn."""
    wait_idle(page, runs_before, timeout_s)
    page.locator('[data-testid="stMetric"]', has_text="Pairs shown").wait_for(timeout=timeout_s * 1000)
    frame = page.locator(EXPLORER_MAP).first.content_frame
    frame.locator(".explorer-count, path.leaflet-interactive").first.wait_for(timeout=timeout_s * 1000)
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=timeout_s * 1000)


def metric_value(page, label: str) -> str:
    return page.locator('[data-testid="stMetric"]', has_text=label).locator(
        '[data-testid="stMetricValue"]').inner_text().strip()


def measure_explorer(page, url: str, country: str = "Austria", timeout_s: float = 300) -> dict:
    """Archive explorer: first open (the label index of all pairs is built once per server), a second open
    (cached), and a country filter (aggregation over all pairs again); milliseconds to the page ready."""
    out = {}
    for name in ("first_ms", "again_ms"):
        runs = page.csmae_runs.finished
        started = time.perf_counter()
        page.goto(f"{url}/explorer")
        wait_explorer_ready(page, runs, timeout_s)
        out[name] = round((time.perf_counter() - started) * 1000)
    out["pairs_shown"] = metric_value(page, "Pairs shown")
    out["cells"] = page.locator(EXPLORER_MAP).first.content_frame.locator(".explorer-count").count()
    runs = page.csmae_runs.finished
    started = time.perf_counter()
    box = page.locator(".st-key-explorer_countries input")
    box.click()
    box.fill(country)
    box.press("Enter")
    page.wait_for_function(METRIC_CHANGED, arg=["Pairs shown", out["pairs_shown"]], timeout=timeout_s * 1000,
                           polling=100)
    wait_explorer_ready(page, runs, timeout_s)
    out["filter_ms"] = round((time.perf_counter() - started) * 1000)
    out["pairs_shown_filtered"] = metric_value(page, "Pairs shown")
    return out


def measure_app(catalogue: Path, searches: int = 5, load_users: int = 0, load_duration: float = 60.0,
                load_clients=("protocol", "browser"), log_path: Path | None = None) -> dict:
    """Start the app on `catalogue` and measure its start, memory, one user's searches and the explorer,
    then (with `load_users`) a load run per client: {"start", "memory", "search", "explorer", "load_<client>"}."""
    pairs = served_pairs(catalogue)
    server = AppServer(catalogue=catalogue, log_path=log_path or ROOT / "test-output" / "scale-server.log")
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    with server:
        pid = server.pid()
        report = {"start": {"health_s": round(server.health_s, 1), "rss_mib_at_health": mib(rss_bytes(pid))}}
        one_user = measure_one_user(server, pid, pairs, searches)
        report["start"].update(one_user.pop("start"))
        report.update(one_user)
        for client in load_clients if load_users else ():
            report[f"load_{client}"] = run_load(server.url, load_users, load_duration, catalogue, pid=pid,
                                                client=client)
            print_report(report[f"load_{client}"])
            report["memory"][f"rss_mib_after_load_{client}"] = mib(rss_bytes(pid))
    return report


def measure_one_user(server: AppServer, pid: int | None, pairs, searches: int) -> dict:
    """The first page, idle memory, searches and the explorer of one browser user (measure_app's parts)."""
    from playwright.sync_api import sync_playwright

    report: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_FLAGS)
        context = open_context(browser)
        page = new_page(context)
        first = first_page(page, server.url)
        report["start"] = {"first_page_s": round(first, 1),
                           "process_to_first_page_s": round(time.perf_counter() - server.started_at, 1)}
        time.sleep(2)
        report["memory"] = {"rss_mib_idle": mib(rss_bytes(pid))}
        print(f"app: healthy after {server.health_s:.1f} s, first page rendered after "
              f"{report['start']['process_to_first_page_s']:.1f} s; RSS idle {report['memory']['rss_mib_idle']} MiB",
              flush=True)
        report["search"] = measure_search(page, server.url, pairs, searches)
        print(f"search: first (shared link) {report['search']['first_ms']} ms, later {report['search']['later_ms']} ms",
              flush=True)
        report["explorer"] = measure_explorer(page, server.url)
        print(f"explorer: {report['explorer']}", flush=True)
        report["memory"]["rss_mib_after_queries"] = mib(rss_bytes(pid))
        context.close()
        browser.close()
    return report

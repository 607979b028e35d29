"""Full-scale proof: a bundle of the whole reBEN archive (549,488 pairs x 2 sensors = 1,098,976 vectors)
whose METADATA IS REAL and whose VECTORS ARE SYNTHETIC, a catalogue for it, and measurements of the app
serving it.

Real: pair ids, S1 names, labels, splits, countries, seasons, snow/cloud flags (reBEN metadata.parquet and
the snow/cloud table), footprints from the Sentinel-2 tile grid. Synthetic: the 768-d vectors, made by
scripts/bench_search.py's `synthetic_embeddings` (each pair's real labels and country plus noise), so
search results are plausible but NOT the output of a model. The bundle is named
"reBEN full scale (synthetic vectors)" and its manifest says `encoder_family: synthetic`. It has no model
and no pixels: the app searches by archive patch only (shared link, map, table, random example).

    # build (about 4.2 GB on disk, minutes) and write OUT/../catalogue.json
    python scripts/build_scale_bundle.py --metadata PATH/metadata.parquet \
        --snow-cloud PATH/metadata_for_patches_with_snow_cloud_or_shadow.parquet --out SCALE_DIR/reben-synthetic
    # then start the app on it and measure start time, memory, browser latency (+ a 10-user load test)
    python scripts/build_scale_bundle.py --metadata ... --out ... --reuse --measure --load-users 10 --json scale.json
    # or just serve it
    CSMAE_CATALOGUE=SCALE_DIR/catalogue.json make run
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUNDLE_NAME = "reBEN full scale (synthetic vectors)"
SNOW_CLOUD = "metadata_for_patches_with_snow_cloud_or_shadow.parquet"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metadata", type=Path, required=True, help="reBEN metadata.parquet")
    p.add_argument("--snow-cloud", type=Path,
                   help=f"reBEN {SNOW_CLOUD} (default: that file next to --metadata when present)")
    p.add_argument("--out", type=Path, required=True, help="bundle folder to write (keep it out of the repository)")
    p.add_argument("--catalogue", type=Path, help="catalogue JSON to write (default: OUT/../catalogue.json)")
    p.add_argument("--index", default="ivfsq8", help="index type (default ivfsq8, what 'auto' picks at this size)")
    p.add_argument("--pairs", type=int, default=0, help="use only the first N pairs (0 = all)")
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--reuse", action="store_true", help="keep an existing bundle at --out (only write the catalogue)")
    p.add_argument("--measure", action="store_true",
                   help="start the app on the bundle and measure start time, memory and browser latency")
    p.add_argument("--searches", type=int, default=5, help="--measure: searches on the Search page")
    p.add_argument("--load-users", type=int, default=0, help="--measure: then run the load test with N users")
    p.add_argument("--load-duration", type=float, default=60.0, help="--measure: load test seconds")
    p.add_argument("--load-clients", nargs="+", default=["protocol", "browser"], choices=("protocol", "browser"),
                   help="--measure: load test clients (see scripts/load_test.py --client)")
    p.add_argument("--json", type=Path, help="write the report here")
    return p.parse_args(argv)


def snow_cloud_of(metadata: Path, given: Path | None) -> Path | None:
    if given is not None:
        return given
    sibling = metadata.with_name(SNOW_CLOUD)
    return sibling if sibling.is_file() else None


def build(metadata: Path, out: Path, snow_cloud: Path | None = None, index: str = "ivfsq8", pairs: int = 0,
          dim: int = 768) -> dict:
    """Write the bundle at `out`; returns timings (seconds) and sizes."""
    import faiss

    from bench_search import synthetic_embeddings, write_bench_bundle
    from csmae_core.retrieval.bundle import bundle_table
    from csmae_core.retrieval.faiss_index import choose_spec
    from csmae_core.io.folders import read_reben_metadata

    started = time.perf_counter()
    table = bundle_table(read_reben_metadata(metadata, snow_cloud))
    if pairs:
        table = table.iloc[:pairs].reset_index(drop=True)
    table_s = time.perf_counter() - started
    vectors = synthetic_embeddings(table, dim)
    vectors_s = time.perf_counter() - started - table_s
    print(f"{len(table):,} pairs x 2 sensors = {2 * len(table):,} synthetic vectors of dim {dim} "
          f"(metadata {table_s:.1f} s, vectors {vectors_s:.1f} s); building {index} ...", flush=True)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    spec = choose_spec(index, len(table), dim)
    manifest = {"name": BUNDLE_NAME, "encoder_family": "synthetic",
                "model": {"content_hash": "synthetic-vectors", "config": {}, "cross_sensor": True,
                          "description": "none: synthetic vectors on real reBEN metadata",
                          "card": {"origin": "no model: synthetic vectors from real reBEN labels and countries "
                                             "plus noise (scripts/bench_search.py synthetic_embeddings)"}},
                "archive": {"path": str(metadata), "source": "reBEN metadata (real) + synthetic vectors"},
                "precision": "fp32 (synthetic)"}
    path, report = write_bench_bundle(out.parent, table, vectors, spec, out=out, manifest_extra=manifest)
    total_s = time.perf_counter() - started
    size = sum(f.stat().st_size for f in path.iterdir())
    result = {"pairs": len(table), "vectors": 2 * len(table), "dim": dim, "index": spec.kind,
              "build_total_s": round(total_s, 1), "metadata_s": round(table_s, 1), "vectors_s": round(vectors_s, 1),
              "index_build_s": round(report["build_s"], 1), "index_bytes": report["index_bytes"],
              "recall_at_10": report["recall_at_10"], "bundle_bytes": size}
    print(f"wrote {path}: {size / 2**30:.2f} GiB in {total_s:.0f} s (index build {report['build_s']:.0f} s, "
          f"recall@10 {min(report['recall_at_10'].values()):.3f})", flush=True)
    return result


def write_catalogue(bundle: Path, catalogue: Path) -> Path:
    """A catalogue with one entry and no model: search by archive patch only."""
    catalogue.parent.mkdir(parents=True, exist_ok=True)
    entry = {"name": BUNDLE_NAME, "encoder_family": "synthetic", "bundle": os.path.relpath(bundle, catalogue.parent),
             "note": "real reBEN metadata, synthetic vectors: no model, no pixels; search by archive patch only"}
    catalogue.write_text(json.dumps({"entries": [entry]}, indent=2) + "\n")
    return catalogue


# ---------------------------------------------------------------- measurements in the browser
# Sync Playwright helpers: used by --measure and by tests/e2e/test_scale.py (with its browser fixture).
def open_context(browser):
    from load_test import RUN_COUNTER, VIEWPORT

    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(RUN_COUNTER)
    return context


def new_page(context):
    """A page whose finished script runs are counted from its websocket (load_test.RunWatcher)."""
    from load_test import RunWatcher

    page = context.new_page()
    page.csmae_runs = RunWatcher(page)
    return page


def _runs(page) -> int:
    return page.csmae_runs.finished


def _after(page, runs_before: int, timeout_s: float) -> list[str]:
    """Until the server has finished a run after `runs_before` (Playwright delivers the websocket frames
    while it waits); the result-card query names of that run."""
    deadline = time.monotonic() + timeout_s
    while page.csmae_runs.finished <= runs_before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server finished no run within {timeout_s:.0f} s")
        page.wait_for_timeout(20)
    return page.csmae_runs.cards


def _rendered(page, k: int, name: str | None, runs_before: int, timeout_s: float) -> None:
    """Until the k results of the next finished run are rendered (the load test's criterion)."""
    from load_test import WAIT_RENDERED

    cards = _after(page, runs_before, timeout_s)
    state = page.evaluate(WAIT_RENDERED, [k, name or (cards[0] if cards else None), -1, timeout_s * 1000])
    if state != "ok":
        raise AssertionError(f"no results rendered: {state}")


def _idle(page, runs_before: int, timeout_s: float) -> None:
    _after(page, runs_before, timeout_s)
    page.wait_for_function("() => document.querySelector('[data-testid=stApp]')"
                           ".getAttribute('data-test-script-state') === 'notRunning'", timeout=timeout_s * 1000,
                           polling=100)


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
    import random

    rng = random.Random(seed)
    pair_id, s1_name = rng.choice(pairs)
    runs = _runs(page)
    started = time.perf_counter()
    page.goto(f"{url}/?pair={pair_id}&sensor=s1&k={k}&targets=s1,s2")
    _rendered(page, k, s1_name, runs, timeout_s)
    first_ms = (time.perf_counter() - started) * 1000
    cards = page.locator(".result-card").count()
    heading = page.get_by_text(f"{k} most similar patches").count()
    runs = _runs(page)
    page.locator(".st-key-query_source button", has_text="Random example").click()  # S2 images by default
    _idle(page, runs, timeout_s)
    page.locator(".st-key-random_example button").wait_for(timeout=timeout_s * 1000)
    later = []
    for _ in range(searches - 1):
        runs = _runs(page)
        started = time.perf_counter()
        page.locator(".st-key-random_example button").click()
        _rendered(page, k, None, runs, timeout_s)
        later.append((time.perf_counter() - started) * 1000)
    return {"first_ms": round(first_ms), "later_ms": [round(v) for v in later],
            "later_median_ms": round(statistics.median(later)) if later else None,
            "cards": cards, "heading": heading, "query": f"{pair_id} (S1 image)"}


def _explorer_ready(page, runs_before: int, timeout_s: float) -> None:
    """Run finished, the metrics shown, the map's frame with aggregated cells, the label chart drawn."""
    _idle(page, runs_before, timeout_s)
    page.locator('[data-testid="stMetric"]', has_text="Pairs shown").wait_for(timeout=timeout_s * 1000)
    frame = page.locator('iframe[title="streamlit_folium.st_folium"]').first.content_frame
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
        runs = _runs(page)
        started = time.perf_counter()
        page.goto(f"{url}/explorer")
        _explorer_ready(page, runs, timeout_s)
        out[name] = round((time.perf_counter() - started) * 1000)
    out["pairs_shown"] = metric_value(page, "Pairs shown")
    out["cells"] = page.locator('iframe[title="streamlit_folium.st_folium"]').first.content_frame.locator(
        ".explorer-count").count()
    runs = _runs(page)
    started = time.perf_counter()
    box = page.locator(".st-key-explorer_countries input")
    box.click()
    box.fill(country)
    box.press("Enter")
    page.wait_for_function("([label, before]) => { const m = Array.from(document.querySelectorAll("
                           "'[data-testid=stMetric]')).find(e => e.innerText.includes(label));"
                           " return m && !m.innerText.includes(before); }", arg=["Pairs shown", out["pairs_shown"]],
                           timeout=timeout_s * 1000, polling=100)
    _explorer_ready(page, runs, timeout_s)
    out["filter_ms"] = round((time.perf_counter() - started) * 1000)
    out["pairs_shown_filtered"] = metric_value(page, "Pairs shown")
    return out


def measure(catalogue: Path, searches: int = 5, load_users: int = 0, load_duration: float = 60.0,
            load_clients=("protocol", "browser"), log_path: Path | None = None) -> dict:
    """Start the app on `catalogue` and measure it (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    from load_test import CHROMIUM, CHROMIUM_FLAGS, AppServer, print_report, rss_bytes, run_load, served_pairs

    pairs = served_pairs(catalogue)
    server = AppServer(catalogue=catalogue, log_path=log_path or ROOT / "test-output" / "scale-server.log")
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    with server:
        pid = server.pid()
        report["start"] = {"health_s": round(server.health_s, 1), "rss_mib_at_health": _mib(rss_bytes(pid))}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            context = open_context(browser)
            page = new_page(context)
            first = first_page(page, server.url)
            report["start"]["first_page_s"] = round(first, 1)
            report["start"]["process_to_first_page_s"] = round(time.perf_counter() - server.started_at, 1)
            time.sleep(2)
            report["memory"] = {"rss_mib_idle": _mib(rss_bytes(pid))}
            print(f"app: healthy after {server.health_s:.1f} s, first page rendered after "
                  f"{report['start']['process_to_first_page_s']:.1f} s; RSS idle {report['memory']['rss_mib_idle']} MiB",
                  flush=True)
            report["search"] = measure_search(page, server.url, pairs, searches)
            print(f"search: first (shared link) {report['search']['first_ms']} ms, later {report['search']['later_ms']} ms",
                  flush=True)
            report["explorer"] = measure_explorer(page, server.url)
            print(f"explorer: {report['explorer']}", flush=True)
            report["memory"]["rss_mib_after_queries"] = _mib(rss_bytes(pid))
            context.close()
            browser.close()
        for client in load_clients if load_users else ():
            report[f"load_{client}"] = run_load(server.url, load_users, load_duration, catalogue, pid=pid,
                                                client=client)
            print_report(report[f"load_{client}"])
            report["memory"][f"rss_mib_after_load_{client}"] = _mib(rss_bytes(pid))
    return report


def _mib(value: int | None) -> float | None:
    return round(value / 2**20, 1) if value is not None else None


def main(argv=None) -> int:
    args = parse_args(argv)
    report: dict = {"bundle": str(args.out), "name": BUNDLE_NAME}
    if not (args.reuse and (args.out / "manifest.json").is_file()):
        report["build"] = build(args.metadata, args.out, snow_cloud_of(args.metadata, args.snow_cloud), args.index,
                                args.pairs, args.dim)
    catalogue = write_catalogue(args.out, args.catalogue or args.out.parent / "catalogue.json")
    report["catalogue"] = str(catalogue)
    print(f"catalogue: {catalogue}  (serve it: CSMAE_CATALOGUE={catalogue} make run)")
    if args.measure:
        report.update(measure(catalogue, args.searches, args.load_users, args.load_duration, args.load_clients))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

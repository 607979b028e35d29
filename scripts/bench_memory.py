"""Memory of the app server under uploads, measured in a real browser against `make run` on loopback.

Scenarios (--scenario, default all):
  sessions  N browser sessions (--sessions) each drop an M MB 12-band GeoTIFF (--mb) and get results, then
            close; the server's RSS and the upload bytes Streamlit still holds are sampled every --every s
            for --observe s after the last close. Baseline: the RSS after a warm-up session (model and
            bundle loaded, no upload), just before the first upload session.
  drop      one session drops --drop-files files of --drop-mb MB each at once: the server's RSS peak and
            what the page says.
  scene     one session drops a deflate-compressed GeoTIFF declaring 10980 x 10980 x 12 uint16 pixels
            (2.9 GB decoded, a few MB on disk): the RSS peak and what the page says.
  slider    one session drops a --drop-mb MB GeoTIFF and moves the window slider --steps times: seconds
            per step (from the key press to the end of the script run).

    python scripts/bench_memory.py                      # everything, on a fresh `make run` (free port)
    python scripts/bench_memory.py --scenario sessions --sessions 5 --mb 56 --observe 150

Test files are written once to --work (default /tmp/csmae-bench-memory) and reused.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from loadtest.browser import RUN_COUNTER
from loadtest.memory import Browser, declared_scene, drop_files, held_upload_bytes, open_search, s2_geotiff, sample_rss
from loadtest.server import ROOT, AppServer, mib, rss_bytes

SCENARIOS = ("sessions", "drop", "scene", "slider")
RUN_DONE = ("(before) => (window.__csmaeRuns || 0) > before && document.querySelector('[data-testid=stApp]')"
            ".getAttribute('data-test-script-state') === 'notRunning'")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=SCENARIOS, action="append", help="repeat for several (default: all)")
    p.add_argument("--sessions", type=int, default=5, help="upload sessions (scenario sessions)")
    p.add_argument("--mb", type=float, default=56.0, help="MB uploaded per session (scenario sessions)")
    p.add_argument("--observe", type=float, default=150.0, help="seconds of RSS sampling after the last close")
    p.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples")
    p.add_argument("--drop-files", type=int, default=3, help="files in one drop (scenario drop)")
    p.add_argument("--drop-mb", type=float, default=150.0, help="MB per file (scenarios drop and slider)")
    p.add_argument("--steps", type=int, default=5, help="window slider steps (scenario slider)")
    p.add_argument("--work", type=Path, default=Path("/tmp/csmae-bench-memory"), help="folder of the test files")
    return p.parse_args(argv)


def warm_up(browser, url: str) -> None:
    """One session that loads the page (model, bundle, first script run) and closes, uploading nothing."""
    context = browser.session()
    open_search(context, url)
    context.close()
    time.sleep(5)


def closed_sessions(browser, server, pid, args) -> None:
    upload = s2_geotiff(args.work / f"s2_{args.mb:.0f}mb.tif", args.mb)
    baseline = rss_bytes(pid)
    print(f"\n## {args.sessions} sessions x {upload.stat().st_size / 1e6:.1f} MB upload, then closed\n")
    print(f"baseline RSS (after warm-up, before the sessions): {mib(baseline)} MiB")
    for number in range(args.sessions):
        context = browser.session()
        page = open_search(context, server.url)
        drop = drop_files(page, [upload], pid)
        print(f"session {number + 1}: {drop.outcome} after {drop.seconds:.1f} s, RSS {mib(rss_bytes(pid))} MiB, "
              f"uploads held {mib(held_upload_bytes(server.url))} MiB")
        context.close()
    closed = time.perf_counter()
    print("\n| s after the last close | RSS MiB | above baseline MiB | uploads held by Streamlit MiB |")
    print("|---|---|---|---|")
    for seconds, rss, held in sample_rss(pid, server.url, args.observe, args.every, closed):
        above = round(rss - mib(baseline), 1) if rss is not None and baseline else None
        print(f"| {seconds} | {rss} | {above} | {held} |", flush=True)


def one_drop(browser, server, pid, files: list[Path], title: str) -> None:
    context = browser.session()
    page = open_search(context, server.url)
    before = rss_bytes(pid)
    drop = drop_files(page, files, pid)
    print(f"\n## {title}\n\nRSS before {mib(before)} MiB, peak {mib(drop.peak_rss)} MiB "
          f"(+{mib((drop.peak_rss or 0) - (before or 0))} MiB); {drop.outcome} after {drop.seconds:.1f} s")
    if drop.message:
        print(f"message: {drop.message}")
    context.close()


def slider(browser, server, pid, args) -> None:
    upload = s2_geotiff(args.work / f"s2_{args.drop_mb:.0f}mb.tif", args.drop_mb)
    context = browser.session()
    context.add_init_script(RUN_COUNTER)
    page = open_search(context, server.url)
    before = rss_bytes(pid)
    drop = drop_files(page, [upload], pid)
    print(f"\n## window slider on a {upload.stat().st_size / 1e6:.0f} MB upload ({drop.outcome} after "
          f"{drop.seconds:.1f} s; RSS peak +{mib((drop.peak_rss or 0) - (before or 0))} MiB)\n")
    thumb = page.locator('.st-key-window_col input[type="range"]')
    steps = []
    for _ in range(args.steps):
        before = page.evaluate("window.__csmaeRuns || 0")
        started = time.perf_counter()
        thumb.press("ArrowRight")
        page.wait_for_function(RUN_DONE, arg=before, timeout=120_000, polling=50)
        steps.append(time.perf_counter() - started)
    print("seconds per slider step: " + ", ".join(f"{s:.2f}" for s in steps)
          + f" (median {sorted(steps)[len(steps) // 2]:.2f})")
    context.close()
    core_window_reads(upload, args.steps)


def core_window_reads(upload: Path, steps: int) -> None:
    """The core's part of a slider step, in this process: read_upload of the bytes (staged anew each time)
    against OpenedUpload.read of one staged copy, for the same windows."""
    from csmae_core.io.upload import open_upload, read_upload

    data = [(upload.name, upload.read_bytes())]
    windows = [(100 + 37 * i, 100) for i in range(steps)]
    started = time.perf_counter()
    for window in windows:
        read_upload(data, window=window)
    anew = (time.perf_counter() - started) / steps
    started = time.perf_counter()
    with open_upload(data) as opened:
        staged = time.perf_counter() - started
        started = time.perf_counter()
        for window in windows:
            opened.read(window)
        once = (time.perf_counter() - started) / steps
    print(f"core, per window: read_upload (stages the {upload.stat().st_size / 1e6:.0f} MB anew) {anew:.3f} s; "
          f"OpenedUpload.read {once:.3f} s ({anew / once:.0f}x less) after staging and hashing it once "
          f"({staged:.2f} s)")


def main(argv=None) -> int:
    args = parse_args(argv)
    scenarios = args.scenario or list(SCENARIOS)
    args.work.mkdir(parents=True, exist_ok=True)
    log = ROOT / "test-output" / "bench-memory-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with AppServer(log_path=log) as server, Browser() as browser:
        pid = server.pid()
        warm_up(browser, server.url)
        if "sessions" in scenarios:
            closed_sessions(browser, server, pid, args)
        if "drop" in scenarios:
            files = [s2_geotiff(args.work / f"drop{i}" / f"s2_{args.drop_mb:.0f}mb_{i}.tif", args.drop_mb, seed=i)
                     for i in range(args.drop_files)]
            one_drop(browser, server, pid, files, f"{args.drop_files} files of {args.drop_mb:.0f} MB in one drop")
        if "scene" in scenarios:
            scene = declared_scene(args.work / "scene_10980x10980x12.tif")
            one_drop(browser, server, pid, [scene], f"a {scene.stat().st_size / 1e6:.1f} MB GeoTIFF declaring "
                     "10980 x 10980 x 12 uint16 pixels")
        if "slider" in scenarios:
            slider(browser, server, pid, args)
        held = mib(held_upload_bytes(server.url))
        print(f"\nserver RSS at the end: {mib(rss_bytes(pid))} MiB; uploads held {held} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

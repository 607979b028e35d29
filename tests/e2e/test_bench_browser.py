"""scripts/bench_browser.py against the e2e app server, one round: it finds each search's results rendered
and reports where the time went (no speed assertion: the numbers are the script's report)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import OUTPUT, ROOT

pytestmark = pytest.mark.e2e


def test_the_browser_benchmark_times_every_step_of_each_search(app_url):
    report_path = OUTPUT / "bench-browser.json"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_browser.py"), "--url", app_url, "--warmup", "0",
                          "--rounds", "1", "--json", str(report_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(report_path.read_text())
    timelines = report["timelines"]["current"]
    assert [len(timelines[kind]) for kind in ("first", "later", "upload")] == [1, 3, 1]
    for kind, samples in timelines.items():
        for steps in samples:
            assert steps["overlays"] >= 10, (kind, steps)
            assert 0 <= steps["rerun request sent"] <= steps["first delta"] <= steps["script finished"], (kind, steps)
            assert steps["overlays added"] <= steps["overlays loaded"] <= steps["overlays decoded"] <= steps["rendered"]
            assert steps["cards shown"] <= steps["rendered"] and steps["websocket bytes"] > 0
            # CPU time (thread time of the browser's main thread; the server's threads): spent, and no more
            # than the wall time it happened in allows on this machine's cores
            assert 0 < steps["browser script CPU"] <= steps["browser main thread CPU"] <= steps["driver seen"] + 50
            assert 0 < steps["server CPU"] <= (steps["driver seen"] + 50) * os.cpu_count(), (kind, steps)
    assert timelines["upload"][0]["upload requests done"] > 0
    assert set(report["summary_ms"]["current"]) == {"first", "later", "upload"}
    assert set(report["browser_cpu_ms"]["current"]) == set(report["server_cpu_ms"]["current"]) == {"first", "later",
                                                                                                "upload"}
    assert "script finished" in run.stdout and "load average" in run.stdout

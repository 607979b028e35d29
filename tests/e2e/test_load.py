"""A short load test: scripts/load_test.py with 3 concurrent browser users for 15 s against the e2e app
server. Asserts that queries complete and that none fails (no speed assertion: that is the script's
report, see docs/BENCHMARKS.md)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.conftest import LATENCIES, OUTPUT, ROOT

pytestmark = pytest.mark.e2e


def test_three_users_for_15_seconds_without_errors(app_url):
    report_path = OUTPUT / "load-3-users.json"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "load_test.py"), "--url", app_url, "--users", "3",
                          "--duration", "15", "--timeout", "60", "--json", str(report_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert report_path.is_file(), run.stdout + run.stderr
    report = json.loads(report_path.read_text())
    assert report["errors"] == 0, report["error_list"]
    assert report["queries"] >= 3 and report["latency_by_kind"]["link"]["count"] >= 3
    assert report["latency_by_kind"]["click"]["count"] >= 1
    assert report["server_rss_mib"]["peak"], "the app server's memory could not be read"
    assert run.returncode == 0, run.stdout + run.stderr
    latency = report["latency"]
    LATENCIES.append(f"load, 3 users x 15 s: {report['queries']} queries, p50 {latency['p50_ms']:.0f} ms, "
                     f"p95 {latency['p95_ms']:.0f} ms, max {latency['max_ms']:.0f} ms, 0 errors, "
                     f"server RSS peak {report['server_rss_mib']['peak']:.0f} MiB")

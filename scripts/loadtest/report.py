"""The load test's report: latency percentiles of the queries that completed, the errors, the server's
memory; and its printed form."""
from __future__ import annotations

import math
import os

from .server import mib
from .workload import Outcome

MEASURES = {
    "browser": "issue query (navigation start / click) -> k result cards of that query rendered, script run finished, "
               "all page images loaded (headless Chromium, one context per user)",
    "protocol": "send the rerun (new session with the link / the click's widget states) -> script run finished with "
                "the k result cards (Streamlit websocket protocol, nothing rendered: the server's part)",
}


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summarise(latencies_ms: list[float]) -> dict:
    return {"count": len(latencies_ms), "p50_ms": percentile(latencies_ms, 0.5),
            "p95_ms": percentile(latencies_ms, 0.95), "max_ms": max(latencies_ms) if latencies_ms else None}


def build_report(outcomes: list[Outcome], run: dict, wall_s: float, pid: int | None,
                 rss: tuple[int | None, int | None, int | None]) -> dict:
    """The report of one load run. run: its settings {url, client, users, duration_s, think_s, pairs};
    rss: the server's memory in bytes (idle before, peak during, after)."""
    done = [o for o in outcomes if o.ms is not None]
    failed = [o for o in outcomes if o.ms is None]
    idle, peak, after = rss
    return {
        **{key: run[key] for key in ("url", "client", "users", "duration_s", "think_s")},
        "wall_s": round(wall_s, 1),
        "pairs": run["pairs"], "measure": MEASURES[run["client"]],
        "queries": len(done), "errors": len(failed),
        "throughput_qps": round(len(done) / wall_s, 2) if wall_s else None,
        "latency": summarise([o.ms for o in done]),
        "latency_by_kind": {kind: summarise([o.ms for o in done if o.kind == kind]) for kind in ("link", "click")},
        "error_list": [vars(o) for o in failed][:50],
        "server_pid": pid, "server_rss_mib": {"idle_before": mib(idle), "peak": mib(peak), "after": mib(after)},
        "cpu_count": os.cpu_count(), "load_average_1m_after": round(os.getloadavg()[0], 2),
    }


def print_report(report: dict) -> None:
    lat = report["latency"]
    fmt = lambda v: f"{v:.0f}" if v is not None else "-"  # noqa: E731
    print(f"{report['client']} client, {report['users']} users, {report['duration_s']:.0f} s, think {report['think_s']} s: "
          f"{report['queries']} queries "
          f"({report['throughput_qps']} /s), {report['errors']} errors")
    print(f"latency p50 {fmt(lat['p50_ms'])} ms, p95 {fmt(lat['p95_ms'])} ms, max {fmt(lat['max_ms'])} ms")
    for kind, values in report["latency_by_kind"].items():
        print(f"  {kind:5}: {values['count']} queries, p50 {fmt(values['p50_ms'])} ms, p95 {fmt(values['p95_ms'])} ms, "
              f"max {fmt(values['max_ms'])} ms")
    rss = report["server_rss_mib"]
    print(f"server RSS (pid {report['server_pid']}): idle {rss['idle_before']} MiB, peak {rss['peak']} MiB, "
          f"after {rss['after']} MiB")
    for error in report["error_list"][:10]:
        print(f"  error (user {error['user']}, {error['kind']} {error['query']}): {error['error']}")

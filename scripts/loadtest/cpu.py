"""CPU time a search costs, which a busy machine changes far less than wall time (a wall-time benchmark on
2 shared cores can move by half between runs): the browser's main thread, measured in thread time by the
DevTools Performance domain (task, script, layout and style durations of the page's renderer, the map's
same-origin frame included), and the server process (user + system time of all its threads, from /proc)."""
from __future__ import annotations

import os
from pathlib import Path

BROWSER_METRICS = {"TaskDuration": "browser main thread CPU", "ScriptDuration": "browser script CPU",
                   "LayoutDuration": "browser layout CPU", "RecalcStyleDuration": "browser style CPU"}


def process_cpu_ns(pid: int | None) -> int | None:
    """User + system CPU nanoseconds of process `pid` so far, threads that have ended included (Streamlit runs
    each script run in a thread of its own), at the kernel's clock-tick resolution (10 ms); None: unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """`mark()` before a user's action, `since(mark)` after its results are rendered: CPU ms of each part."""

    def __init__(self, page, server_pid: int | None):
        self.pid = server_pid
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable", {"timeDomain": "threadTicks"})

    def _browser(self) -> dict[str, float]:
        metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        return {m["name"]: m["value"] for m in metrics if m["name"] in BROWSER_METRICS}

    def mark(self) -> tuple[dict[str, float], int | None]:
        return self._browser(), process_cpu_ns(self.pid)

    def since(self, mark: tuple[dict[str, float], int | None]) -> dict[str, int]:
        before, server_before = mark
        after, server_after = self._browser(), process_cpu_ns(self.pid)
        out = {BROWSER_METRICS[name]: round(1000 * (after[name] - before[name]))
               for name in BROWSER_METRICS if name in after and name in before}
        if server_before is not None and server_after is not None:
            out["server CPU"] = round((server_after - server_before) / 1e6)
        return out

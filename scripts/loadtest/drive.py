"""N simulated users against the app for a bounded time, and the report of what they saw.

Each user loops over (with a think time, a random pause after each result; default none: a stress test):
  link   open a shared link `/?pair=P&sensor=s1|s2&k=K&targets=...` (random pair, sensor, k, targets):
         a new session, page load and first script run included, until its k results are there;
  click  then up to `clicks` times "Random example" in that session (a rerun with a new query).
An error is any of: an exception box, an st.error box, a timeout, a lost connection, or any exception in
the driver.
"""
from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from .browser import CHROMIUM_FLAGS, require_chromium
from .browser_user import BrowserUser
from .protocol import ProtocolUser
from .report import build_report
from .server import RssSampler, pid_listening, rss_bytes
from .workload import Outcome, served_pairs

CLIENTS = ("browser", "protocol")


async def drive(url: str, users: int, duration: float, pairs, seed: int, timeout_s: float, clicks: int,
                client: str = "browser", think_s: float = 0.0, headless: bool = True) -> list[Outcome]:
    """Run `users` users of `client` for `duration` seconds; every query's Outcome. FileNotFoundError
    when the browser client has no Chromium."""
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + duration
    # users arrive over the first 2 s; each finishes the query it is running when the time is up
    delays = [2.0 * n / max(users, 1) for n in range(users)]
    if client == "protocol":
        crowd = [ProtocolUser(n, url, pairs, random.Random(seed + n), timeout_s, clicks, outcomes, think_s)
                 for n in range(users)]
        await asyncio.gather(*(user.run(deadline, delay) for user, delay in zip(crowd, delays)))
        return outcomes
    from playwright.async_api import async_playwright

    chromium = require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=headless)
        crowd = [BrowserUser(n, browser, url, pairs, random.Random(seed + n), timeout_s, clicks, outcomes, think_s)
                 for n in range(users)]
        await asyncio.gather(*(user.run(deadline, delay) for user, delay in zip(crowd, delays)))
        await browser.close()
    return outcomes


def run_load(url: str, users: int = 10, duration: float = 60.0, catalogue: Path | None = None, seed: int = 0,
             timeout_s: float = 30.0, clicks: int = 3, pid: int | None = None, client: str = "browser",
             think_s: float = 0.0) -> dict:
    """Drive the app at `url` (serving `catalogue`, default $CSMAE_CATALOGUE or the demo's) while sampling
    the memory of its process `pid` (default: the one listening on the URL's port); the report
    (see report.build_report)."""
    pairs = served_pairs(catalogue)
    port = int(url.rsplit(":", 1)[1].split("/")[0]) if url.count(":") == 2 else None
    pid = pid or (pid_listening(port) if port else None)
    idle = rss_bytes(pid)
    sampler = RssSampler(pid)
    sampler.start()
    started = time.perf_counter()
    outcomes = asyncio.run(drive(url, users, duration, pairs, seed, timeout_s, clicks, client, think_s))
    wall = time.perf_counter() - started
    peak = sampler.stop()
    run = {"url": url, "client": client, "users": users, "duration_s": duration, "think_s": think_s,
           "pairs": len(pairs)}
    return build_report(outcomes, run, wall, pid, (idle, peak, rss_bytes(pid)))

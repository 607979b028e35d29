"""Load test of the running app: N concurrent users searching for a bounded time.

Two kinds of simulated user (--client):

browser (default)  what a user feels: the time from issuing a query to the results gallery being rendered
    in the browser (k result cards of that query in the page, the script run finished, every image of the
    page loaded). Each user is one browser context (its own Streamlit session) of one shared headless
    Chromium (Debian's /usr/bin/chromium, every non-loopback request refused).
protocol  the server's part: each user speaks Streamlit's websocket protocol (what the browser sends:
    a rerun with the link's query string, then the widget states of the clicks) and times the answer up to
    the end of the script run with the k result cards in it. Nothing is rendered, so the clients cost
    almost nothing and N users really load the server.

Each user loops over (with --think, a random pause after each result; default none: a stress test):
  link   open a shared link `/?pair=P&sensor=s1|s2&k=K&targets=...` (random pair, sensor, k, targets):
         a new session, page load and first script run included, until its k results are there;
  click  then up to --clicks times "Random example" in that session (a rerun with a new query).

An error is any of: an exception box (st.exception / uncaught exception), an st.error box, a timeout
(--timeout), a lost connection, or any exception in the driver. Reported: latency p50 / p95 / max (all
queries, and per kind), queries completed, errors, and the RSS of the app server process (idle before,
peak during, after).

    python scripts/load_test.py --url http://127.0.0.1:8501 --users 10 --duration 60 --json load.json
    python scripts/load_test.py --start --users 10 --duration 60          # starts `make run` on a free port
    python scripts/load_test.py --start --client protocol --users 10 --duration 60
    CSMAE_CATALOGUE=SCALE_DIR/catalogue.json python scripts/load_test.py --start ...   # another bundle

Note: browsers running on the same machine as the server compete with it for the CPU (on 2 cores, 10
headless Chromium users need far more CPU than the server does): the browser numbers of a small machine
are an upper bound of what remote users would see; compare them with the protocol client's.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
VIEWPORT = {"width": 1280, "height": 900}  # a laptop screen

# Counts finished script runs of the page (stApp's data-test-script-state turning to "notRunning"), so that
# the end of a rerun is seen even when it renders the same results as before.
RUN_COUNTER = """
if (window.__csmaeRuns === undefined) {
window.__csmaeRuns = 0;
new MutationObserver(function (mutations) {
  for (const m of mutations) {
    if (m.target.getAttribute('data-test-script-state') === 'notRunning' && m.oldValue !== 'notRunning') {
      window.__csmaeRuns += 1;
    }
  }
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ['data-test-script-state']});
}
"""

# "ok" once the results of the query are rendered, "error: ..." when the page shows an error, else false.
RENDERED = """
([k, name, runsBefore]) => {
  const exception = document.querySelector('[data-testid="stException"]');
  if (exception) return 'exception: ' + exception.innerText.slice(0, 300);
  const error = document.querySelector('[data-testid="stAlertContentError"]');
  if (error) return 'error box: ' + error.innerText.slice(0, 300);
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if ((window.__csmaeRuns || 0) <= runsBefore) return false;
  const cards = Array.from(document.querySelectorAll('.result-card'));
  if (cards.length !== k) return false;
  if (name !== null && !cards.every(c => c.dataset.query === name)) return false;
  return Array.from(document.images).every(i => i.complete) ? 'ok' : false;
}
"""

# Waits in the page, without polling from the driver: RENDERED is checked after DOM changes, image loads
# and every 250 ms; resolves to its first truthy value, or "timeout".
WAIT_RENDERED = """
([k, name, runsBefore, timeoutMs]) => new Promise(resolve => {
  const rendered = %s;
  let done = false, pending = false;
  const finish = value => {
    if (done) return;
    done = true; observer.disconnect(); clearInterval(every); clearTimeout(limit);
    document.removeEventListener('load', test, true);
    resolve(value);
  };
  const test = () => { pending = false; const state = rendered([k, name, runsBefore]); if (state) finish(state); };
  const soon = () => { if (!pending) { pending = true; setTimeout(test, 0); } };
  const observer = new MutationObserver(soon);
  observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  document.addEventListener('load', test, true);
  const every = setInterval(test, 250);
  const limit = setTimeout(() => finish('timeout'), timeoutMs);
  test();
})
""" % RENDERED.strip()


# ---------------------------------------------------------------- the app server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, timeout: float = 300.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the app server exited with code {process.returncode}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy within {timeout:.0f} s")


@dataclass
class AppServer:
    """`make run` (the README's command) on a free loopback port, optionally with another catalogue."""

    catalogue: Path | None = None
    log_path: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    health_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300.0) -> "AppServer":
        env = {**os.environ, "STREAMLIT_SERVER_PORT": str(self.port), "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
               "STREAMLIT_SERVER_HEADLESS": "true", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
        if self.catalogue is not None:
            env["CSMAE_CATALOGUE"] = str(self.catalogue)
        log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        try:
            wait_healthy(self.url, timeout, self.process)
        except BaseException:
            self.stop()
            raise
        self.health_s = time.perf_counter() - self.started_at
        return self

    def pid(self) -> int | None:
        return pid_listening(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def pid_listening(port: int) -> int | None:
    """The process listening on a local TCP port (from /proc; Linux only)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def rss_bytes(pid: int | None) -> int | None:
    """Resident memory of a process (VmRSS), None when unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    """Peak RSS of a process, sampled every `every` seconds while running."""

    def __init__(self, pid: int | None, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self._stop_event = pid, every, rss_bytes(pid), threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            value = rss_bytes(self.pid)
            if value is not None:
                self.peak = max(self.peak or 0, value)

    def stop(self) -> int | None:
        self._stop_event.set()
        self.join(timeout=5)
        return self.peak


# ---------------------------------------------------------------- what the users search
def catalogue_file(catalogue: Path | None) -> Path:
    return Path(catalogue or os.environ.get("CSMAE_CATALOGUE") or ROOT / "assets" / "catalogue.json")


def served_pairs(catalogue: Path | None = None) -> list[tuple[str, str | None]]:
    """(pair_id, s1_name) of the bundle of the catalogue's first entry (the one the app serves first)."""
    import pandas as pd

    path = catalogue_file(catalogue)
    entry = json.loads(path.read_text())["entries"][0]
    bundle = (path.parent / entry["bundle"]).resolve()
    table = pd.read_parquet(bundle / "metadata.parquet", columns=["pair_id", "s1_name"])
    return [(p, s if isinstance(s, str) else None) for p, s in zip(table["pair_id"], table["s1_name"])]


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summarise(latencies_ms: list[float]) -> dict:
    return {"count": len(latencies_ms), "p50_ms": percentile(latencies_ms, 0.5),
            "p95_ms": percentile(latencies_ms, 0.95), "max_ms": max(latencies_ms) if latencies_ms else None}


# ---------------------------------------------------------------- one user
async def think(rng: random.Random, seconds: float) -> None:
    """A user's pause after seeing results: uniform in [0, 2 x seconds] (0: the next query at once)."""
    if seconds > 0:
        await asyncio.sleep(rng.uniform(0, 2 * seconds))


def choose_link(rng: random.Random, pairs) -> tuple[str, int, str, str]:
    """A random shared-link query: (query string, k, the query's patch name, label)."""
    pair_id, s1_name = rng.choice(pairs)
    sensor = rng.choice(("s1", "s2")) if s1_name else "s2"
    k = rng.choice((5, 10, 10, 20))
    targets = rng.choice(("s1,s2", "s1,s2", "s1", "s2"))
    name = s1_name if sensor == "s1" else pair_id
    return f"pair={pair_id}&sensor={sensor}&k={k}&targets={targets}", k, name, f"{pair_id} {sensor} k={k} {targets}"


@dataclass
class Outcome:
    user: int
    kind: str          # link | click
    query: str
    ms: float | None   # None: failed
    error: str | None = None


class RunWatcher:
    """Follows a page's websocket: counts the script runs the server finished and keeps the result-card query
    names each run sent. (The page's own run-state attribute is not enough: when the browser is busy, React
    can fold "running" and "not running" into one render, so a run may leave no trace in the DOM.)"""

    CARD = re.compile(rb'class="result-card"[^>]*?data-query="([^"]*)"')

    def __init__(self, page):
        self.finished, self.cards, self._current = 0, [], []
        self._changed = asyncio.Event()
        page.on("websocket", self._attach)

    def _attach(self, websocket) -> None:
        if websocket.url.endswith("/_stcore/stream"):
            websocket.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if isinstance(payload, str):
            return
        self._current += [name.decode() for name in self.CARD.findall(payload)]
        try:
            message = ForwardMsg.FromString(payload)
        except Exception:
            return
        if message.WhichOneof("type") == "script_finished":
            if message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self.finished, self.cards = self.finished + 1, self._current
                self._changed.set()
            self._current = []

    async def after(self, count: int, timeout_s: float) -> list[str]:
        """Until more than `count` runs have finished; the result-card query names of the last one."""
        deadline = time.monotonic() + timeout_s
        while self.finished <= count:
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the server finished no run within {timeout_s:.0f} s")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return self.cards


class User:
    """One browser context: opens shared links and clicks "Random example". A query is done when the
    server has finished its run (seen on the page's websocket) and the page shows the k result cards of
    that run's query, not running, with every image loaded."""

    def __init__(self, number: int, browser, url: str, pairs, rng: random.Random, timeout_s: float, clicks: int,
                 outcomes: list[Outcome], think_s: float = 0.0):
        self.number, self.browser, self.url, self.pairs, self.rng = number, browser, url, pairs, rng
        self.timeout_s, self.clicks, self.outcomes, self.think_s = timeout_s, clicks, outcomes, think_s
        self.k = 10
        self.runs: RunWatcher | None = None

    async def run(self, deadline: float, delay: float) -> None:
        await asyncio.sleep(delay)
        context = await self.browser.new_context(viewport=VIEWPORT)
        await context.add_init_script(RUN_COUNTER)
        page = await context.new_page()
        page.on("pageerror", lambda error: None)
        self.runs = RunWatcher(page)
        try:
            while True:  # at least one query, then until the time is up
                if await self.link(page):
                    for number in range(self.clicks):
                        if time.monotonic() >= deadline or not await self.click(page, first=number == 0):
                            break
                if time.monotonic() >= deadline:
                    break
        finally:
            await context.close()

    async def measured(self, kind: str, query: str, action, name: str | None, page) -> bool:
        before = self.runs.finished
        started = time.perf_counter()
        try:
            await action()
            cards = await self.runs.after(before, self.timeout_s)
            if name is None and cards:
                name = cards[0]
            left = max(1.0, self.timeout_s - (time.perf_counter() - started))
            state = await page.evaluate(WAIT_RENDERED, [self.k, name, -1, left * 1000])
            if state == "timeout":
                shown = await page.evaluate("() => Array.from(document.querySelectorAll('.result-card'))"
                                            ".map(c => c.dataset.query)")
                raise TimeoutError(f"the server finished the run ({len(cards)} result cards of "
                                   f"{sorted(set(cards))[:2]}) but its {self.k} results were not rendered within "
                                   f"{self.timeout_s:.0f} s; the page shows {len(shown)} of {sorted(set(shown))[:2]}")
        except Exception as error:  # timeouts, lost pages, driver errors: all count
            message = f"{type(error).__name__}: {' | '.join(str(error).splitlines()[:3])[:400]}"
            if isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
                message += f" (page: {await _connection_state(page)})"
            self.outcomes.append(Outcome(self.number, kind, query, None, message))
            return False
        elapsed = (time.perf_counter() - started) * 1000
        if state != "ok":
            self.outcomes.append(Outcome(self.number, kind, query, None, state))
            return False
        self.outcomes.append(Outcome(self.number, kind, query, elapsed))
        await think(self.rng, self.think_s)
        return True

    async def link(self, page) -> bool:
        query, self.k, name, label = choose_link(self.rng, self.pairs)
        return await self.measured("link", label, lambda: page.goto(f"{self.url}/?{query}"), name, page)

    async def click(self, page, first: bool) -> bool:
        if first:  # choose the "Random example" input and, for half the users, S1 images (reruns, not measured)
            steps = [(page.locator(".st-key-query_source button", has_text="Random example"),
                      "() => !!document.querySelector('.st-key-random_example button')")]
            if self.rng.random() < 0.5:  # (Sentinel-2 is the default: clicking it would not rerun)
                steps.append((page.locator(".st-key-pick_sensor label", has_text="Sentinel-1"),
                              "() => Array.from(document.querySelectorAll('.st-key-pick_sensor input'))"
                              ".some(i => i.checked && i.closest('label').innerText.includes('Sentinel-1'))"))
            for locator, chosen in steps:
                before = self.runs.finished
                try:
                    await locator.click(timeout=self.timeout_s * 1000)
                    await self.runs.after(before, self.timeout_s)
                    await page.wait_for_function(chosen, polling=100, timeout=self.timeout_s * 1000)
                except Exception as error:
                    self.outcomes.append(Outcome(self.number, "click", "choose Random example", None,
                                                 f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"))
                    return False
        button = page.locator(".st-key-random_example button")
        return await self.measured("click", "random example",
                                   lambda: button.click(timeout=self.timeout_s * 1000), None, page)


async def _connection_state(page) -> str:
    """Connection and script state at a timeout, and how many script runs the page saw (0 new runs after a
    click: the click was lost; a run still going: the server or the browser was too slow)."""
    try:
        return await page.evaluate(
            "() => { const app = document.querySelector('[data-testid=stApp]');"
            " return `${app?.getAttribute('data-test-connection-state')}, script ${app?.getAttribute("
            "'data-test-script-state')}, ${window.__csmaeRuns || 0} runs in this page`; }")
    except Exception:
        return "unknown"


class ProtocolUser:
    """The same user, speaking Streamlit's websocket protocol instead of running a browser: it sends what the
    browser sends (a rerun with the link's query string; then the "Random example" widget states) and times
    the server's answer up to the end of the script run, with the k result cards in it. Nothing is rendered,
    so this measures the server's part of the latency, and 10 of these cost the client machine almost nothing."""

    WIDGET_ID = re.compile(rb"\$\$ID-[0-9a-f]{32}-[A-Za-z0-9_]+")
    CARD = re.compile(r'class="result-card"[^>]*data-query="([^"]*)"')

    def __init__(self, number: int, url: str, pairs, rng: random.Random, timeout_s: float, clicks: int,
                 outcomes: list[Outcome], think_s: float = 0.0):
        self.number, self.pairs, self.rng, self.timeout_s = number, pairs, rng, timeout_s
        self.clicks, self.outcomes, self.think_s = clicks, outcomes, think_s
        self.stream = url.replace("http://", "ws://").replace("https://", "wss://") + "/_stcore/stream"

    async def run(self, deadline: float, delay: float) -> None:
        await asyncio.sleep(delay)
        while True:
            try:
                await self.session(deadline)
            except Exception as error:  # connection refused / closed: counts, then a new session
                self.outcomes.append(Outcome(self.number, "link", "session", None, f"{type(error).__name__}: {error}"))
                await asyncio.sleep(0.5)
            if time.monotonic() >= deadline:
                break

    async def session(self, deadline: float) -> None:
        import websockets

        query, k, name, label = choose_link(self.rng, self.pairs)
        async with websockets.connect(self.stream, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=self.timeout_s) as ws:
            started = time.perf_counter()
            ok, ids = await self.measured(ws, "link", label, query, [], k, name, started)
            if not ok:
                return
            chosen = [(ids.get("k"), "doubles", [k]), (ids.get("query_source"), "strings", ["Random example"])]
            targets = dict(part.split("=") for part in query.split("&"))["targets"].split(",")
            chosen.append((ids.get("targets"), "strings", [{"s1": "Sentinel-1", "s2": "Sentinel-2"}[t] for t in targets]))
            ok, more = await self.measured(ws, None, "choose Random example", query, chosen, k, None, 0.0)
            ids.update(more)
            for _ in range(self.clicks):
                if not ok or time.monotonic() >= deadline:
                    break
                click = chosen + [(ids.get("random_example"), "trigger", True)]
                ok, more = await self.measured(ws, "click", "random example", query, click, k, None, None)
                ids.update(more)

    async def measured(self, ws, kind, label, query, states, k, name, started) -> tuple[bool, dict]:
        started = started or time.perf_counter()
        try:
            state, ids = await asyncio.wait_for(self.rerun(ws, query, states, k, name), self.timeout_s)
        except asyncio.TimeoutError:
            state, ids = f"timeout after {self.timeout_s:.0f} s", {}
        if kind is None:  # not measured
            return state == "ok", ids
        if state != "ok":
            self.outcomes.append(Outcome(self.number, kind, label, None, state))
            return False, ids
        self.outcomes.append(Outcome(self.number, kind, label, (time.perf_counter() - started) * 1000))
        await think(self.rng, self.think_s)
        return True, ids

    async def rerun(self, ws, query: str, states, k: int, name: str | None) -> tuple[str, dict]:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = BackMsg()
        message.rerun_script.query_string = query
        message.rerun_script.widget_states.SetInParent()
        message.rerun_script.context_info.timezone = "UTC"
        message.rerun_script.context_info.locale = "en-US"
        for widget, kind, value in states:
            if widget is None:
                return f"the page lacks a widget to send {value!r} to", {}
            entry = message.rerun_script.widget_states.widgets.add()
            entry.id = widget
            if kind == "trigger":
                entry.trigger_value = value
            elif kind == "strings":
                entry.string_array_value.data.extend(value)
            else:
                entry.double_array_value.data.extend(value)
        await ws.send(message.SerializeToString())
        cards, ids, problem = [], {}, None
        while True:
            raw = await ws.recv()
            forward = ForwardMsg.FromString(raw)
            for found in self.WIDGET_ID.findall(raw):
                ids[found.decode().rsplit("-", 1)[1]] = found.decode()
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                which = element.WhichOneof("type")
                if which == "markdown":
                    cards += self.CARD.findall(element.markdown.body)
                elif which == "exception":
                    problem = f"exception: {element.exception.type}: {element.exception.message[:300]}"
                elif which == "alert" and element.alert.format == element.alert.ERROR:
                    problem = f"error box: {element.alert.body[:300]}"
            elif kind == "script_finished" and forward.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                if problem:
                    return problem, ids
                if forward.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    return "the script did not compile", ids
                if k and (len(cards) != k or (name is not None and set(cards) != {name})):
                    return f"{len(cards)} result cards of {set(cards) or 'no query'} instead of {k} of {name}", ids
                return "ok", ids


async def drive(url: str, users: int, duration: float, pairs, seed: int, timeout_s: float, clicks: int,
                client: str = "browser", think_s: float = 0.0, headless: bool = True) -> list[Outcome]:
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

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=headless)
        crowd = [User(n, browser, url, pairs, random.Random(seed + n), timeout_s, clicks, outcomes, think_s)
                 for n in range(users)]
        await asyncio.gather(*(user.run(deadline, delay) for user, delay in zip(crowd, delays)))
        await browser.close()
    return outcomes


def run_load(url: str, users: int = 10, duration: float = 60.0, catalogue: Path | None = None, seed: int = 0,
             timeout_s: float = 30.0, clicks: int = 3, pid: int | None = None, client: str = "browser",
             think_s: float = 0.0) -> dict:
    """Drive the app at `url`; returns the report (see the module docstring)."""
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
    done = [o for o in outcomes if o.ms is not None]
    failed = [o for o in outcomes if o.ms is None]
    return {
        "url": url, "client": client, "users": users, "duration_s": duration, "think_s": think_s,
        "wall_s": round(wall, 1),
        "pairs": len(pairs), "measure": MEASURES[client],
        "queries": len(done), "errors": len(failed), "throughput_qps": round(len(done) / wall, 2) if wall else None,
        "latency": summarise([o.ms for o in done]),
        "latency_by_kind": {kind: summarise([o.ms for o in done if o.kind == kind]) for kind in ("link", "click")},
        "error_list": [vars(o) for o in failed][:50],
        "server_pid": pid, "server_rss_mib": {"idle_before": _mib(idle), "peak": _mib(peak),
                                              "after": _mib(rss_bytes(pid))},
        "cpu_count": os.cpu_count(), "load_average_1m_after": round(os.getloadavg()[0], 2),
    }


MEASURES = {
    "browser": "issue query (navigation start / click) -> k result cards of that query rendered, script run finished, "
               "all page images loaded (headless Chromium, one context per user)",
    "protocol": "send the rerun (new session with the link / the click's widget states) -> script run finished with "
                "the k result cards (Streamlit websocket protocol, nothing rendered: the server's part)",
}


def _mib(value: int | None) -> float | None:
    return round(value / 2**20, 1) if value is not None else None


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


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running app, e.g. http://127.0.0.1:8501")
    where.add_argument("--start", action="store_true", help="start `make run` on a free port, stop it afterwards")
    p.add_argument("--catalogue", type=Path, help="catalogue the app serves (default: $CSMAE_CATALOGUE or "
                                                  "assets/catalogue.json); with --start, also passed to the app")
    p.add_argument("--client", choices=("browser", "protocol"), default="browser",
                   help="browser: headless Chromium renders every page (what a user feels; the browsers need CPU "
                        "too); protocol: Streamlit's websocket protocol, nothing rendered (the server's part)")
    p.add_argument("--users", type=int, default=10)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--clicks", type=int, default=3, help="'Random example' searches per opened link")
    p.add_argument("--think", type=float, default=0.0,
                   help="mean pause (s) of a user after each result, uniform in [0, 2 x THINK]; 0 (default): the "
                        "next query at once, a stress test")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before a query counts as failed")
    p.add_argument("--warmup", type=int, default=1, help="with --start: unmeasured searches before the load")
    p.add_argument("--pid", type=int, help="app server process (default: the one listening on the URL's port)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the report here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    server = None
    if args.start:
        log = ROOT / "test-output" / "load-test-server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        server = AppServer(catalogue=args.catalogue, log_path=log).start()
        print(f"app started at {server.url} in {server.health_s:.1f} s (log {log})")
    url = server.url if server else args.url.rstrip("/")
    try:
        if server and args.warmup:  # the first session loads the model and index: not part of the load
            run_load(url, 1, 0.1, args.catalogue, args.seed + 1000, max(args.timeout, 300.0), 0, client="protocol")
        report = run_load(url, args.users, args.duration, args.catalogue, args.seed, args.timeout, args.clicks,
                          args.pid, args.client, args.think)
    finally:
        if server:
            server.stop()
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

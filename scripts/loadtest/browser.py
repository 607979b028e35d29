"""Debian's headless Chromium as the tests and load tests drive it (every non-loopback request refused:
the pages must work with no internet), the JS probes that tell when a query's results are rendered, and
RunWatcher, which counts the script runs the server finished from the page's websocket."""
from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from .frames import FrameListener

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

# The connection and script state of the page, and how many script runs it saw.
PAGE_STATE = ("() => { const app = document.querySelector('[data-testid=stApp]');"
              " return `${app?.getAttribute('data-test-connection-state')}, script ${app?.getAttribute("
              "'data-test-script-state')}, ${window.__csmaeRuns || 0} runs in this page`; }")


def require_chromium() -> str:
    """The Chromium executable; FileNotFoundError (saying how to install it) when there is none."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")
    return CHROMIUM


async def connection_state(page) -> str:
    """Connection and script state at a timeout, and how many script runs the page saw (0 new runs after a
    click: the click was lost; a run still going: the server or the browser was too slow)."""
    try:
        return await page.evaluate(PAGE_STATE)
    except Exception:
        return "unknown"


class RunWatcher(FrameListener):
    """Follows a page's websocket: counts the script runs the server finished and keeps the result-card query
    names each run sent. (The page's own run-state attribute is not enough: when the browser is busy, React
    can fold "running" and "not running" into one render, so a run may leave no trace in the DOM.)"""

    def __init__(self, page):
        super().__init__(page)
        self.finished, self.cards, self._current = 0, [], []
        self._changed = asyncio.Event()

    def on_frame(self, message, cards: list[str]) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._current += cards
        if message is not None and message.WhichOneof("type") == "script_finished":
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

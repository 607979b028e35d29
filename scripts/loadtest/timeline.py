"""The timeline of one search in the browser: what the page, the websocket and the results map's frame did
between the user's action and the results rendered with their map overlays. A probe (TIMELINE_PROBE, an
init script of every frame) stamps events with the shared wall clock (performance.timeOrigin + now()): user
actions, websocket messages, the Leaflet map's creation, each image's insertion, load and decode, and the
result cards shown; Timeline names the websocket messages (ForwardMsg types) and reads the stamps back."""
from __future__ import annotations

import json
import time

from .frames import FrameListener

# Installed in each document once. Playwright's init scripts run in a frame's initial about:blank document
# only (its first navigation keeps that window), so the top document installs it into its frames' documents.
PROBE = r"""
(() => {
if (window.__tlDocument === document) return;
window.__tlDocument = document;
const now = () => performance.timeOrigin + performance.now();
const previous = window.__tl;  // the about:blank document's: it may have seen the Leaflet map created
const tl = window.__tl = {events: previous ? previous.events : [], ws: [], imgs: [], cards: [],
                          busy: previous ? previous.busy : undefined};
const mark = (name, extra) => window.__tl.events.push(Object.assign({t: now(), name}, extra || {}));
document.addEventListener('click', () => mark('click'), true);
document.addEventListener('change', () => mark('change'), true);
const Native = window.WebSocket;
if (!Native.__tlWrapped) {
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', e => window.__tl.ws.push({t: now(), dir: 'in',
                                                                  n: e.data.byteLength ?? e.data.size}));
    }
    send(data) { window.__tl.ws.push({t: now(), dir: 'out', n: data.byteLength ?? data.length});
                 return super.send(data); }
  };
  window.WebSocket.__tlWrapped = true;
}
let leafletMap = window.map;  // streamlit-folium sets window.map once its Leaflet map exists
Object.defineProperty(window, 'map', {configurable: true, get() { return leafletMap; },
  set(value) { leafletMap = value; if (value) mark('leaflet map created'); }});
const watch = img => {
  if (img.__tl) return;
  const entry = img.__tl = {added: now(), cls: String(img.className), src: (img.src || '').slice(0, 40),
                            bytes: (img.src || '').length};
  tl.imgs.push(entry);
  const loaded = () => {
    entry.loaded = now();
    img.decode().then(() => { entry.decoded = now(); }, () => { entry.decoded = now(); });
  };
  if (img.complete && img.naturalWidth) loaded(); else img.addEventListener('load', loaded, {once: true});
};
const cardsState = () => {
  const cards = document.querySelectorAll('.result-card');
  const key = cards.length + ' ' + (cards.length ? cards[0].dataset.query : '');
  if (tl.cards.length === 0 || tl.cards[tl.cards.length - 1].key !== key)
    tl.cards.push({t: now(), key, n: cards.length, query: cards.length ? cards[0].dataset.query : null});
};
new MutationObserver(mutations => {
  for (const m of mutations) for (const node of m.addedNodes) {
    if (node.tagName === 'IMG') watch(node);
    else if (node.tagName === 'IFRAME') mark('iframe added');
    else if (node.querySelectorAll) node.querySelectorAll('img').forEach(watch);
  }
  if (window === window.top) cardsState();
}).observe(document, {subtree: true, childList: true});
document.querySelectorAll('img').forEach(watch);
if (window === window.top && !previous) {  // the renderer's main thread, busy (tasks over 50 ms), frames included
  tl.busy = [];
  new PerformanceObserver(list => list.getEntries().forEach(e => window.__tl.busy.push(
    {start: performance.timeOrigin + e.startTime, ms: e.duration}))).observe({type: 'longtask', buffered: true});
}
})();
"""

TIMELINE_PROBE = """(() => {
const source = %s;
(0, eval)(source);
if (window !== window.top || window.__tlFrames) return;
window.__tlFrames = setInterval(() => {
  for (const frame of document.querySelectorAll('iframe')) {
    try {
      const child = frame.contentWindow;
      if (child && child.document.URL !== 'about:blank' && child.__tlDocument !== child.document) child.eval(source);
    } catch (error) {}  // another origin: nothing to stamp
  }
}, 5);
})();""" % json.dumps(PROBE)

READ_PROBE = """() => {
  const tl = window.__tl || {events: [], ws: [], imgs: [], cards: []};
  const origin = performance.timeOrigin;
  const resources = performance.getEntriesByType('resource').map(r => ({
    name: r.name, start: origin + r.startTime, end: origin + r.responseEnd, bytes: r.transferSize}));
  return {origin, events: tl.events, ws: tl.ws, imgs: tl.imgs, cards: tl.cards, busy: tl.busy || [], resources};
}"""


class Timeline(FrameListener):
    """Follows one page: the ForwardMsg type of every websocket message (in arrival order, to name the
    probe's stamps) and the result-card query names of each finished script run."""

    def __init__(self, page):
        super().__init__(page)
        self.page, self.types, self.finished_cards = page, [], []
        self._cards: list[str] = []

    def on_text(self) -> None:
        self.types.append("text")

    def on_frame(self, message, cards: list[str]) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._cards += cards
        kind = (message.WhichOneof("type") or "?") if message is not None else "?"
        if kind == "script_finished":
            kind = f"script_finished:{message.script_finished}"
            if message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self.finished_cards.append(self._cards)
            self._cards = []
        self.types.append(kind)

    def wait_finished(self, runs_before: int, timeout_s: float) -> list[str]:
        """Until a script run after `runs_before` finished with result cards (an upload may take a run
        without); that run's result-card query names."""
        deadline = time.monotonic() + timeout_s
        while not any(self.finished_cards[runs_before:]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server finished no run with results within {timeout_s:.0f} s")
            self.page.wait_for_timeout(10)
        return next(cards for cards in self.finished_cards[runs_before:] if cards)


def results_frame(page, box: str = ".st-key-results_map_box"):
    """The Frame of the results map (None while there is none)."""
    handle = page.locator(f"{box} iframe").last.element_handle(timeout=30_000)
    return handle.content_frame() if handle else None


def wait_rendered(page, timeline: Timeline, started_ms: float, runs_before: int, k: int,
                  timeout_s: float = 60) -> tuple[str, dict, dict]:
    """Until the k result cards of the next finished run are shown and at least k map overlays added after
    `started_ms` are loaded; the query name and the probe readings of the page and the results frame."""
    cards = timeline.wait_finished(runs_before, timeout_s)
    query = cards[0] if cards else None
    deadline = time.monotonic() + timeout_s
    while True:
        main = page.evaluate(READ_PROBE)
        frame = results_frame(page)
        inner = frame.evaluate(READ_PROBE) if frame else {"imgs": []}
        overlays = [i for i in inner["imgs"] if "leaflet-image-layer" in i["cls"] and i["added"] >= started_ms]
        shown = main["cards"] and main["cards"][-1]["n"] == k and main["cards"][-1]["query"] == query
        if shown and len(overlays) >= k and all("decoded" in i for i in overlays):
            return query, main, inner
        if time.monotonic() > deadline:
            raise TimeoutError(f"results of {query} not rendered within {timeout_s:.0f} s: cards "
                               f"{main['cards'][-1:]} overlays {len(overlays)}")
        page.wait_for_timeout(15)


def search_timeline(types: list[str], main: dict, inner: dict, started_ms: float, query: str | None) -> dict:
    """Milliseconds after the user's action (`started_ms`, wall clock) of each step of one search."""
    ws = main["ws"]
    named = [dict(m, kind=types[i] if i < len(types) else "?") for i, m in enumerate(x for x in ws if x["dir"] == "in")]
    after = [m for m in named if m["t"] >= started_ms]
    sent = [m for m in ws if m["dir"] == "out" and m["t"] >= started_ms]
    finished = next((m for m in after if m["kind"].startswith("script_finished")), None)
    deltas = [m for m in after if m["kind"] == "delta" and (finished is None or m["t"] <= finished["t"])]
    overlays = [i for i in inner["imgs"] if "leaflet-image-layer" in i["cls"] and i["added"] >= started_ms]
    gallery = [i for i in main["imgs"] if i["added"] >= started_ms]
    cards = next((c for c in main["cards"] if c["t"] >= started_ms and c["query"] == query), None)
    uploads = [r for r in main["resources"] if "upload_file" in r["name"] and r["start"] >= started_ms - 50]
    frame_new = inner.get("origin", 0) >= started_ms
    leaflet = [r for r in inner.get("resources", []) if r["name"].endswith("leaflet.js")]
    created = [e for e in inner.get("events", []) if e["name"] == "leaflet map created"]
    steps = {
        "upload requests done": max((r["end"] for r in uploads), default=None),
        "rerun request sent": sent[0]["t"] if sent else None,
        "first server message": after[0]["t"] if after else None,
        "first delta": deltas[0]["t"] if deltas else None,
        "last delta": deltas[-1]["t"] if deltas else None,
        "script finished": finished["t"] if finished else None,
        "results frame created": inner["origin"] if frame_new else None,
        "leaflet.js loaded": leaflet[-1]["end"] if frame_new and leaflet else None,
        "leaflet map created": created[-1]["t"] if frame_new and created else None,
        "overlays added": min((i["added"] for i in overlays), default=None),
        "overlays loaded": max((i.get("loaded", 0) for i in overlays), default=None),
        "overlays decoded": max((i.get("decoded", 0) for i in overlays), default=None),
        "cards shown": cards["t"] if cards else None,
        "gallery images loaded": max((i.get("loaded", 0) for i in gallery), default=None),
    }
    out = {name: round(t - started_ms) for name, t in steps.items() if t}
    rendered = max(out.get(name, 0) for name in ("overlays decoded", "cards shown", "gallery images loaded"))
    out["page busy in long tasks"] = busy_ms(main.get("busy", []), started_ms, started_ms + rendered)
    out["rendered"] = rendered
    out["websocket bytes"] = sum(m["n"] or 0 for m in after if finished is None or m["t"] <= finished["t"])
    out["overlay image bytes"] = sum(i["bytes"] for i in overlays)
    out["overlays"] = len(overlays)
    return out


def busy_ms(tasks: list[dict], start: float, end: float) -> int:
    """Milliseconds of the renderer's long tasks ({start, ms}) inside [start, end]."""
    return round(sum(max(0.0, min(t["start"] + t["ms"], end) - max(t["start"], start)) for t in tasks))

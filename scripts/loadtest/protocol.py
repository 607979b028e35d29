"""A simulated user speaking Streamlit's websocket protocol: the server's part of the latency, at almost no
cost to the client machine (nothing is rendered)."""
from __future__ import annotations

import asyncio
import random
import re
import time

from .workload import Outcome, choose_link, think

SENSOR_NAMES = {"s1": "Sentinel-1", "s2": "Sentinel-2"}


class ProtocolUser:
    """The browser user's queries, sent as the browser sends them (a rerun with the link's query string; then
    the "Random example" widget states), timed up to the end of the script run with the k result cards in it.
    Nothing is rendered, so this measures the server's part of the latency, and 10 of these cost the client
    machine almost nothing."""

    WIDGET_ID = re.compile(rb"\$\$ID-[0-9a-f]{32}-[A-Za-z0-9_]+")
    CARD = re.compile(r'class="result-card"[^>]*data-query="([^"]*)"')

    def __init__(self, number: int, url: str, pairs, rng: random.Random, timeout_s: float, clicks: int,
                 outcomes: list[Outcome], think_s: float = 0.0):
        self.number, self.pairs, self.rng, self.timeout_s = number, pairs, rng, timeout_s
        self.clicks, self.outcomes, self.think_s = clicks, outcomes, think_s
        self.stream = url.replace("http://", "ws://").replace("https://", "wss://") + "/_stcore/stream"

    async def run(self, deadline: float, delay: float) -> None:
        """After `delay` seconds: sessions (at least one) until the monotonic `deadline`."""
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
        """One websocket session: a shared link, then up to `clicks` "Random example" searches."""
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
            chosen.append((ids.get("targets"), "strings", [SENSOR_NAMES[t] for t in targets]))
            ok, more = await self.measured(ws, None, "choose Random example", query, chosen, k, None, 0.0)
            ids.update(more)
            for _ in range(self.clicks):
                if not ok or time.monotonic() >= deadline:
                    break
                click = chosen + [(ids.get("random_example"), "trigger", True)]
                ok, more = await self.measured(ws, "click", "random example", query, click, k, None, None)
                ids.update(more)

    async def measured(self, ws, kind, label, query, states, k, name, started) -> tuple[bool, dict]:
        """One rerun, recorded as an Outcome of `kind` (None: not measured); (ok, widget ids seen)."""
        started = started or time.perf_counter()
        try:
            state, ids = await asyncio.wait_for(self.rerun(ws, query, states, k, name), self.timeout_s)
        except asyncio.TimeoutError:
            state, ids = f"timeout after {self.timeout_s:.0f} s", {}
        if kind is None:
            return state == "ok", ids
        if state != "ok":
            self.outcomes.append(Outcome(self.number, kind, label, None, state))
            return False, ids
        self.outcomes.append(Outcome(self.number, kind, label, (time.perf_counter() - started) * 1000))
        await think(self.rng, self.think_s)
        return True, ids

    async def rerun(self, ws, query: str, states, k: int, name: str | None) -> tuple[str, dict]:
        """Send a rerun with `states` [(widget id, kind, value)]; read the answer to the end of the run:
        ("ok" or what was wrong, {widget key: widget id})."""
        message = rerun_message(query, states)
        if isinstance(message, str):
            return message, {}
        await ws.send(message.SerializeToString())
        return await self.answer(ws, k, name)

    async def answer(self, ws, k: int, name: str | None) -> tuple[str, dict]:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

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


def rerun_message(query: str, states):
    """The BackMsg the browser sends to rerun the page with `query` and widget `states`; a string saying
    what is missing when a widget id is unknown."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    message = BackMsg()
    message.rerun_script.query_string = query
    message.rerun_script.widget_states.SetInParent()
    message.rerun_script.context_info.timezone = "UTC"
    message.rerun_script.context_info.locale = "en-US"
    for widget, kind, value in states:
        if widget is None:
            return f"the page lacks a widget to send {value!r} to"
        entry = message.rerun_script.widget_states.widgets.add()
        entry.id = widget
        if kind == "trigger":
            entry.trigger_value = value
        elif kind == "strings":
            entry.string_array_value.data.extend(value)
        else:
            entry.double_array_value.data.extend(value)
    return message

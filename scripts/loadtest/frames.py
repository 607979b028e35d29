"""The Streamlit websocket as a page receives it: each binary frame parsed once into its ForwardMsg and the
result-card query names it carries; shared by the load test's browser users and the browser benchmark."""
from __future__ import annotations

import re

CARD = re.compile(rb'class="result-card"[^>]*?data-query="([^"]*)"')


class FrameListener:
    """Subclasses get `on_frame(message, cards)` for every binary frame of a page's app stream (`message`:
    the ForwardMsg, None when it does not parse) and `on_text()` for a text frame."""

    def __init__(self, page):
        page.on("websocket", self._attach)

    def _attach(self, websocket) -> None:
        if websocket.url.endswith("/_stcore/stream"):
            websocket.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if isinstance(payload, str):
            self.on_text()
            return
        cards = [name.decode() for name in CARD.findall(payload)]
        try:
            message = ForwardMsg.FromString(payload)
        except Exception:  # noqa: BLE001 - an unknown message is only unnamed
            message = None
        self.on_frame(message, cards)

    def on_text(self) -> None:
        pass

    def on_frame(self, message, cards: list[str]) -> None:
        raise NotImplementedError

"""Small renderers shared by the pages: label chips (the one chip style of the app) and images."""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from pages.ui.safe_text import shown


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(image: np.ndarray) -> str:
    """JPEG data URL (a 120x120 preview is about 5 kB as JPEG, 30 kB as PNG: maps and galleries of
    many patches load faster)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


CHIP_COLOURS = {"shared": ("#1b7f3b", "#e3f4e8"), "missing": ("#b42318", "#fdecea"),
                "extra": ("#b54708", "#fff4e5"), "plain": ("#344054", "#f2f4f7")}
# The look of the chips and of a result card (image, caption, scores), sent once per page (pages/ui/resources.page_menu)
# instead of inline on every chip and card: a result card is parsed as HTML in the browser on every search.
PAGE_CSS = ("<style>.chip{display:inline-block;margin:1px 2px;padding:0 6px;border-radius:9px;font-size:0.72rem}"
            ".result-image{display:block;width:100%;border-radius:0.5rem;margin-bottom:0.5rem}"
            ".result-caption,.result-scores{display:block;font-size:0.8rem;color:rgba(49,51,63,0.6);"
            "overflow-wrap:anywhere}.result-scores{margin-top:0.25rem}"
            + "".join(f".chip-{kind}{{color:{colour};background:{background};border:1px solid {colour}33}}"
                      for kind, (colour, background) in CHIP_COLOURS.items()) + "</style>")


def label_chips(shared=(), missing=(), extra=(), plain=(), empty: str = "") -> str:
    """HTML chips: shared (green), missing = query label the result lacks (red), extra = result label
    the query lacks (orange), plain (grey, no comparison). Label text goes through pages.ui.safe_text
    (HTML inside Markdown: no tag, link or image from a label). With no label at all: `empty` in italics
    (nothing when it is "")."""
    chips = []
    for kind, labels in (("shared", shared), ("missing", missing), ("extra", extra), ("plain", plain)):
        sign = {"shared": "✓ ", "missing": "− ", "extra": "+ ", "plain": ""}[kind]
        for label in labels:  # styled by PAGE_CSS
            chips.append(f'<span class="chip chip-{kind}" title="{kind}">{sign}{shown(label, context="html")}</span>')
    if not chips and empty:
        return f"<em>{shown(empty, context='html')}</em>"
    return "".join(chips)

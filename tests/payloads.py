"""Hostile text for every place the app shows text it did not write (tests/test_hostile_pages.py in AppTest,
tests/e2e/test_hostile.py in the browser): Markdown links and images, HTML, javascript: URLs, autolinks,
Streamlit directives, template-string breakouts, bidi and zero-width characters, very long strings. Every
URL points at HOST, which no test server answers: a link to it, an image from it or a request to it is
the failure."""
from __future__ import annotations

import re
from pathlib import Path

HOST = "evil.example"

PAYLOADS = {
    "markdown-link": f"[Session expired, sign in again](http://{HOST}/phish)",
    "markdown-image": f"![x](http://{HOST}/pixel.png)",
    "reference-link": f"[x][1] [1]: http://{HOST}/ref",
    "angle-autolink": f"<http://{HOST}/auto> <someone@{HOST}>",
    "literal-autolink": f"see http://{HOST}/bare or www.{HOST} or mail someone@{HOST}",
    "html-image": f'<img src="http://{HOST}/img.png" onerror="alert(1)">',
    "html-link": f'<a href="http://{HOST}/a">click</a><script>alert(1)</script>',
    "javascript-link": "[click me](javascript:alert(document.domain))",
    "template-breakout": "`${alert(1)}` `); alert(2); //",
    "directives": ":red[alert] :material/warning: :smile: $x^2$ **bold** ~~gone~~ | a | b |",
    "bidi": "report\u202egnp.exe\u2066x\u2069",
    "zero-width": "S2A\u200b_MSIL2A\u200d_87\ufeff_48\u2060",
    "new-blocks": "\n# heading\n- item\n> quote\n1. first",
    "formula": f'=HYPERLINK("http://{HOST}/f","x")',
    "long": "A" * 100_000,
}

# what may never be in a rendered Markdown body: link/image syntax, an angle autolink, raw tags that load
# or link, and a literal autolink GFM would find in the parsed text (escapes are resolved first)
_UNESCAPED = r"(?<!\\)"
FORBIDDEN_MARKDOWN = (
    re.compile(_UNESCAPED + r"\]\s*[(\[]"),          # [text](url) / [text][ref]
    re.compile(_UNESCAPED + r"!" + _UNESCAPED + r"\["),  # ![alt]
    re.compile(r"<[A-Za-z][A-Za-z0-9+.\-]{1,31}:"),  # <scheme:...>
    re.compile(r"<[\w.+\-]+@"),                      # <someone@host>
    re.compile(r"(?i)https?://"),                    # http:// (a word joiner must sit inside)
    re.compile(r"(?i)www\."),
    re.compile(r"[\w.+\-]@[\w\-]+\.[\w\-]"),          # someone@host.org
)
# and, where the body is rendered with HTML on, tags that load, link or run
FORBIDDEN_HTML = (
    re.compile(r"(?i)<(img|a|script|iframe|svg|video|audio|link|object|style)\b"),
    re.compile(r"(?i)<[^>]*\b(href|src|on\w+)\s*="),
)


def markdown_problems(body: str, html: bool = False) -> list[str]:
    """The forbidden patterns found in one rendered Markdown body (empty: nothing links, loads or runs);
    `html`: the body is rendered with HTML on (raw HTML is shown as text otherwise)."""
    text = re.sub(r'="[^"]*"', '=""', body) if html else body  # the page's own tags' attribute values
    text = re.sub(r"\\\\", "", text)  # an escaped backslash escapes nothing after it
    patterns = FORBIDDEN_MARKDOWN + (FORBIDDEN_HTML if html else ())
    return [pattern.pattern for pattern in patterns if pattern.search(text)]


# the page's own image in a result card's HTML element: a JPEG it encoded itself (pages/ui/widgets.data_url)
PAGE_IMAGE = re.compile(r'<img class="result-image" src="data:image/jpeg;base64,[A-Za-z0-9+/=]+" alt="">')


def html_problems(body: str) -> list[str]:
    """The forbidden patterns found in the body of one HTML element (st.html): the page's own images aside,
    held to the rules of Markdown with HTML on (st.html does not parse Markdown; the stricter rule costs
    nothing and keeps a card safe if it ever moves into Markdown)."""
    return markdown_problems(PAGE_IMAGE.sub("", body), html=True)


def archive_value(index: int, limit: int = 5_000) -> str:
    """The payload for row `index` of a hostile archive table, numbered (unique) and at most `limit` long."""
    name = list(PAYLOADS)[index % len(PAYLOADS)]
    return f"{index:02d} {PAYLOADS[name]}"[:limit]


def write_payload_catalogue(folder: Path) -> Path:
    """A catalogue whose one entry serves the demo model and archive with a copy of the demo bundle whose
    table (pair ids, S1 names, countries, seasons) and name are payloads: what a custom archive could hold
    (labels must be BigEarthNet's 19 classes: a bundle with others is refused when it is opened). The
    copy's checksums are rewritten, as its builder would have written them."""
    import json
    import shutil

    import pandas as pd

    from csmae_core.retrieval.bundle import sha256_file

    root = Path(__file__).resolve().parents[1] / "assets"
    bundle = Path(shutil.copytree(root / "bundles" / "demo", folder / "bundle"))
    table = pd.read_parquet(bundle / "metadata.parquet")
    rows = range(len(table))
    table["pair_id"] = [archive_value(i) for i in rows]
    table["s1_name"] = [archive_value(i + 1) for i in rows]
    table["country"] = [archive_value(i + 2, 200) if i % 3 == 0 else c for i, c in zip(rows, table["country"])]
    table["season"] = [archive_value(i + 3, 200) if i % 4 == 0 else s for i, s in zip(rows, table["season"])]
    table.to_parquet(bundle / "metadata.parquet")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["name"] = PAYLOADS["markdown-link"]
    manifest["files"] = {name: sha256_file(bundle / name) for name in manifest["files"]}
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2))
    entry = {"name": f"payloads {PAYLOADS['html-image']}", "encoder_family": "csmae",
             "model": str(root / "models" / "demo.pt"), "bundle": str(bundle), "archive": str(root / "demo"),
             "evaluation": str(root / "evaluation" / "demo")}
    catalogue = folder / "catalogue.json"
    catalogue.write_text(json.dumps({"entries": [entry]}))
    return catalogue

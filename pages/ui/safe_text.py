r"""The one way the pages show text they did not write: names and band descriptions from a user's file,
values from the address, pair ids and labels of an archive table, and error messages that quote them.

`shown(value)` cleans the text (control, zero-width and bidi characters become U+FFFD, so they can neither
hide nor reorder anything; whitespace runs become one space, so nothing starts a Markdown block), cuts it
to `limit` characters with an ellipsis, and escapes it for where it goes:

* "markdown" (st.markdown / caption / info / warning / error, the bodies Streamlit renders as Markdown
  with HTML off): a backslash before every character that can open a link, an image, an autolink
  (`<http:...>`, `<a@h.org>`), a directive (`:red[...]`), maths, a table or a heading:
  ``\ * [ ] ! $ ~ | # { } : @``, and before a leading list or quote marker. So `[x](http://h)` shows as
  typed but is no link, and `![x](http://h/p.png)` loads nothing. Characters that stay as typed
  (`< > _ ( ) ' " / . % & - +` and the backtick) open nothing once those are escaped: raw HTML is shown
  as text when HTML is off, and a code span shows its content literally (the library's messages use
  backticks for names: `state_dict`).
* "html" (text inside HTML: folium tooltips and popups, which are JavaScript template strings, and HTML
  that st.markdown renders with unsafe_allow_html, whose text Markdown still parses): html.escape, and
  the characters above plus `_` as numeric character references, which HTML, Markdown and template
  strings all show as the character itself and never read as markup, a link, `${...}` or the end of
  the string.

* "attribute" (a double-quoted HTML attribute value): html.escape.
* "plain" (widgets that show plain text: selectbox options, dataframe cells): cleaned and cut only.

In "markdown" and "html", GFM's literal autolinks (`http://h`, `www.h`, `a@h.org`) are broken by an
invisible word joiner (U+2060) after `:`, `www` and `@`: Streamlit's Markdown finds them in the parsed
text, after escapes and character references are resolved, so no escape can stop them.
"""
from __future__ import annotations

import html
import re
import unicodedata

NAME_LIMIT = 120      # a pair id, file name, label or band description
VALUE_LIMIT = 60      # a value quoted from the address
MESSAGE_LIMIT = 600   # an error message (it may quote a name of any length)
ELLIPSIS = "\u2026"

_MARKDOWN_ACTIVE = re.compile(r"([\\*\[\]!$~|#{}:@])")
_AUTOLINK_START = re.compile(r"(?i):/|www\.|@.")  # `:` before `//`, `www` before `.`, `@` before the domain
WORD_JOINER = "\u2060"
_ORDERED_START = re.compile(r"(\d+)[.)]")
_WHITESPACE = re.compile(r"\s+")
_HTML_ACTIVE = re.compile(r"[&<>\"'`$\\{}\[\]*_~|#:@!]")
_HTML_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}  # html.escape's
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
_REPLACEMENT = "\ufffd"


def cleaned(value: object, limit: int = NAME_LIMIT) -> str:
    """`value` as one line of at most `limit` characters (plus an ellipsis when cut), with control,
    format (zero-width, bidi), surrogate, private-use and unassigned characters replaced by U+FFFD."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    text = text[:limit]
    text = _WHITESPACE.sub(" ", text)
    text = "".join(_REPLACEMENT if unicodedata.category(c) in _HIDDEN_CATEGORIES else c for c in text)
    return text + ELLIPSIS if cut else text


def shown(value: object, limit: int = NAME_LIMIT, context: str = "markdown") -> str:
    """`value` cleaned and cut (see `cleaned`) and escaped for `context` ("markdown", "html", "attribute"
    or "plain"; see the module docstring)."""
    text = cleaned(value, limit)
    if context == "markdown":
        text = _MARKDOWN_ACTIVE.sub(r"\\\1", _unlinked(text))
        return _block_start_escaped(text)
    if context == "html":
        return _HTML_ACTIVE.sub(lambda m: _HTML_NAMED.get(m.group(0)) or f"&#{ord(m.group(0))};", _unlinked(text))
    if context == "attribute":
        return html.escape(text, quote=True)
    if context == "plain":
        return text
    raise ValueError(f"context must be 'markdown', 'html', 'attribute' or 'plain', not {context!r}")


def _unlinked(text: str) -> str:
    """A word joiner (U+2060, invisible) inside every `://`, after `www` and after `@`: Streamlit's
    Markdown finds GFM's literal autolinks in the parsed text, after escapes and character references
    are resolved, so only a character that is really there breaks `http://`, `www.` and `a@b.org`."""
    return _AUTOLINK_START.sub(lambda m: m.group(0)[:-1] + WORD_JOINER + m.group(0)[-1], text)


def _block_start_escaped(text: str) -> str:
    """A backslash before a leading list, quote, heading or rule marker (`- `, `> `, `1. `, ...)."""
    if text[:1] in (">", "+", "-", "=", "*", "#"):
        return "\\" + text
    ordered = _ORDERED_START.match(text)
    return f"{ordered.group(1)}\\{text[ordered.end(1):]}" if ordered else text


def shown_message(error: object) -> str:
    """An error message (which may quote names from a user's file) for a Markdown element."""
    return shown(error, MESSAGE_LIMIT)


def shown_value(value: object) -> str:
    """A value quoted from the address, in quotes, for a Markdown element: `'...'`."""
    return f"'{shown(value, VALUE_LIMIT)}'"

"""Running built cases and rendering what happened: one row per case, as plain text or as the Markdown
table of docs/HARDENING.md."""
from __future__ import annotations

from pathlib import Path

from tests.bad_inputs.spec import Case


def outcome(case: Case) -> tuple[bool, str, str]:
    """(as expected, error class name, message) of running one case."""
    from csmae_core.errors import CsmaeError

    try:
        case.run()
    except CsmaeError as error:
        name, message = type(error).__name__, str(error)
        ok = isinstance(error, case.error) and all(m in message for m in case.message)
    except Exception as error:  # noqa: BLE001 - a raw exception is what the corpus hunts for
        name, message, ok = f"raw {type(error).__name__}", str(error), False
    else:
        name, message, ok = "no error", "", False
    if case.marker is not None and case.marker.exists():
        ok = False
        message += " [MARKER CREATED: code was executed]"
    return ok, name, message


def table_rows(cases: dict[str, Case], out: Path | None = None) -> list[dict]:
    """One row per case run (id, category, input, where, error, message, ok, hostile, open); the corpus
    folder `out` is written <corpus> in the messages."""
    rows = []
    for case in cases.values():
        ok, name, message = outcome(case)
        if out is not None:
            message = message.replace(str(out), "<corpus>")
        rows.append({"id": case.id, "category": case.category, "input": case.description, "where": case.entry,
                     "error": name, "message": message, "ok": ok, "hostile": case.marker is not None,
                     "open": case.open_issue})
    return rows


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _cell(text: str) -> str:
    """Markdown-table-safe text (outside code spans, <name> would be swallowed as an HTML tag)."""
    if text.startswith("`") and text.count("`") == 2:
        return text.replace("|", "\\|")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def markdown(rows: list[dict]) -> str:
    lines = ["| id | input | where | error | message |", "|---|---|---|---|---|"]
    for row in rows:
        cells = [f"`{row['id']}`" + (" (hostile)" if row["hostile"] else ""), row["input"], f"`{row['where']}`",
                 row["error"] + _flag(row, " **OPEN**", " **UNEXPECTED**"),
                 _short(row["message"], 320) + (f" (open: {row['open']})" if row["open"] else "")]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _flag(row: dict, open_text: str, bad_text: str) -> str:
    return "" if row["ok"] else (open_text if row["open"] else bad_text)


def plain(rows: list[dict]) -> str:
    width = max(len(r["id"]) for r in rows)
    lines = []
    for row in rows:
        status = "ok  " if row["ok"] else ("open" if row["open"] else "FAIL")
        lines.append(f"{status} {row['id']:<{width}}  {row['error']:<18} {_short(row['message'], 110)}")
    bad = sum(not r["ok"] and not r["open"] for r in rows)
    still_open = sum(not r["ok"] and bool(r["open"]) for r in rows)
    lines.append(f"{len(rows)} cases, {len(rows) - bad - still_open} as expected, {still_open} open, {bad} not")
    return "\n".join(lines)

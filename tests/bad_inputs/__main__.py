"""`python -m tests.bad_inputs [OUT_DIR] [--markdown] [--only ID ...]`: write the corpus, run every case
and print the table; exit 1 if any case misbehaves (an open issue is no misbehaviour)."""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import warnings
from pathlib import Path

import tests.bad_inputs as corpus
from tests.bad_inputs.report import markdown, plain, table_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bad_inputs", description=corpus.__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, help="folder to write the corpus to (default: a temporary one)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--only", nargs="+", metavar="ID", help="only these cases")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="bad-inputs-") as scratch:
        out = args.out or Path(scratch)
        rows = table_rows(corpus.build_corpus(out, args.only), out)
    print(markdown(rows) if args.markdown else plain(rows))
    return 0 if all(r["ok"] or r["open"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

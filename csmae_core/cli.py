"""Command line of the core: `python -m csmae_core inspect PATH [PATH ...] [--window X,Y]`.

Prints what was read as JSON on stdout and exits 0; on bad input prints one clear message on stderr
and exits 2 (never a traceback).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from csmae_core.errors import CsmaeError
from csmae_core.record import PatchPair

log = logging.getLogger(__name__)


def _window(text: str) -> tuple[int, int]:
    try:
        col, row = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--window takes COL,ROW in pixels (e.g. 474,474), not {text!r}")
    return col, row


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m csmae_core", description="CSMAE retrieval core tools")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="read a patch or archive and print what was read as JSON")
    inspect.add_argument("paths", nargs="+", metavar="PATH",
                         help="patch folder, GeoTIFF(s), .zip of a patch folder, LMDB folder or archive folder")
    inspect.add_argument("--window", type=_window, help="COL,ROW of a 120x120 window in a larger raster")
    inspect.add_argument("--sensor", choices=("s1", "s2"), help="override the detected sensor")
    inspect.add_argument("--key", help="entry of an LMDB / pair of an archive to show (default: the first)")
    return parser


def inspect_command(args: argparse.Namespace) -> dict:
    from csmae_core.io.detect import read_any

    result = read_any(args.paths, window=args.window, sensor=args.sensor, key=args.key)
    if isinstance(result, PatchPair):
        return {"pair_id": result.pair_id, "s1": result.s1.summary(), "s2": result.s2.summary()}
    return result.summary()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        output = inspect_command(args)
    except CsmaeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a reader bug must still not show a traceback to a user
        log.debug("unexpected failure", exc_info=True)
        print(f"error: could not read {' '.join(args.paths)}: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(json.dumps(output, indent=2) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 0


def run_script(run, args, verbose: bool = True) -> int:
    """The shared `main` of the offline scripts: INFO logging, `run(args)`, and our errors turned into one
    line on stderr with exit code 2 (no traceback for a user's mistake)."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run(args)
    except CsmaeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

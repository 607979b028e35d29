"""Load test of the running app: N concurrent users searching for a bounded time.

Two kinds of simulated user (--client):

browser (default)  what a user feels: the time from issuing a query to the results gallery being rendered
    in the browser (k result cards of that query in the page, the script run finished, every image of the
    page loaded). Each user is one browser context (its own Streamlit session) of one shared headless
    Chromium (Debian's /usr/bin/chromium, every non-loopback request refused).
protocol  the server's part: each user speaks Streamlit's websocket protocol (what the browser sends:
    a rerun with the link's query string, then the widget states of the clicks) and times the answer up to
    the end of the script run with the k result cards in it. Nothing is rendered, so the clients cost
    almost nothing and N users really load the server.

Each user loops over (with --think, a random pause after each result; default none: a stress test):
  link   open a shared link `/?pair=P&sensor=s1|s2&k=K&targets=...` (random pair, sensor, k, targets):
         a new session, page load and first script run included, until its k results are there;
  click  then up to --clicks times "Random example" in that session (a rerun with a new query).

An error is any of: an exception box (st.exception / uncaught exception), an st.error box, a timeout
(--timeout), a lost connection, or any exception in the driver. Reported: latency p50 / p95 / max (all
queries, and per kind), queries completed, errors, and the RSS of the app server process (idle before,
peak during, after).

    python scripts/load_test.py --url http://127.0.0.1:8501 --users 10 --duration 60 --json load.json
    python scripts/load_test.py --start --users 10 --duration 60          # starts `make run` on a free port
    python scripts/load_test.py --start --client protocol --users 10 --duration 60
    CSMAE_CATALOGUE=SCALE_DIR/catalogue.json python scripts/load_test.py --start ...   # another bundle

Note: browsers running on the same machine as the server compete with it for the CPU (on 2 cores, 10
headless Chromium users need far more CPU than the server does): the browser numbers of a small machine
are an upper bound of what remote users would see; compare them with the protocol client's.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from loadtest.drive import CLIENTS, run_load
from loadtest.report import print_report
from loadtest.server import ROOT, AppServer

from csmae_core.errors import CsmaeError


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running app, e.g. http://127.0.0.1:8501")
    where.add_argument("--start", action="store_true", help="start `make run` on a free port, stop it afterwards")
    p.add_argument("--catalogue", type=Path, help="catalogue the app serves (default: $CSMAE_CATALOGUE or "
                                                  "assets/catalogue.json); with --start, also passed to the app")
    p.add_argument("--client", choices=CLIENTS, default="browser",
                   help="browser: headless Chromium renders every page (what a user feels; the browsers need CPU "
                        "too); protocol: Streamlit's websocket protocol, nothing rendered (the server's part)")
    p.add_argument("--users", type=int, default=10)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--clicks", type=int, default=3, help="'Random example' searches per opened link")
    p.add_argument("--think", type=float, default=0.0,
                   help="mean pause (s) of a user after each result, uniform in [0, 2 x THINK]; 0 (default): the "
                        "next query at once, a stress test")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before a query counts as failed")
    p.add_argument("--warmup", type=int, default=1, help="with --start: unmeasured searches before the load")
    p.add_argument("--pid", type=int, help="app server process (default: the one listening on the URL's port)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the report here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    server = None
    if args.start:
        log = ROOT / "test-output" / "load-test-server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        server = AppServer(catalogue=args.catalogue, log_path=log).start()
        print(f"app started at {server.url} in {server.health_s:.1f} s (log {log})")
    url = server.url if server else args.url.rstrip("/")
    try:
        if server and args.warmup:  # the first session loads the model and index: not part of the load
            run_load(url, 1, 0.1, args.catalogue, args.seed + 1000, max(args.timeout, 300.0), 0, client="protocol")
        report = run_load(url, args.users, args.duration, args.catalogue, args.seed, args.timeout, args.clicks,
                          args.pid, args.client, args.think)
    except (CsmaeError, FileNotFoundError) as error:  # a missing or bad catalogue; no Chromium for the browser
        print(error, file=sys.stderr)
        return 1
    finally:
        if server:
            server.stop()
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

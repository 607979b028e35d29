"""Load tests and browser measurements of the running app, shared by scripts/load_test.py,
scripts/build_scale_bundle.py, scripts/bench_memory.py, scripts/bench_browser.py and the browser tests (tests/e2e).

    server.py        the app server: `make run` on a free loopback port, health wait, stop; pid and RSS
    browser.py       Debian's Chromium (path, offline flags, viewport), the page's JS probes, RunWatcher
    workload.py      what the users search: the served pairs, a random shared link; one query's Outcome
    browser_user.py  a user in a headless Chromium context (what a user feels)
    protocol.py      a user speaking Streamlit's websocket protocol (the server's part)
    drive.py         N users for a while -> the report
    report.py        percentiles, the report's latency summaries, printing it
    measure.py       one user's timings in a browser: first page, searches, archive explorer
    timeline.py      where one search's time goes in the browser: stamps of the page, websocket and map frame
    memory.py        the server's memory under uploads: test GeoTIFFs, sessions that drop them, RSS samples

Modules import each other relatively, so the package works as `loadtest` (a script in scripts/ runs)
and as `scripts.loadtest` (the tests).
"""

"""A real app server (started with the README's run command) and Debian's headless Chromium with every
non-loopback request refused: the pages must work with no internet."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.loadtest.browser import CHROMIUM, CHROMIUM_FLAGS
from scripts.loadtest.server import AppServer

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "e2e"
START_TIMEOUT_S = 180


def start_or_fail(server: AppServer, what: str) -> AppServer:
    """`server` started, or the test failed with why and where its log is."""
    try:
        server.start(timeout=START_TIMEOUT_S)
    except (RuntimeError, TimeoutError) as error:
        pytest.fail(f"{what} did not start within {START_TIMEOUT_S} s ({error}); see {server.log_path}")
    return server


@pytest.fixture(scope="session")
def app_url():
    """The URL of the app started with the README's run command (the load test's AppServer)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT.parent / "app-server.log"
    server = start_or_fail(AppServer(log_path=log), "the app")
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, app_url):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    blocked: list[str] = []

    def offline(route):
        host = route.request.url.split("/")[2] if "://" in route.request.url else ""
        if host.startswith(("127.0.0.1", "localhost")) or route.request.url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    page.blocked_requests = blocked
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


LATENCIES: list[str] = []


def pytest_terminal_summary(terminalreporter):
    """Print the measured submit-to-rendered latencies at the end of the run (and keep them in a file)."""
    if LATENCIES:
        terminalreporter.section("browser latency (submit -> results rendered)")
        for line in LATENCIES:
            terminalreporter.write_line(line)
        (OUTPUT / "latency.txt").write_text("\n".join(LATENCIES) + "\n")

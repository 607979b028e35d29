"""A simulated user in a headless Chromium context: the time from issuing a query to its results rendered
in the browser, what a user feels."""
from __future__ import annotations

import asyncio
import random
import time

from .browser import RUN_COUNTER, VIEWPORT, WAIT_RENDERED, RunWatcher, connection_state
from .workload import Outcome, choose_link, error_text, think

SHOWN_CARDS = "() => Array.from(document.querySelectorAll('.result-card')).map(c => c.dataset.query)"
SENTINEL_1_CHOSEN = ("() => Array.from(document.querySelectorAll('.st-key-pick_sensor input'))"
                     ".some(i => i.checked && i.closest('label').innerText.includes('Sentinel-1'))")


class BrowserUser:
    """One browser context (its own Streamlit session): opens shared links and clicks "Random example". A
    query is done when the server has finished its run (seen on the page's websocket) and the page shows
    the k result cards of that run's query, not running, with every image loaded."""

    def __init__(self, number: int, browser, url: str, pairs, rng: random.Random, timeout_s: float, clicks: int,
                 outcomes: list[Outcome], think_s: float = 0.0):
        self.number, self.browser, self.url, self.pairs, self.rng = number, browser, url, pairs, rng
        self.timeout_s, self.clicks, self.outcomes, self.think_s = timeout_s, clicks, outcomes, think_s
        self.k = 10
        self.runs: RunWatcher | None = None

    async def run(self, deadline: float, delay: float) -> None:
        """After `delay` seconds: links and clicks (at least one query) until the monotonic `deadline`."""
        await asyncio.sleep(delay)
        context = await self.browser.new_context(viewport=VIEWPORT)
        await context.add_init_script(RUN_COUNTER)
        page = await context.new_page()
        page.on("pageerror", lambda error: None)
        self.runs = RunWatcher(page)
        try:
            while True:
                if await self.link(page):
                    for number in range(self.clicks):
                        if time.monotonic() >= deadline or not await self.click(page, first=number == 0):
                            break
                if time.monotonic() >= deadline:
                    break
        finally:
            await context.close()

    async def measured(self, kind: str, query: str, action, name: str | None, page) -> bool:
        """Time `action` up to the rendered results; record the Outcome; False when it failed."""
        before = self.runs.finished
        started = time.perf_counter()
        try:
            await action()
            state = await self.rendered(page, before, name, started)
        except Exception as error:  # timeouts, lost pages, driver errors: all count
            message = error_text(error, lines=3, limit=400)
            if isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
                message += f" (page: {await connection_state(page)})"
            self.outcomes.append(Outcome(self.number, kind, query, None, message))
            return False
        elapsed = (time.perf_counter() - started) * 1000
        if state != "ok":
            self.outcomes.append(Outcome(self.number, kind, query, None, state))
            return False
        self.outcomes.append(Outcome(self.number, kind, query, elapsed))
        await think(self.rng, self.think_s)
        return True

    async def rendered(self, page, runs_before: int, name: str | None, started: float) -> str:
        """Once the server finished a run after `runs_before`: the page's WAIT_RENDERED state ("ok", an
        error) for the k cards of `name` (None: of the run's query); TimeoutError when never rendered."""
        cards = await self.runs.after(runs_before, self.timeout_s)
        if name is None and cards:
            name = cards[0]
        left = max(1.0, self.timeout_s - (time.perf_counter() - started))
        state = await page.evaluate(WAIT_RENDERED, [self.k, name, -1, left * 1000])
        if state == "timeout":
            shown = await page.evaluate(SHOWN_CARDS)
            raise TimeoutError(f"the server finished the run ({len(cards)} result cards of "
                               f"{sorted(set(cards))[:2]}) but its {self.k} results were not rendered within "
                               f"{self.timeout_s:.0f} s; the page shows {len(shown)} of {sorted(set(shown))[:2]}")
        return state

    async def link(self, page) -> bool:
        query, self.k, name, label = choose_link(self.rng, self.pairs)
        return await self.measured("link", label, lambda: page.goto(f"{self.url}/?{query}"), name, page)

    async def click(self, page, first: bool) -> bool:
        if first and not await self.choose_random_example(page):
            return False
        button = page.locator(".st-key-random_example button")
        return await self.measured("click", "random example",
                                   lambda: button.click(timeout=self.timeout_s * 1000), None, page)

    async def choose_random_example(self, page) -> bool:
        """Choose the "Random example" input and, for half the users, S1 images (reruns, not measured)."""
        steps = [(page.locator(".st-key-query_source button", has_text="Random example"),
                  "() => !!document.querySelector('.st-key-random_example button')")]
        if self.rng.random() < 0.5:  # (Sentinel-2 is the default: clicking it would not rerun)
            steps.append((page.locator(".st-key-pick_sensor label", has_text="Sentinel-1"), SENTINEL_1_CHOSEN))
        for locator, chosen in steps:
            before = self.runs.finished
            try:
                await locator.click(timeout=self.timeout_s * 1000)
                await self.runs.after(before, self.timeout_s)
                await page.wait_for_function(chosen, polling=100, timeout=self.timeout_s * 1000)
            except Exception as error:
                self.outcomes.append(Outcome(self.number, "click", "choose Random example", None, error_text(error)))
                return False
        return True

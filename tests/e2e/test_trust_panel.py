"""In a real browser: an offset product (processing baseline 04.00+, +1000) that declares nothing is read as
it is, and the page says loudly that the query is out of distribution; the same product declaring its
BOA_ADD_OFFSET is corrected and searched without a warning. Screenshots land in test-output/e2e/."""
from __future__ import annotations

import re

import pytest

from scripts.measure_inputs import FORMS, footprint_of
from tests.e2e.conftest import OUTPUT

pytestmark = pytest.mark.e2e
RESULTS = re.compile(r"\d+ most similar patches")
WARNING = re.compile(r"Out of distribution: every band.s darkest pixels")


@pytest.fixture(scope="module")
def demo_pair(demo_archive):
    row = demo_archive.table.iloc[3]
    return demo_archive.load_pair(row), footprint_of(row)


def drop(page, app_url, paths):
    page.goto(app_url)
    page.get_by_text("Upload a patch, click the map").wait_for(timeout=60_000)
    uploader = page.locator('.st-key-upload_files [data-testid="stFileUploaderDropzoneInput"]')  # the query's
    uploader.set_input_files([str(p) for p in paths])
    page.get_by_text(RESULTS).wait_for(timeout=60_000)


def test_an_undeclared_offset_product_is_flagged(page, app_url, demo_pair, tmp_path):
    drop(page, app_url, FORMS["s2-offset-undeclared"][2](*demo_pair, tmp_path))
    page.get_by_text(WARNING).first.wait_for(timeout=30_000)
    assert page.get_by_text(re.compile("an offset product")).count() >= 1
    page.screenshot(path=str(OUTPUT / "trust-offset-undeclared.png"), full_page=True)


def test_a_declared_offset_product_is_corrected_and_not_flagged(page, app_url, demo_pair, tmp_path):
    drop(page, app_url, FORMS["s2-offset-tag"][2](*demo_pair, tmp_path))
    page.get_by_text(re.compile("How this query compares with the archive")).wait_for(timeout=30_000)
    assert page.get_by_text(WARNING).count() == 0
    assert page.get_by_text(re.compile("applied the offset -1000")).count() >= 1
    page.screenshot(path=str(OUTPUT / "trust-offset-declared.png"), full_page=True)

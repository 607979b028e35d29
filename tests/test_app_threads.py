"""The app's torch threads for one-image queries (pages/ui/resources.py): CSMAE_TORCH_THREADS, default 1,
and a wrong value refused with its message before anything is loaded."""
from __future__ import annotations

import threading

import pytest
import torch
from streamlit.testing.v1 import AppTest

from csmae_core.errors import CsmaeError
from pages.ui.resources import load_backend, torch_threads
from tests.conftest import ROOT


def test_the_default_is_one_thread_and_the_variable_sets_it(monkeypatch):
    monkeypatch.delenv("CSMAE_TORCH_THREADS", raising=False)
    assert torch_threads() == 1
    monkeypatch.setenv("CSMAE_TORCH_THREADS", " 4 ")
    assert torch_threads() == 4


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", ""])
def test_a_wrong_value_is_refused_with_what_to_do(monkeypatch, value):
    monkeypatch.setenv("CSMAE_TORCH_THREADS", value)
    with pytest.raises(CsmaeError, match="CSMAE_TORCH_THREADS must be a whole number of threads, 1 or more"):
        torch_threads()


def threads_of_a_new_thread() -> int:
    """torch's intra-op threads as a new thread (a server's next script run) sees them."""
    seen = []
    worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    worker.start()
    worker.join()
    return seen[0]


def test_the_search_page_embeds_with_the_threads_set(monkeypatch):
    load_backend.clear()  # loaded by earlier tests with other settings
    monkeypatch.setenv("CSMAE_TORCH_THREADS", "1")
    torch.set_num_threads(2)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception and threads_of_a_new_thread() == 1  # every script run is a new thread
    load_backend.clear()
    monkeypatch.setenv("CSMAE_TORCH_THREADS", "many")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert any("CSMAE_TORCH_THREADS must be a whole number" in e.value for e in at.error)
    load_backend.clear()  # the next test loads it with the default again

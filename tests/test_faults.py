"""Faults with real processes: `kill -9` of a running scripts/build_index.py that is writing over an
existing bundle leaves the previous bundle intact (it still passes the manifest check and searches), and
the next build cleans up after the killed one. (kill -9 of scripts/train.py and the resume:
tests/test_training.py::test_kill_9_mid_training_then_rerun_continues; a corrupt bundle file:
tests/test_index_search.py::test_corrupt_bundle_file_is_detected.)"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import numpy as np

from csmae_core.retrieval.bundle import Bundle
from csmae_core.retrieval.search import Query, SearchEngine
from tests.conftest import ROOT

DEMO_BUNDLE = ROOT / "assets" / "bundles" / "demo"
MODEL = ROOT / "assets" / "models" / "demo.pt"


def build_command(out):
    return [sys.executable, str(ROOT / "scripts" / "build_index.py"), "--model", str(MODEL), "--out", str(out),
            "--accelerator", "cpu", "--devices", "1", "--batch-size", "4"]


def search_once(path) -> list[int]:
    engine = SearchEngine(Bundle(path))  # verifies every file against the manifest's sha256
    table = engine.bundle.table
    query = Query(engine.bundle.embeddings["s1"][3], "s1", table.at[3, "labels"],
                  (table.at[3, "lon"], table.at[3, "lat"]), 3)
    return [result.row for result in engine.search(query, ["s1", "s2"], 5).results]


def test_kill_9_of_a_running_index_build_leaves_the_previous_bundle(tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, target)
    manifest_before = (target / "manifest.json").read_text()
    rows_before = search_once(target)
    process = subprocess.Popen(build_command(target), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None and not list(tmp_path.glob(".bundle.partial-*")):
        time.sleep(0.01)
    # killed at once: on an idle machine the 60-pair build finishes within half a second of this point
    still_running = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert still_running and process.returncode == -signal.SIGKILL
    # the killed build leaves its work folder behind, never a half bundle at the target
    assert list(tmp_path.glob(".bundle.partial-*"))
    assert (target / "manifest.json").read_text() == manifest_before
    assert search_once(target) == rows_before
    # the next build removes the killed build's leftovers and replaces the bundle atomically
    assert subprocess.run(build_command(target), cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    assert not list(tmp_path.glob(".bundle.*"))
    assert Bundle(target).manifest["created"] and len(search_once(target)) == 5


def test_build_killed_between_the_two_renames_is_recovered(tmp_path):
    """The one moment a killed build can leave no bundle at the target: the old one already moved to
    `.NAME.old-PID`, the new one not yet moved in. Opening the bundle (or the next build) puts it back."""
    target = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, target)
    rows_before = search_once(target)
    target.rename(tmp_path / ".bundle.old-4242")           # the state a kill -9 between the renames leaves
    (tmp_path / ".bundle.partial-4242").mkdir()            # and the half-written new one
    assert search_once(target) == rows_before
    assert not (tmp_path / ".bundle.old-4242").exists()


def test_bundle_embeddings_are_memory_mapped_read_only():
    bundle = Bundle(DEMO_BUNDLE)
    vectors = bundle.embeddings["s2"]
    assert isinstance(vectors, np.memmap) and not vectors.flags.writeable

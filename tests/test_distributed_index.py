"""Index builds across processes and nodes (CPU, gloo): two processes of one node (Lightning's launcher)
and two single-process "nodes" on loopback give the rows, order and search results of a one-process
build. The demo model and archive are real; each build takes a few seconds per process."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from csmae_core import Bundle, SearchEngine
from csmae_core.retrieval.queries import archive_query
from tests.conftest import ROOT
from tests.distributed_launch import clean_env, run_nodes

MODEL = ROOT / "assets" / "models" / "demo.pt"
BUILD = [sys.executable, str(ROOT / "scripts" / "build_index.py"), "--model", str(MODEL), "--accelerator", "cpu",
         "--batch-size", "16"]


def build(out, *args, env=None, check=True) -> subprocess.CompletedProcess:
    run = subprocess.run([*BUILD, "--out", str(out), *args], env=env or clean_env(), capture_output=True, text=True,
                         timeout=300)
    if check:
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    return run


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "bundle"
    build(out, "--devices", "1")
    return Bundle(out)


def assert_same_bundle(bundle: Bundle, reference: Bundle) -> None:
    assert list(bundle.table["pair_id"]) == list(reference.table["pair_id"])
    for sensor in reference.sensors:
        # same rows in the same order; batches split differently across processes round differently
        np.testing.assert_allclose(bundle.embeddings[sensor], reference.embeddings[sensor], atol=1e-6)
    engines = SearchEngine(bundle), SearchEngine(reference)
    for row in range(0, len(reference.table), 7):
        for sensor in ("s1", "s2"):
            answers = [[r.id for r in engine.search(archive_query(b, row, sensor), ("s1", "s2"), 10).results]
                       for engine, b in zip(engines, (bundle, reference))]
            assert answers[0] == answers[1]


def test_two_processes_build_the_bundle_of_one(single, tmp_path):
    out = tmp_path / "bundle"
    build(out, "--devices", "2", "--strategy", "ddp")
    assert_same_bundle(Bundle(out), single)
    assert not list(tmp_path.glob(".bundle.partial-*")), "the work folder is left behind"


def test_two_nodes_on_loopback_build_the_bundle_of_one(single, tmp_path):
    out = tmp_path / "bundle"
    outputs = run_nodes([*BUILD, "--out", str(out), "--devices", "1", "--num-nodes", "2", "--strategy", "ddp"])
    assert "wrote bundle" in outputs[0] and "wrote bundle" not in outputs[1]  # node 0 writes, node 1 only embeds
    assert_same_bundle(Bundle(out), single)


RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


@pytest.mark.parametrize("variables, launching", [
    ({}, True), ({"NODE_RANK": "1"}, False), ({"LOCAL_RANK": "1"}, False), ({"NODE_RANK": "0", "LOCAL_RANK": "0"}, True),
    ({"RANK": "0", "NODE_RANK": "1"}, True), ({"RANK": "3"}, False), ({"SLURM_PROCID": "0"}, True),
    ({"SLURM_PROCID": "2"}, False), ({"GROUP_RANK": "1"}, False)])
def test_only_global_rank_zero_creates_and_cleans_work_folders(variables, launching, monkeypatch):
    """Decided from the launcher's environment before any process group exists: a second node's first process
    (NODE_RANK=1, LOCAL_RANK unset) is not rank 0."""
    from csmae_core.retrieval.embedding import is_launching_process

    for key in RANK_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    assert is_launching_process() is launching

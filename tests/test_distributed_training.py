"""Training across processes and nodes (CPU, gloo), real processes, real demo pairs:

* one step on 2 processes (Lightning's launcher) and on 2 loopback "nodes" equals the step of 1 process on the
  same global batch, for CSMAE (NT-Xent over every process's embeddings), CMID (in-batch InfoNCE negatives, the
  frequency loss's batch spectrum) and CMID with a ResNet (BatchNorm over the global batch) and a queue;
* kill -9 of rank 1, then of rank 0, of a 2-process `scripts/train.py` run ends the run, and a rerun with the
  same --out resumes from the last checkpoint;
* two loopback nodes train through `scripts/train.py` and write one checkpoint and one export.

The step comparisons use tests/distributed_step.py (one driver run per launch, every case in it).
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import csmae_core
from csmae_core.errors import InputError
from csmae_core.training.parallel import ddp_strategy
from tests.conftest import ROOT
from tests.distributed_launch import alive, children, clean_env, run_nodes, wait_until
from tests.distributed_step import CASES

DRIVER = [sys.executable, "-m", "tests.distributed_step"]


def run_driver(out, *args) -> None:
    done = subprocess.run([*DRIVER, str(out), *args], env=clean_env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


@pytest.fixture(scope="module")
def steps(tmp_path_factory) -> dict:
    """launch -> folder of the step files of every case."""
    root = tmp_path_factory.mktemp("steps")
    run_driver(root / "one", "--devices", "1")
    run_driver(root / "processes", "--devices", "2")
    run_nodes([*DRIVER, str(root / "nodes"), "--num-nodes", "2"], cwd=ROOT)
    return {name: root / name for name in ("one", "processes", "nodes")}


@pytest.mark.parametrize("launch", ["processes", "nodes"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_step_on_two_processes_equals_the_step_of_one_on_the_global_batch(steps, case, launch):
    one, two = (torch.load(steps[name] / f"{case}.pt", weights_only=True) for name in ("one", launch))
    assert (one["world_size"], two["world_size"]) == (1, 2)
    # every loss term is the global batch's (averaged over the processes: each holds its slice's mean)
    assert one["losses"].keys() == two["losses"].keys()
    for term, value in one["losses"].items():
        assert two["losses"][term] == pytest.approx(value, rel=1e-5, abs=1e-6), term
    assert_same_gradients(two["grads"], one["grads"], one["state"])
    assert_same_state(two["state"], one["state"])


def in_front_of_batchnorm(key: str, state: dict) -> bool:
    """A Linear bias right before a BatchNorm (or the teacher's copy of one): BatchNorm subtracts the mean, so its
    exact gradient is 0 and the computed one is rounding noise, which Adam's first step (lr * g / |g|) turns into
    +-lr either way."""
    prefix, _, leaf = key.replace("teacher_", "").rpartition(".")
    parent, _, index = prefix.rpartition(".")
    return leaf == "bias" and index.isdigit() and f"{parent}.{int(index) + 1}.running_mean" in state


def assert_same_gradients(grads: dict, reference: dict, state: dict) -> None:
    """The gradients DDP applied. float32 rounding differs with the reduction order: measured <= 1.3e-6 of a tensor's
    largest entry, 2.2e-4 for the ResNet's first convolution (BatchNorm's backward cancels most of its gradient);
    without the global batch they differ by 5 % to 260 %."""
    assert grads.keys() == reference.keys()
    for name, grad in reference.items():
        if not in_front_of_batchnorm(name, state):
            assert (grads[name] - grad).abs().max() <= 1e-3 * grad.abs().max().clamp_min(1e-12), name


def assert_same_state(state: dict, reference: dict, lr: float = 5e-4) -> None:
    """Everything after the step: student, teacher, BatchNorm statistics, centre (measured <= 1e-6 apart). Adam's
    first step moves a weight by ~lr whatever its gradient, so a wrong gradient shows as 1e-4 and more."""
    assert state.keys() == reference.keys()
    for key, value in reference.items():
        assert state[key].shape == value.shape, key
        if not value.numel():
            continue
        if key.startswith("model.queue_") and not key.startswith("model.queue_pointer"):
            assert_same_columns(state[key], value, int(reference[key.replace("queue_", "queue_pointer_")]))
            continue
        difference = (state[key].double() - value.double()).abs().max().item()
        assert difference <= (2 * lr if in_front_of_batchnorm(key, reference) else 1e-5), key


def assert_same_columns(queue: torch.Tensor, reference: torch.Tensor, filled: int) -> None:
    """The step's keys, in the order the processes gathered them (process 0's samples first): the same set
    of columns; the rest of the queue (its random start) untouched and equal."""
    assert filled > 0 and torch.equal(queue[:, filled:], reference[:, filled:])
    distances = torch.cdist(queue[:, :filled].T.double(), reference[:, :filled].T.double(),
                            compute_mode="donot_use_mm_for_euclid_dist")
    assert distances.min(dim=1).values.max() < 1e-5 and distances.min(dim=0).values.max() < 1e-5


def test_ddp_strategies_get_the_timeout_and_other_strategies_pass_through():
    strategy = ddp_strategy("ddp", 42)
    assert strategy._timeout.total_seconds() == 42 and strategy._start_method == "popen"
    assert ddp_strategy("ddp_spawn", 7)._start_method == "spawn"
    assert ddp_strategy("ddp_find_unused_parameters_true", 7)._ddp_kwargs == {"find_unused_parameters": True}
    assert ddp_strategy("auto") == "auto" and ddp_strategy("fsdp") == "fsdp"
    with pytest.raises(InputError, match="timeout_s must be a positive number of seconds, not 0"):
        ddp_strategy("ddp", 0)


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs (NCCL: one process per GPU)")
def test_on_two_gpus_in_bf16_a_step_is_the_step_of_one_gpu(tmp_path):
    """The same driver on GPUs in bf16 mixed precision (pytest -m gpu -s prints the numbers). bf16 keeps 8 bits of
    mantissa and the matmuls see other batch shapes, so the comparison is looser than float32's."""
    for name, devices in (("one", 1), ("two", 2)):
        run_driver(tmp_path / name, "--devices", str(devices), "--accelerator", "gpu", "--precision", "bf16-mixed")
    for case in CASES:
        one, two = (torch.load(tmp_path / name / f"{case}.pt", weights_only=True) for name in ("one", "two"))
        worst_loss = max(abs(two["losses"][k] - v) / max(1.0, abs(v)) for k, v in one["losses"].items())
        cosines = {k: torch.nn.functional.cosine_similarity(two["grads"][k].flatten().double(), g.flatten().double(),
                                                            dim=0).item()
                   for k, g in one["grads"].items() if g.abs().max() > 0 and not in_front_of_batchnorm(k, one["state"])}
        print(f"{case}: worst relative loss difference {worst_loss:.2e}, lowest gradient cosine "
              f"{min(cosines.values()):.5f} ({min(cosines, key=cosines.get)})")
        assert worst_loss < 2e-2 and min(cosines.values()) > 0.99


# ---------------------------------------------------------------- scripts/train.py with several processes
TINY = ["--config", str(ROOT / "configs/demo.yaml"), "--split", "train", "--checkpoint-every", "1",
        "--set", "model.size=tiny", "--set", "model.specific_depth=1", "--set", "model.shared_depth=1",
        "--set", "model.decoder_dim=32", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2",
        "--batch-size", "2", "--accelerator", "cpu"]
TRAIN = [sys.executable, str(ROOT / "scripts/train.py")]


def step_of(path) -> int:
    try:
        return torch.load(path, weights_only=True)["global_step"]
    except Exception:  # not there yet, or being written right now
        return -1


def start_two_processes(out, log, max_steps: int, *extra: str) -> tuple[subprocess.Popen, int]:
    """Rank 0 (our child) and rank 1 (the process Lightning's launcher starts from rank 0)."""
    rank0 = subprocess.Popen([*TRAIN, *TINY, "--out", str(out), "--max-steps", str(max_steps), "--devices", "2",
                              "--strategy", "ddp", *extra], env=clean_env(), cwd=ROOT, stdout=log,
                             stderr=subprocess.STDOUT)
    assert wait_until(lambda: children(rank0.pid), 60), "Lightning's launcher did not start rank 1"
    return rank0, children(rank0.pid)[0]


def last_run_steps(out) -> list[int]:
    """The steps the latest run trained (its CSV log; killed runs may not have flushed theirs)."""
    latest = max((out / "logs").glob("version_*"), key=lambda p: int(p.name.split("_")[1]))
    with open(latest / "metrics.csv") as handle:
        return sorted({int(row["step"]) for row in csv.DictReader(handle) if row.get("train/loss")})


def test_kill_9_of_either_rank_ends_the_run_and_a_rerun_resumes(tmp_path):
    out, last = tmp_path / "run", tmp_path / "run" / "checkpoints" / "last.ckpt"
    pids = []
    try:
        with open(tmp_path / "first.log", "w") as log:
            rank0, rank1 = start_two_processes(out, log, 400)
            pids += [rank0.pid, rank1]
            assert wait_until(lambda: step_of(last) >= 2, 180), (tmp_path / "first.log").read_text()[-3000:]
            os.kill(rank1, signal.SIGKILL)  # not rank 0: Lightning's launcher notices, gloo's connection breaks
            assert rank0.wait(timeout=60) != 0
        first = step_of(last)
        with open(tmp_path / "second.log", "w") as log:
            rank0, rank1 = start_two_processes(out, log, 400)
            pids += [rank0.pid, rank1]
            assert wait_until(lambda: step_of(last) >= first + 2, 180), (tmp_path / "second.log").read_text()[-3000:]
            rank0.kill()  # kill -9 of rank 0: rank 1 loses its peer and must not wait forever
            rank0.wait()
            assert wait_until(lambda: not alive(rank1), 60), "rank 1 outlived rank 0 by a minute"
        second = step_of(last)
        done = subprocess.run([*TRAIN, *TINY, "--out", str(out), "--max-steps", str(second + 1), "--devices", "2",
                               "--strategy", "ddp"], env=clean_env(), cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert first >= 2 and second >= first + 2 and step_of(last) == second + 1
    # each rerun went on from the last checkpoint, not from step 0: the last one trained one step
    assert "resuming from" in (tmp_path / "second.log").read_text() and "resuming from" in done.stderr
    assert last_run_steps(out) == [second]


@pytest.mark.slow
def test_a_hung_rank_ends_the_run_after_the_timeout(tmp_path):
    """A peer that stops answering without closing its connections (SIGSTOP: a frozen node, a partition) is not
    noticed by the launcher or the sockets; --timeout bounds the wait (torch's default would be 30 minutes)."""
    last, log_path = tmp_path / "run" / "checkpoints" / "last.ckpt", tmp_path / "log"
    with open(log_path, "w") as log:
        rank0, rank1 = start_two_processes(tmp_path / "run", log, 400, "--timeout", "20")
        try:
            assert wait_until(lambda: step_of(last) >= 1, 180), log_path.read_text()[-3000:]
            os.kill(rank1, signal.SIGSTOP)
            stopped = time.monotonic()
            assert rank0.wait(timeout=120) != 0
            waited = time.monotonic() - stopped
        finally:
            for pid in (rank0.pid, rank1):
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
    assert 10 <= waited <= 60 and "Timed out" in log_path.read_text()


def test_two_nodes_on_loopback_train_and_write_one_checkpoint_and_one_export(tmp_path):
    out, export = tmp_path / "run", tmp_path / "model.pt"
    outputs = run_nodes([*TRAIN, *TINY, "--out", str(out), "--max-steps", "2", "--devices", "1", "--num-nodes", "2",
                         "--strategy", "ddp", "--export", str(export)], cwd=ROOT)
    assert "exported" in outputs[0] and "exported" not in outputs[1]  # only global rank 0 exports
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["last.ckpt"]
    assert step_of(out / "checkpoints/last.ckpt") == 2
    encoder = csmae_core.load_model(export, device="cpu")
    assert encoder.card["steps"] == 2 and encoder.card["data"]["pairs"] == 24
    assert last_run_steps(out) == [0, 1] and len(list((out / "logs").iterdir())) == 1  # one log, by rank 0

"""Training through scripts/train.py on the real demo archive with a tiny model; resume; guards."""
import signal
import subprocess
import sys
import time

import pytest
import torch

import csmae_core
from csmae_core.errors import InputError, NonFiniteLossError
from csmae_core.training.config import TrainConfig
from csmae_core.training.csmae import CSMAELightning
from csmae_core.training.schedules import warmup_cosine
from scripts import convert_checkpoint, train
from tests.conftest import ROOT

TINY = ["--set", "model.size=tiny", "--set", "model.specific_depth=1", "--set", "model.shared_depth=1",
        "--set", "model.decoder_dim=32", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2",
        "--batch-size", "4", "--accelerator", "cpu", "--devices", "1"]


@pytest.mark.parametrize("variant", ["cecd", "cesd", "secd", "sesd"])
def test_two_training_steps_per_variant_and_export(tmp_path, variant):
    out = tmp_path / "run"
    code = train.main(["--config", str(ROOT / f"configs/csmae_{variant}.yaml"), "--out", str(out), "--max-steps", "2",
                       "--precision", "32-true", "--workers", "0", "--export", str(tmp_path / "m.pt"), *TINY])
    assert code == 0
    assert (out / "logs").is_dir() and (tmp_path / "m.pt").is_file()
    encoder = csmae_core.load_model(tmp_path / "m.pt", device="cpu")
    assert encoder.card["steps"] == 2 and encoder.card["data"]["labels_used"] is False
    assert encoder.card["data"]["split"] == "train" and encoder.card["data"]["pairs"] == 24
    assert encoder.config.variant == variant


def test_rerun_resumes_from_the_last_checkpoint(tmp_path):
    args = ["--config", str(ROOT / "configs/demo.yaml"), "--out", str(tmp_path), "--checkpoint-every", "1",
            "--split", "train", *TINY]
    assert train.main([*args, "--max-steps", "2"]) == 0
    first = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)
    assert first["global_step"] == 2
    assert train.main([*args, "--max-steps", "3"]) == 0
    assert torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)["global_step"] == 3
    # the Lightning checkpoint of our script loads as a model too
    assert csmae_core.load_model(tmp_path / "checkpoints/last.ckpt", device="cpu").config.size == "tiny"


def test_kill_9_mid_training_then_rerun_continues(tmp_path):
    command = [sys.executable, str(ROOT / "scripts/train.py"), "--config", str(ROOT / "configs/demo.yaml"),
               "--out", str(tmp_path), "--checkpoint-every", "1", "--max-steps", "400", "--split", "train", *TINY]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    last = tmp_path / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline and not (last.exists() and _step(last) >= 3):
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = _step(last)
    assert 3 <= killed_at < 400
    assert train.main(["--config", str(ROOT / "configs/demo.yaml"), "--out", str(tmp_path), "--checkpoint-every",
                       "1", "--max-steps", str(killed_at + 2), "--split", "train", *TINY]) == 0
    assert _step(last) == killed_at + 2


def _step(path):
    try:
        return torch.load(path, weights_only=True)["global_step"]
    except Exception:  # being written right now
        return -1


def test_non_finite_loss_stops_with_the_step_named():
    config = TrainConfig.from_yaml(ROOT / "configs/demo.yaml", ["model.size=tiny", "model.specific_depth=1",
                                                                   "model.shared_depth=1"]).to_dict()
    module = CSMAELightning(config)
    module.model.forward = lambda *a: {"loss": torch.tensor(float("nan")), "mim": torch.tensor(1.0)}
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step 0 .*'loss': nan"):
        module.training_step((torch.zeros(1, 2, 120, 120), torch.zeros(1, 10, 120, 120)), 0)


def test_schedule_warms_up_then_decays_to_the_floor():
    assert warmup_cosine(0, 10, 100, 0.0) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 100, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(55, 10, 100, 0.0) == pytest.approx(0.5)
    assert warmup_cosine(100, 10, 100, 0.01) == pytest.approx(0.01)


def test_published_configs_load_with_the_published_hyper_parameters():
    for variant in ("cecd", "cesd", "secd", "sesd"):
        config = TrainConfig.from_yaml(ROOT / f"configs/csmae_{variant}.yaml")
        assert config.optim.epochs == 150 and config.optim.warmup_epochs == 10 and config.optim.lr == 1e-4
        assert config.model.embed_dim == 768 and config.model.num_heads == 12
    with pytest.raises(InputError, match="unknown model setting"):
        TrainConfig.from_yaml(ROOT / "configs/demo.yaml", ["model.colour=red"])
    with pytest.raises(InputError, match="section.key=value"):
        TrainConfig.from_yaml(ROOT / "configs/demo.yaml", ["nonsense"])


def test_bad_split_is_explained(tmp_path, capsys):
    code = train.main(["--config", str(ROOT / "configs/demo.yaml"), "--out", str(tmp_path), "--split", "holdout", *TINY])
    assert code == 2 and "no pairs of split 'holdout'" in capsys.readouterr().err


def test_convert_script_round_trip(tmp_path, capsys):
    from tests.test_checkpoint import randomised_reference, write_published_dir

    folder = write_published_dir(tmp_path / "sesd", randomised_reference())
    assert convert_checkpoint.main([str(folder), str(tmp_path / "out.pt")]) == 0
    assert "transpose_input=True" in capsys.readouterr().out
    converted = csmae_core.load_model(tmp_path / "out.pt", device="cpu")
    original = csmae_core.load_model(folder, device="cpu")
    assert converted.content_hash == original.content_hash and converted.transpose_input
    assert convert_checkpoint.main([str(tmp_path / "nothing"), str(tmp_path / "x.pt")]) == 2
    assert not (tmp_path / "x.pt").exists()

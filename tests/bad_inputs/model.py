"""Model cases: checkpoints and published checkpoint folders that `load_model` must refuse (pickles
carrying code, truncated or foreign files, weights that do not fit or were altered)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.bad_inputs.builder import ROOT, RunsCode
from tests.bad_inputs.spec import Category

CASES = Category("model")

_LOAD = "load_model(path)"


def _load(path: Path):
    def run():
        import csmae_core

        return csmae_core.load_model(path, "cpu")
    return run


def _model_case(path: Path, marker: Path | None = None) -> dict:
    return {"files": [path], "run": _load(path), "marker": marker}


@CASES.case("ckpt-pickle-os-system", "checkpoint that is a pickle calling os.system('touch marker')", _LOAD,
            "CheckpointError", "has no `state_dict`", "pass a .pt exported by scripts/train.py", hostile=True)
def build_ckpt_pickle_os_system(b, d):
    import torch

    path = d / "evil.pt"
    torch.save(RunsCode(os.system, b.touch_command("ckpt-pickle-os-system")), path)
    return _model_case(path, b.marker("ckpt-pickle-os-system"))


@CASES.case("ckpt-state-dict-is-code", "Lightning-style checkpoint whose state_dict pickles os.system", _LOAD,
            "CheckpointError", "state_dict is not a mapping of weights", hostile=True)
def build_ckpt_state_dict_is_code(b, d):
    import torch

    path = d / "evil_state.ckpt"
    torch.save({"state_dict": RunsCode(os.system, b.touch_command("ckpt-state-dict-is-code")), "epoch": 1}, path)
    return _model_case(path, b.marker("ckpt-state-dict-is-code"))


@CASES.case("ckpt-truncated", "real project checkpoint cut in half", _LOAD, "CheckpointError",
            "is not a readable PyTorch checkpoint", "copy or download it again")
def build_ckpt_truncated(b, d):
    path = b.tiny_checkpoint(d / "cut.pt")
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return _model_case(path)


@CASES.case("ckpt-zero-bytes", "empty file named model.pt", _LOAD, "CheckpointError",
            "is not a readable PyTorch checkpoint")
def build_ckpt_zero_bytes(b, d):
    path = d / "model.pt"
    path.write_bytes(b"")
    return _model_case(path)


@CASES.case("ckpt-text", "YAML config saved as model.pt", _LOAD, "CheckpointError",
            "is not a readable PyTorch checkpoint")
def build_ckpt_text(b, d):
    path = d / "model.pt"
    shutil.copyfile(ROOT / "configs" / "demo.yaml", path)
    return _model_case(path)


def _save_payload(path: Path, payload: dict) -> Path:
    import torch

    torch.save(payload, path)
    return path


@CASES.case("ckpt-shape-mismatch", "project checkpoint whose pos_embed was cut to 50 tokens", _LOAD,
            "CheckpointError", "does not fit the model it describes", "shape mismatches: pos_embed")
def build_ckpt_shape_mismatch(b, d):
    payload = b.tiny_payload()
    payload["state_dict"]["backbone.pos_embed"] = payload["state_dict"]["backbone.pos_embed"][:, :50]
    payload.pop("encoder_hash")
    return _model_case(_save_payload(d / "shapes.pt", payload))


@CASES.case("ckpt-missing-keys", "project checkpoint without its last encoder block", _LOAD, "CheckpointError",
            "does not fit the model it describes", "missing keys: blocks.0.")
def build_ckpt_missing_keys(b, d):
    payload = b.tiny_payload()
    payload["state_dict"] = {k: v for k, v in payload["state_dict"].items() if not k.startswith("backbone.blocks.0.")}
    payload.pop("encoder_hash")
    return _model_case(_save_payload(d / "keys.pt", payload))


@CASES.case("ckpt-altered-weights", "project checkpoint with one weight changed after export", _LOAD,
            "CheckpointError", "do not match their recorded hash", "corrupt or was altered")
def build_ckpt_altered_weights(b, d):
    payload = b.tiny_payload()
    weights = payload["state_dict"]
    cls_token = next(name for name in weights if "cls_token" in name)  # the S1 one, whatever the key layout
    weights[cls_token] = weights[cls_token] + 1
    return _model_case(_save_payload(d / "altered.pt", payload))


@CASES.case("ckpt-format-version", "project checkpoint claiming format version 99", _LOAD, "CheckpointError",
            "is format version 99; this tool reads version 1")
def build_ckpt_format_version(b, d):
    payload = b.tiny_payload()
    payload["format_version"] = 99
    return _model_case(_save_payload(d / "future.pt", payload))


@CASES.case("ckpt-missing-field", "project checkpoint without its band table", _LOAD, "CheckpointError",
            "lacks", "bands", "export it again")
def build_ckpt_missing_field(b, d):
    payload = b.tiny_payload()
    del payload["bands"]
    return _model_case(_save_payload(d / "no_bands.pt", payload))


@CASES.case("ckpt-wrong-variant", "project checkpoint whose config names variant 'xyz'", _LOAD, "InputError",
            "variant 'xyz' is not valid", "choose one of cecd, cesd, secd, sesd")
def build_ckpt_wrong_variant(b, d):
    payload = b.tiny_payload()
    payload["config"]["variant"] = "xyz"
    return _model_case(_save_payload(d / "xyz.pt", payload))


@CASES.case("ckpt-dir-python-yaml",
            "published checkpoint folder whose cfg.yaml holds !!python/object/apply:os.system",
            "load_model(folder)", "CheckpointError", "is not valid YAML", hostile=True)
def build_ckpt_dir_python_yaml(b, d):
    import torch

    folder = d / "published"
    folder.mkdir()
    torch.save({"state_dict": {}}, folder / "weights.ckpt")
    (folder / "cfg.yaml").write_text(
        f"kwargs: !!python/object/apply:os.system [{b.touch_command('ckpt-dir-python-yaml')!r}]\n")
    return _model_case(folder, b.marker("ckpt-dir-python-yaml"))


@CASES.case("ckpt-dir-without-weights", "published checkpoint folder with cfg.yaml but no weights.ckpt",
            "load_model(folder)", "DataNotFoundError", "has no weights.ckpt", "holds cfg.yaml and weights.ckpt")
def build_ckpt_dir_without_weights(b, d):
    folder = d / "published"
    folder.mkdir()
    (folder / "cfg.yaml").write_text("kwargs: {patch_size: 15}\n")
    return _model_case(folder)

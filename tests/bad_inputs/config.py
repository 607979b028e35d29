"""Config cases: training configs (variants of configs/demo.yaml) that `TrainConfig.from_yaml` must
refuse."""
from __future__ import annotations

from pathlib import Path

from tests.bad_inputs.builder import ROOT
from tests.bad_inputs.spec import Category

CASES = Category("config")

_CONFIG = "TrainConfig.from_yaml(path)"


def _config(path: Path):
    def run():
        from csmae_core.training.config import TrainConfig

        return TrainConfig.from_yaml(path)
    return run


def _yaml_case(d: Path, text: str, marker: Path | None = None) -> dict:
    path = d / "config.yaml"
    path.write_text(text)
    return {"files": [path], "run": _config(path), "marker": marker}


def _demo_yaml(**replace: str) -> str:
    text = (ROOT / "configs" / "demo.yaml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@CASES.case("config-wrong-variant", "configs/demo.yaml with model.variant: xyz", _CONFIG, "InputError",
            "variant 'xyz' is not valid", "choose one of cecd, cesd, secd, sesd")
def build_config_wrong_variant(b, d):
    return _yaml_case(d, _demo_yaml(**{"variant: secd": "variant: xyz"}))


@CASES.case("config-unknown-section", "configs/demo.yaml plus a 'trainer:' section", _CONFIG, "InputError",
            "unknown config section(s) ['trainer']", "use ")
def build_config_unknown_section(b, d):
    return _yaml_case(d, _demo_yaml() + "trainer:\n  max_epochs: 3\n")


@CASES.case("config-not-yaml", "configs/demo.yaml with an unclosed bracket", _CONFIG, "InputError",
            "cannot read config", "expected ',' or ']'")
def build_config_not_yaml(b, d):
    return _yaml_case(d, _demo_yaml(**{"betas: [0.9, 0.95]": "betas: [0.9, 0.95"}))


@CASES.case("config-python-tag", "YAML with !!python/object/apply:os.system ['touch marker']", _CONFIG,
            "InputError", "cannot read config", "could not determine a constructor", hostile=True)
def build_config_python_tag(b, d):
    text = f"model: !!python/object/apply:os.system [{b.touch_command('config-python-tag')!r}]\n"
    return _yaml_case(d, text, b.marker("config-python-tag"))


@CASES.case("config-not-a-mapping", "YAML that is a plain sentence", _CONFIG, "InputError",
            "must be a mapping of sections", "model, optim, data")
def build_config_not_a_mapping(b, d):
    return _yaml_case(d, "train the model please\n")


@CASES.case("config-wrong-type", "configs/demo.yaml with model.patch_size: fifteen", _CONFIG, "InputError",
            "model setting patch_size must be an integer, not 'fifteen'", "fix the config")
def build_config_wrong_type(b, d):
    return _yaml_case(d, _demo_yaml(**{"patch_size: 15": "patch_size: fifteen"}))


@CASES.case("config-missing", "config file that does not exist", _CONFIG, "InputError",
            "cannot read config", "No such file")
def build_config_missing(b, d):
    return {"run": _config(d / "no_such_config.yaml")}

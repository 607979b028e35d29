import json
import subprocess
import sys

import pytest

from csmae_core.cli import main
from tests.conftest import DATA, DEMO, ROOT, V1_S2


def run_cli(capsys, *args):
    code = main(["inspect", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_v1_folder(capsys):
    code, out, err = run_cli(capsys, V1_S2)
    assert code == 0 and err == ""
    summary = json.loads(out)
    assert summary["sensor"] == "s2" and summary["bands"]["B8A"]["shape"] == [60, 60]
    assert summary["bands"]["B02"]["dtype"] == "uint16"
    assert summary["footprint"]["epsg"] == 32633 and len(summary["footprint"]["wgs84_polygon"]) == 5
    assert summary["labels"][0] == "Arable land"


def test_inspect_lmdbs_and_demo(capsys):
    code, out, _ = run_cli(capsys, DATA / "encoder_lmdb")
    assert code == 0 and json.loads(out)["pair_id"] == "S2B_MSIL2A_20170906T101019_82_41"
    code, out, _ = run_cli(capsys, DATA / "rico-hdl" / "BigEarthNet_LMDB")
    assert code == 0 and json.loads(out)["sensor"] == "s1"
    code, out, _ = run_cli(capsys, DEMO, "--key", "S2A_MSIL2A_20170613T101031_87_48")
    demo = json.loads(out)
    assert code == 0 and demo["s2"]["meta"]["country"] == "Austria"


@pytest.mark.parametrize("args, message", [
    (["/no/such/file.tif"], "no such file"),
    ([DATA / "rico-hdl" / "BigEarthNet_LMDB", "--key", "nope"], "no entry 'nope'"),
])
def test_inspect_bad_input_exits_2_with_message(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_module_entry_point_never_shows_a_traceback(tmp_path):
    bogus = tmp_path / "notes.tif"
    bogus.write_text("this is not a raster")
    result = subprocess.run([sys.executable, "-m", "csmae_core", "inspect", str(bogus)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error:")
    assert "Traceback" not in result.stderr


def test_bad_window_argument_is_explained(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", str(V1_S2), "--window", "a,b"])
    assert exit_info.value.code == 2
    assert "COL,ROW" in capsys.readouterr().err

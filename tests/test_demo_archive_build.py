"""The demo archive's build script: clear errors always; a byte-identical rebuild when the wheels can be
downloaded (slow: needs the package registry)."""
import hashlib
import json
import os
import subprocess
import sys

import pytest

from scripts import build_demo_archive
from tests.conftest import DEMO


def test_missing_wheels_are_explained(tmp_path, capsys):
    assert build_demo_archive.main(["--wheels-dir", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no bigearthnet-common==2.8.0 wheel" in err and "pip download --no-deps" in err
    assert not (tmp_path / "out").exists()


def test_provenance_lists_the_committed_files():
    provenance = json.loads((DEMO / "PROVENANCE.json").read_text())
    assert provenance["pairs"] == 60 and len(provenance["countries"]) == 7 and len(provenance["tiles"]) == 20
    for name, digest in provenance["files"].items():
        assert hashlib.sha256((DEMO / name).read_bytes()).hexdigest() == digest


@pytest.mark.slow
def test_rebuild_is_byte_identical(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels),
                    "configilm==0.7.1", "bigearthnet-common==2.8.0"], check=True)
    provenance = json.loads((DEMO / "PROVENANCE.json").read_text())
    extra = []
    if provenance["reben_metadata"]:
        if not os.environ.get("REBEN_METADATA"):
            pytest.skip("the committed archive was enriched with reBEN metadata: set REBEN_METADATA=PATH")
        extra = ["--reben-metadata", os.environ["REBEN_METADATA"]]
    assert build_demo_archive.main(["--wheels-dir", str(wheels), "--out", str(tmp_path / "demo"), *extra]) == 0
    for name, digest in provenance["files"].items():
        assert hashlib.sha256((tmp_path / "demo" / name).read_bytes()).hexdigest() == digest

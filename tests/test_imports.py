"""The layering of STYLE.md: UI -> core, scripts -> core, lower core layers never import higher ones."""
import ast
from pathlib import Path

from tests.conftest import ROOT

UI_PACKAGES = {"streamlit", "folium", "streamlit_folium", "pages", "scripts", "app"}
LOWER = {"bands", "labels", "geo", "errors", "record", "preprocess", "preview", "io"}
HIGHER = {"model", "checkpoint", "training", "index", "search", "metrics", "evaluation", "cmid"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_ui_or_scripts():
    for path in (ROOT / "csmae_core").rglob("*.py"):
        bad = {m for m in imported_modules(path) if m.split(".")[0] in UI_PACKAGES}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_lower_layers_never_import_higher_ones():
    for path in (ROOT / "csmae_core").rglob("*.py"):
        layer = path.relative_to(ROOT / "csmae_core").parts[0].removesuffix(".py")
        if layer not in LOWER:
            continue
        bad = {m for m in imported_modules(path)
               if m.startswith("csmae_core.") and m.split(".")[1] in HIGHER}
        assert not bad, f"{path.relative_to(ROOT)} (a lower layer) imports {bad}"


SHARED = "/".join(["..", "shared"])  # spelled so this file does not match itself


def test_no_shared_folder_paths_in_code():
    for folder in ("csmae_core", "scripts", "pages", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            assert SHARED not in path.read_text(), f"{path} refers to {SHARED}"

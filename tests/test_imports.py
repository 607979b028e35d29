"""The layering of STYLE.md, checked on the parsed imports (lazy imports inside functions count too):
UI -> core and scripts -> core, never back; lower core layers never import higher ones; the encoder
families never import each other; nothing imports in a circle; pages and scripts use public names."""
import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

UI_PACKAGES = {"streamlit", "folium", "streamlit_folium", "branca", "pages", "scripts", "app"}
# csmae_core's top-level modules and folders, lowest layer first; a module may import its own layer or lower.
# Every entry of csmae_core must be listed here (a new module has to be placed in a layer).
LAYERS = (
    {"errors", "bands", "labels", "safe_pickle"},
    {"geo", "record", "preview", "preprocess", "catalogue"},
    {"io"},
    {"models"},
    {"training", "evaluation"},  # evaluation's metrics are pure NumPy: search reports them per query
    {"retrieval"},
    {"cli", "__init__", "__main__"},
)
LAYER_OF = {name: level for level, names in enumerate(LAYERS) for name in names}
# Folders of one layer that must not import each other.
SIBLINGS = (("training", "evaluation"), ("models.csmae", "models.cmid"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


ALL_FILES = python_files("csmae_core", "pages", "scripts") + [ROOT / "app.py"]
KNOWN = {module_name(p) for p in ALL_FILES}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import statement, resolved to a module of the project where
    `from package import submodule` names one."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [alias.name for alias in node.names]
            submodules = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in KNOWN]
            found += [(m, []) for m in submodules] or [(node.module, names)]
    return found


def project_edges(path: Path) -> set[str]:
    return {m for m, _ in imports(path) if m in KNOWN}


def core_part(module: str) -> str:
    """`csmae_core.models.cmid.model` -> `models`; `csmae_core` -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_core_module_has_a_layer_and_every_layer_entry_exists():
    entries = {p.stem if p.is_file() else p.name for p in (ROOT / "csmae_core").iterdir()
               if (p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").is_file())}
    assert entries - set(LAYER_OF) == set(), "place these csmae_core modules in a layer of LAYERS"
    assert set(LAYER_OF) - entries == set(), "LAYERS lists modules that do not exist"


def test_core_never_imports_ui_or_scripts():
    for path in python_files("csmae_core"):
        bad = {m for m, _ in imports(path) if m.split(".")[0] in UI_PACKAGES}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_lower_layers_never_import_higher_ones():
    for path in python_files("csmae_core"):
        layer = LAYER_OF[core_part(module_name(path))]
        bad = {m for m in project_edges(path) if m.startswith("csmae_core") and LAYER_OF[core_part(m)] > layer}
        assert not bad, f"{path.relative_to(ROOT)} (layer {layer}) imports higher layers: {bad}"


@pytest.mark.parametrize("first, second", SIBLINGS)
def test_siblings_never_import_each_other(first, second):
    for one, other in ((first, second), (second, first)):
        for path in python_files(f"csmae_core/{one.replace('.', '/')}"):
            bad = {m for m in project_edges(path) if m.startswith(f"csmae_core.{other}")}
            assert not bad, f"{path.relative_to(ROOT)} imports its sibling {other}: {bad}"


def test_nothing_imports_in_a_circle():
    graph = {module_name(p): project_edges(p) - {module_name(p)} for p in ALL_FILES}
    # A module imports its package's __init__ implicitly; the public API (csmae_core/__init__) loads lazily
    # and is not an edge. Tarjan's strongly connected components: any with two or more modules is a circle.
    index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == [], f"import circles: {circles}"


def test_pages_and_scripts_use_public_names_only():
    for path in python_files("pages", "scripts") + [ROOT / "app.py"]:
        private = [f"{m}.{n}" for m, names in imports(path) for n in names
                   if m.split(".")[0] in ("csmae_core", "pages") and n.startswith("_")]
        private += [m for m, _ in imports(path) if any(part.startswith("_") for part in m.split(".")[1:])]
        assert not private, f"{path.relative_to(ROOT)} imports private names {private}"


def test_scripts_never_edit_the_import_path_or_import_each_other():
    scripts = {p.stem for p in (ROOT / "scripts").glob("*.py")}
    for path in (ROOT / "scripts").glob("*.py"):
        assert "sys.path" not in path.read_text(), f"{path.name} edits sys.path (the project is installed)"
        others = {m for m, _ in imports(path) if m.split(".")[0] in scripts or m.removeprefix("scripts.") in scripts}
        assert not others, f"{path.name} imports other scripts {others}: move what they share into a library"


def test_the_public_api_resolves_and_never_shadows_a_submodule():
    import importlib

    import csmae_core

    submodules = {p.stem for p in (ROOT / "csmae_core").iterdir()}
    for name in csmae_core.__all__:
        assert getattr(csmae_core, name) is not None
        assert name not in submodules, f"csmae_core.{name} is both a public name and a submodule"
    assert importlib.import_module("csmae_core.preview").preview is not None


SHARED = "/".join(["..", "shared"])  # spelled so this file does not match itself


def test_no_shared_folder_paths_in_code():
    for folder in ("csmae_core", "scripts", "pages", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            assert SHARED not in path.read_text(), f"{path} refers to {SHARED}"

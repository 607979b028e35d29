"""The bad-input corpus (tests/bad_inputs/) at the library level, through the CLI and in the app.

Every case must raise its csmae_core error (never a raw ValueError/KeyError/RuntimeError/MemoryError)
with a message naming what was wrong and what to do; hostile inputs must run nothing (their marker
files never appear, no process is started); and nothing may be written outside the test's temporary
folder. Writes and process starts are watched with a Python audit hook while a case runs; library
temporary folders are redirected into the test's folder and must be gone afterwards.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from csmae_core.errors import CsmaeError
from tests import bad_inputs
from tests.conftest import ROOT

CASE_IDS = bad_inputs.case_ids()
CLI_IN_SUBPROCESS = ("tif-text", "tif-truncated", "zip-path-traversal", "lmdb-pickle-os-system", "lmdb-empty",
                     "folder-huge-band")

# files a case may read but never change; the repo's and /tmp's top-level entries must not grow
WATCHED_INPUTS = (ROOT / "tests" / "data", ROOT / "assets", ROOT / "configs")


# ------------------------------------------------------------------------- watching what runs


_SPAWN_EVENTS = {"os.system", "subprocess.Popen", "os.posix_spawn", "os.exec", "os.spawn", "os.fork", "os.forkpty",
                 "pty.spawn"}
# event -> (index of a path argument, index of its dir_fd argument or None), per the audit events table
_PATH_EVENTS = {"os.mkdir": [(0, 2)], "os.remove": [(0, 1)], "os.rmdir": [(0, 1)], "os.truncate": [(0, None)],
                "os.rename": [(0, 2), (1, 3)], "os.replace": [(0, 2), (1, 3)], "os.symlink": [(1, 2)],
                "os.link": [(1, 3)], "os.chmod": [(0, 2)], "os.chown": [(0, 3)], "os.utime": [(0, 3)],
                "shutil.rmtree": [(0, 1)], "shutil.copyfile": [(1, None)], "shutil.move": [(1, None)]}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_RECORDERS: list[list] = []


def _resolve(path, dir_fd) -> str | None:
    if not isinstance(path, (str, bytes, os.PathLike)):
        return None  # a file descriptor: opened (and checked) earlier
    path = os.fsdecode(path)
    if not os.path.isabs(path) and isinstance(dir_fd, int):  # e.g. shutil.rmtree's fd-relative unlinks
        try:
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        except OSError:
            path = os.path.join(f"<fd {dir_fd}>", path)
    return os.path.abspath(path)


def _audit(event: str, args: tuple) -> None:
    if not _RECORDERS:
        return
    record = _RECORDERS[-1]
    if event in _SPAWN_EVENTS:
        record.append(("spawn", event, repr(args)[:200]))
    elif event == "open":
        path, mode, flags = (tuple(args) + (None, None))[:3]
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
        if writes and (resolved := _resolve(path, None)):
            record.append(("write", resolved))
    elif event in _PATH_EVENTS:
        for path_index, fd_index in _PATH_EVENTS[event]:
            dir_fd = args[fd_index] if fd_index is not None and fd_index < len(args) else None
            if path_index < len(args) and (resolved := _resolve(args[path_index], dir_fd)):
                record.append(("write", resolved))


sys.addaudithook(_audit)  # permanent for the process; inert unless a test is recording


@contextlib.contextmanager
def watching(root: Path):
    """Record process starts and file writes; library temp folders go to root/tmp (must be emptied)."""
    private = root / "tmp"
    private.mkdir(exist_ok=True)
    events: list = []
    previous = tempfile.tempdir
    tempfile.tempdir = str(private)
    _RECORDERS.append(events)
    try:
        yield events
    finally:
        _RECORDERS.remove(events)
        tempfile.tempdir = previous
    spawned = [e for e in events if e[0] == "spawn"]
    assert not spawned, f"processes were started: {spawned}"
    allowed = (str(root.resolve()) + os.sep,)
    outside = sorted({path for kind, path in (e[:2] for e in events) if kind == "write"
                      and not os.path.realpath(path).startswith(allowed) and "__pycache__" not in path})
    assert not outside, f"written outside the test's folder: {outside}"
    left = sorted(p.name for p in private.iterdir())
    assert not left, f"temporary files left behind: {left}"


def snapshot() -> dict:
    files = {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for top in WATCHED_INPUTS for p in top.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    return {"inputs": files, "repo": {p.name for p in ROOT.iterdir()}, "tmp": {p.name for p in Path("/tmp").iterdir()}}


ENTRY_MODULES = ("csmae_core.io.upload", "csmae_core.io.detect", "csmae_core.io.lmdb_pickle", "csmae_core.io.lmdb_rico",
                 "csmae_core.io.packed", "csmae_core.retrieval.bundle", "csmae_core.models.csmae.checkpoint",
                 "csmae_core.models.load", "csmae_core.training.families", "csmae_core.cli", "pages.ui.resources")


class Corpus:
    def __init__(self, root: Path):
        import importlib

        for module in ENTRY_MODULES:  # imported before anything is watched: what an import writes (e.g.
            importlib.import_module(module)  # matplotlib's ~/.cache folder, pulled in by lightning) is no input's doing
        self.root = root
        self.before = snapshot()
        with watching(root):  # generating the corpus writes inside the test's folder only, too
            self.cases = bad_inputs.build_corpus(root / "corpus")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("bad-inputs"))


def expect_open_issue(request, case) -> None:
    if case.open_issue:
        request.applymarker(pytest.mark.xfail(reason=case.open_issue, strict=True))


def assert_clear(case, message: str) -> None:
    missing = [fragment for fragment in case.message if fragment not in message]
    assert not missing, f"{case.id}: message {message!r} lacks {missing}"


# ------------------------------------------------------------------------------ library level


def test_the_corpus_is_large_and_covers_every_category():
    assert len(CASE_IDS) >= 30 and len(set(CASE_IDS)) == len(CASE_IDS)
    categories = {spec.category for spec in bad_inputs.SPECS}
    assert categories == set(bad_inputs.CATEGORIES)
    assert sum(spec.hostile for spec in bad_inputs.SPECS) >= 10


def test_the_watch_sees_writes_and_process_starts(tmp_path_factory):
    """The checks below are not vacuous: a write outside the folder and a started process are caught."""
    root, elsewhere = tmp_path_factory.mktemp("watched"), tmp_path_factory.mktemp("elsewhere")
    with pytest.raises(AssertionError, match="written outside the test's folder"):
        with watching(root):
            (elsewhere / "x.txt").write_text("x")
    with pytest.raises(AssertionError, match="processes were started"):
        with watching(root):
            subprocess.run(["true"], check=True)


def test_the_hostile_payloads_are_live(corpus):
    """Loaded the unsafe way (plain pickle, yaml.unsafe_load), the corpus's payloads do run their command:
    the markers staying absent elsewhere means the library refused them, not that they were duds."""
    import pickle

    import lmdb
    import yaml

    case = corpus.cases["lmdb-pickle-os-system"]
    with lmdb.open(str(case.files[0].parent), readonly=True, lock=False) as env, env.begin() as txn:
        value = next(iter(txn.cursor()))[1]
    pickle.loads(value)  # noqa: S301 - on purpose: proves the payload
    case_yaml = corpus.cases["config-python-tag"]
    yaml.unsafe_load(case_yaml.files[0].read_text())  # noqa: S506 - on purpose
    try:
        assert case.marker.exists() and case_yaml.marker.exists()
    finally:
        case.marker.unlink(missing_ok=True)
        case_yaml.marker.unlink(missing_ok=True)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_library_refuses_with_a_clear_error(corpus, case_id, request):
    case = corpus.cases[case_id]
    expect_open_issue(request, case)
    with watching(corpus.root):
        with pytest.raises(Exception) as caught:
            case.run()
    error = caught.value
    assert isinstance(error, CsmaeError), f"raw {type(error).__name__}: {error}"
    assert type(error).__module__.startswith("csmae_core."), type(error)
    assert isinstance(error, case.error), f"{type(error).__name__} instead of {case.error.__name__}: {error}"
    assert_clear(case, str(error))
    if case.marker is not None:
        assert not case.marker.exists(), f"{case.id}: the hostile input ran code"


# ------------------------------------------------------------------------------------- the CLI


CLI_IDS = [s.id for s in bad_inputs.SPECS if s.category in ("upload", "archive")]


@pytest.mark.parametrize("case_id", CLI_IDS)
def test_cli_inspect_exits_2_with_one_error_line(corpus, case_id, capsys):
    from csmae_core.cli import main

    case = corpus.cases[case_id]
    if case.cli is None:
        pytest.skip("not an inspect input")
    with watching(corpus.root):
        code = main(["inspect", *case.cli])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert "could not read" not in err, f"the CLI met a raw exception: {err}"
    assert_clear(case, err)
    if case.marker is not None:
        assert not case.marker.exists()


def test_module_entry_point_on_bad_files_never_shows_a_traceback(corpus):
    """`python -m csmae_core inspect BAD` in fresh processes (run side by side), cwd and TMPDIR in the test's
    folder: exit 2, one `error:` line, no traceback, nothing left behind."""
    work = corpus.root / "cli-cwd"
    work.mkdir()
    env = {**os.environ, "TMPDIR": str(work), "PYTHONPATH": str(ROOT)}
    runs = {case_id: subprocess.Popen([sys.executable, "-m", "csmae_core", "inspect", *corpus.cases[case_id].cli],
                                      cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for case_id in CLI_IN_SUBPROCESS}
    for case_id, process in runs.items():
        out, err = process.communicate(timeout=120)
        case = corpus.cases[case_id]
        assert process.returncode == 2 and out == "", (case_id, process.returncode, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, (case_id, err)
        assert_clear(case, err)
        if case.marker is not None:
            assert not case.marker.exists()
    assert not list(work.iterdir()), "the CLI left files behind"


# ------------------------------------------------------------------------------------- the app


def app():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def errors_of(at) -> list[str]:
    return [e.value for e in at.error]


def assert_shown(at, case, prefix: str) -> None:
    assert not at.exception, f"{case.id}: {[e.value for e in at.exception]}"
    shown = [e for e in errors_of(at) if e.startswith(prefix)]
    assert shown, f"{case.id}: no error shown; errors: {errors_of(at)}"
    assert_clear(case, shown[0])


def search_still_works(at) -> None:
    at.segmented_control(key="query_source").set_value("Random example").run()
    at.button(key="random_example").click().run()
    assert not at.exception and not errors_of(at)
    assert [h.value for h in at.subheader if "most similar" in h.value] == ["10 most similar patches"]


UPLOAD_IDS = [s.id for s in bad_inputs.SPECS if s.category == "upload"]


def test_search_page_explains_every_bad_upload_and_stays_up(corpus):
    """Every upload case through the page's file uploader, one after another in one session: each shows its
    clear error, nothing escapes, and the page then still answers a query."""
    at = app()
    with watching(corpus.root):
        at.run()
        for case_id in UPLOAD_IDS:
            case = corpus.cases[case_id]
            at.selectbox(key="upload_sensor").set_value(case.sensor or "detect")
            files = [(path.name, path.read_bytes(), "application/octet-stream") for path in case.upload]
            at.file_uploader(key="upload_files").set_value(files)
            at.run()
            assert_shown(at, case, "The upload could not be used: ")
            assert "query" not in at.session_state or at.session_state["query"] is None
        at.file_uploader(key="upload_files").clear()
        at.selectbox(key="upload_sensor").set_value("detect")
        at.run()
        search_still_works(at)
    assert not [c.id for c in corpus.cases.values() if c.marker is not None and c.marker.exists()]


def write_catalogue(path: Path, entries) -> Path:
    import json

    path.write_text(json.dumps({"entries": entries}) if not isinstance(entries, str) else entries)
    return path


def test_search_page_explains_bad_catalogues_models_and_bundles(corpus, monkeypatch):
    """Catalogues that cannot be read, then one catalogue whose entries carry the corpus's bad models and
    bundles next to a good one: each bad entry shows its clear error, the good one still searches."""
    cases = corpus.cases
    demo = {"model": str(ROOT / "assets/models/demo.pt"), "bundle": str(ROOT / "assets/bundles/demo"),
            "archive": str(ROOT / "assets/demo")}
    folder = corpus.root / "catalogues"
    folder.mkdir()
    bad_entries = {  # catalogue entry name -> (case, the entry's files)
        "truncated model": ("ckpt-truncated", {**demo, "model": str(cases["ckpt-truncated"].files[0])}),
        "hostile model": ("ckpt-pickle-os-system", {**demo, "model": str(cases["ckpt-pickle-os-system"].files[0])}),
        "hostile state_dict": ("ckpt-state-dict-is-code",
                               {**demo, "model": str(cases["ckpt-state-dict-is-code"].files[0])}),
        "bundle of another model": ("bundle-other-model", {**demo, "bundle": str(cases["bundle-other-model"].files[0])}),
        "corrupt bundle": ("bundle-corrupt-file", {**demo, "bundle": str(cases["bundle-corrupt-file"].files[0])}),
        "bundle with a pickle": ("bundle-npy-pickle", {**demo, "bundle": str(cases["bundle-npy-pickle"].files[0])}),
        "missing bundle": ("bundle-missing", {**demo, "bundle": str(corpus.root / "corpus/bundle-missing/none")}),
    }
    entries = [{"name": name, **files} for name, (_, files) in bad_entries.items()]
    entries.append({"name": "good demo", **demo})
    catalogue = write_catalogue(folder / "models.json", entries)
    at = app()
    with watching(corpus.root):
        for case_id in ("catalogue-not-json", "catalogue-no-entries", "catalogue-entry-without-bundle"):
            monkeypatch.setenv("CSMAE_CATALOGUE", str(cases[case_id].files[0]))
            at.run()
            assert_shown(at, cases[case_id], "The model catalogue could not be read: ")
        monkeypatch.setenv("CSMAE_CATALOGUE", str(catalogue))
        for name, (case_id, _) in bad_entries.items():
            at.session_state["catalogue_entry"] = name
            at.run()
            assert at.selectbox(key="catalogue_entry").value == name
            assert_shown(at, cases[case_id], "The model or its index could not be loaded: ")
        at.selectbox(key="catalogue_entry").set_value("good demo").run()
        assert not at.exception and not errors_of(at)
        search_still_works(at)
    assert not [c.id for c in cases.values() if c.marker is not None and c.marker.exists()]


# ----------------------------------------------------------------------------- nothing outside


def test_zz_nothing_outside_the_temporary_folder_changed(corpus):
    """After everything above: the inputs copied from are untouched, and neither the repository's nor
    /tmp's top level gained an entry of ours (library temp folders were redirected and emptied above)."""
    after = snapshot()
    assert after["inputs"] == corpus.before["inputs"]
    ours = ("evil", "pwned", "markers", "upload-", "bad-inputs", "traversal", "absolute")
    assert not [n for n in after["repo"] - corpus.before["repo"] if n.startswith(ours) or n.endswith((".tif", ".zip"))]
    assert not [n for n in after["tmp"] - corpus.before["tmp"] if n.startswith(ours) or n.endswith((".tif", ".zip"))]
    assert not [c.id for c in corpus.cases.values() if c.marker is not None and c.marker.exists()]

"""What a case is: the `Spec` a category module declares, the `Case` that building it yields, and the
`Category` registrar whose decorator declares one case per builder function."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CATEGORIES = ("upload", "archive", "metadata", "model", "bundle", "config")


@dataclass
class Case:
    """One bad input. `run()` calls the library entry point, which must raise `error` whose message
    holds every fragment of `message`. `marker`: a file the input tries to create (must never exist).
    `upload`: the files to feed the search page's uploader (upload cases), `sensor` its sensor choice.
    `cli`: arguments of `python -m csmae_core inspect` that must exit 2 with one `error:` line."""

    id: str
    category: str
    description: str
    entry: str
    error: type
    message: tuple[str, ...]
    files: list[Path] = field(default_factory=list)
    run: Callable[[], Any] = field(default=lambda: None, repr=False)
    marker: Path | None = None
    upload: list[Path] | None = None
    sensor: str | None = None
    cli: list[str] | None = None
    open_issue: str | None = None  # why the library does not give the clear error yet (tests xfail strictly)


@dataclass
class Spec:
    """A declared case, before anything is written: `build(b, d)` writes its inputs (b: the shared
    `Builder`, d: the case's empty folder) and returns the `Case` fields it sets (files, run, upload,
    sensor, cli, marker)."""

    id: str
    category: str
    description: str
    entry: str
    error: str  # name of the error class (resolved lazily: importing csmae_core is not needed to list)
    message: tuple[str, ...]
    build: Callable[..., dict]
    hostile: bool = False
    open_issue: str | None = None


def builder_name(case_id: str) -> str:
    """The name a case's builder function must have: `tif-huge-extent` -> `build_tif_huge_extent`."""
    return "build_" + case_id.replace("-", "_")


class Category:
    """The cases of one category, in the order they are declared (the order of the table)."""

    def __init__(self, name: str):
        assert name in CATEGORIES, name
        self.name = name
        self.specs: list[Spec] = []

    def case(self, id: str, description: str, entry: str, error: str, *message: str, hostile: bool = False,
             open_issue: str | None = None) -> Callable:
        """Declare a case: `entry` names the library call that must refuse the input, `error` the
        csmae_core error class it raises, `message` fragments of its message (what was wrong, what to do);
        a `hostile` input carries a command that creates its marker file."""

        def register(build: Callable) -> Callable:
            assert build.__name__ == builder_name(id), f"name the builder of {id!r} {builder_name(id)}"
            assert all(spec.id != id for spec in self.specs), id
            self.specs.append(Spec(id, self.name, description, entry, error, tuple(message), build, hostile,
                                   open_issue))
            return build
        return register


def error_class(name: str) -> type:
    from csmae_core import errors

    return getattr(errors, name)

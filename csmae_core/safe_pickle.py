"""The one restricted unpickler of the project: pickles a user hands us (Lightning checkpoints, encoder
LMDB values) are read without ever calling a global the caller did not allow.

A policy says which globals are real (`allowed`), which become inert stand-ins that keep their pickled
state as plain data (`inert`), and what to say when any other global is met (`refusal`; with no refusal,
every unknown global becomes a stand-in). Nothing named by the file is imported or called.
"""
from __future__ import annotations

import io
import logging
import pickle
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from csmae_core.errors import UnsafePickleError

log = logging.getLogger(__name__)


class InertObject:
    """Stand-in for a pickled class: keeps constructor arguments, state and items as data; no behaviour."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key, value):  # dict-like globals (e.g. omegaconf's DictConfig) get items set on them
        self.__dict__.setdefault("items", {})[key] = value


@dataclass(frozen=True)
class PicklePolicy:
    """allowed: (module, name) -> the real object; inert: whether a global becomes an `InertObject`;
    refusal: message for any other global ({global} is replaced by its name), or None to make it inert."""

    allowed: Mapping[tuple[str, str], Any] = field(default_factory=dict)
    inert: Callable[[str, str], bool] = lambda module, name: True
    refusal: str | None = None

    def resolve(self, module: str, name: str) -> Any:
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        if self.refusal is None or self.inert(module, name):
            log.debug("pickle names %s.%s: replaced by an inert stand-in", module, name)
            return type(name, (InertObject,), {"__module__": "stand_in." + module})
        raise UnsafePickleError(self.refusal.format(**{"global": f"{module}.{name}"}))


def unpickler_class(policy: PicklePolicy) -> type[pickle.Unpickler]:
    """A pickle.Unpickler subclass bound to `policy` (torch.load builds its own from this)."""

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            return policy.resolve(module, name)

    return RestrictedUnpickler


def restricted_loads(data: bytes, policy: PicklePolicy) -> Any:
    """pickle.loads under `policy`."""
    return unpickler_class(policy)(io.BytesIO(data)).load()


def torch_pickle_module(policy: PicklePolicy) -> types.SimpleNamespace:
    """What torch.load(pickle_module=...) expects: a module-like object with `Unpickler` and `load`."""
    unpickler = unpickler_class(policy)
    return types.SimpleNamespace(__name__="csmae_safe_pickle", Unpickler=unpickler,
                                 load=lambda file, **kwargs: unpickler(file, **kwargs).load())

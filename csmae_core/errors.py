"""Typed errors of the core. Messages are written for the person who passed the input."""


class CsmaeError(Exception):
    """Base class of every error the core raises on purpose."""


class InputError(CsmaeError, ValueError):
    """The input (file, folder, array, argument) is not what is needed; the message says why."""


class DataNotFoundError(InputError, FileNotFoundError):
    """A file or folder that is needed does not exist."""


class MissingKeyError(InputError, KeyError):
    """A name (pair, entry, key) that the archive or table does not hold."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


class UnsafePickleError(InputError):
    """A pickle names a global outside the allowed list; nothing from it was executed."""

"""Typed errors of the core. Messages are written for the person who passed the input."""


class CsmaeError(Exception):
    """Base class of every error the core raises on purpose."""


class InputError(CsmaeError, ValueError):
    """The input (file, folder, array, argument) is not what is needed; the message says why."""


class DataNotFoundError(InputError, FileNotFoundError):
    """A file or folder that is needed does not exist."""


class UnsafePickleError(InputError):
    """A pickle names a global outside the allowed list; nothing from it was executed."""

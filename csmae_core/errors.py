"""Every error class of the core, one hierarchy under `CsmaeError`. Messages are written for the person who
passed the input: what was wrong and what to do, naming arguments (never command-line flags, which mean
nothing in the app). Scripts turn these into exit codes, the app into `st.error`."""


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


class UnknownLabelError(InputError):
    """A label name or code that is in neither BigEarthNet nomenclature."""


class UnsafePickleError(InputError):
    """A pickle names a global outside the allowed list; nothing from it was executed."""


class CheckpointError(InputError):
    """A checkpoint that cannot be read or does not fit the model it describes."""


class BundleError(InputError):
    """An index bundle that is missing, corrupt, or does not belong to the model in use."""


class CatalogueError(InputError):
    """A model catalogue (the app's list of models and bundles) that cannot be read or is incomplete."""


class NonFiniteLossError(CsmaeError):
    """Training produced NaN/inf; the message names the step and the loss terms."""

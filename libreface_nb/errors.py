"""One exception family for the workbook.

Every message names the file (or parameter) at fault and, where there is one, the fix.
Catch ``LibreFaceError`` to handle any of them.
"""

from __future__ import annotations


class LibreFaceError(Exception):
    """Base class of every error the workbook raises on purpose."""


class UnreadableInputError(LibreFaceError):
    """A file could not be decoded (missing, empty, truncated, not an image or video)."""


class NoFaceError(LibreFaceError):
    """No face was found where one was required."""


class DatasetLayoutError(LibreFaceError):
    """A dataset root does not have the on-disk layout its reader expects."""


class CheckpointError(LibreFaceError):
    """A checkpoint file is missing, not a state dict, or does not fit the model."""


class ConfigError(LibreFaceError):
    """A profile, notebook parameter or command-line option is wrong."""


class RunError(LibreFaceError):
    """A notebook run failed or a run folder is not usable."""

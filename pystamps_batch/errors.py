"""Exceptions whose message is the one line a user sees (no traceback).

The CLI maps :class:`InputError` and :class:`ConfigError` to exit status 2 and
:class:`StageError` (a unit that failed while running) to exit status 1.
"""


class PystampsError(Exception):
    """Base class; ``str(exc)`` is a complete, single-line message."""

    exit_code = 1


class ConfigError(PystampsError):
    """The YAML config or a command-line option is invalid."""

    exit_code = 2


class InputError(PystampsError):
    """A dataset input file is missing or malformed (names the file and the problem)."""

    exit_code = 2


class StageError(PystampsError):
    """A stage could not produce its outputs for one unit (patch or merged root)."""

    exit_code = 1


class NotImplementedStage(StageError):
    """The requested stage is not implemented in this version."""

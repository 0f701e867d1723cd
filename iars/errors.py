"""Errors that carry a message meant for the user (what, where, how to fix)."""
from __future__ import annotations


class IarsError(Exception):
    """Base of the errors the command-line scripts report without a traceback."""


class ConfigError(IarsError, ValueError):
    """A configuration value is out of range or inconsistent."""


class DataError(IarsError, ValueError):
    """A dataset cannot be found, read or used."""


class DataTypeError(DataError, TypeError):
    """Data of the wrong type: values that are not numbers (a TypeError too, as NumPy's)."""


class ReportError(IarsError, ValueError):
    """A report's inputs (sweep dirs, run records) are missing or unusable."""


class RunInterrupted(Exception):
    """A run stopped by a signal (SIGINT, SIGTERM) at a step boundary; ``message`` says where,
    ``checkpoint`` is the checkpoint saved there (None: none), ``exit_status`` is 128 + the
    signal number."""

    def __init__(self, signum: int, message: str, checkpoint=None):
        super().__init__(message)
        self.signum, self.message, self.checkpoint = signum, message, checkpoint

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def some(indices, shown: int = 5) -> str:
    """Indices for a message: the first ``shown``, and how many in all when there are more."""
    indices = [int(i) for i in indices]
    listed = ", ".join(map(str, indices[:shown]))
    return listed + (f", … ({len(indices)} in all)" if len(indices) > shown else "")


def user_error(exc: BaseException | None) -> IarsError | None:
    """The :class:`IarsError` behind ``exc``, following its causes (a wrapper such as Hydra's
    instantiation error keeps the original as its cause); None for any other error."""
    while exc is not None:
        if isinstance(exc, IarsError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None

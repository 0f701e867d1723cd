"""Errors that carry a message meant for the user (what, where, how to fix), and how the
command-line entry points report them."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


class IarsError(Exception):
    """Base of the errors the command-line scripts report without a traceback."""


class ConfigError(IarsError, ValueError):
    """A configuration value is out of range or inconsistent."""


class DataError(IarsError, ValueError):
    """A dataset cannot be found, read or used."""


class ReportError(IarsError, ValueError):
    """A report's inputs (sweep dirs, run records) are missing or unusable."""


def user_error(exc: BaseException | None) -> IarsError | None:
    """The :class:`IarsError` behind ``exc``, following its causes (a wrapper such as Hydra's
    instantiation error keeps the original as its cause); None for any other error."""
    while exc is not None:
        if isinstance(exc, IarsError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def exit_on_user_error(run: Callable[..., Any], *args: Any, sweep: bool = False) -> Any:
    """``run(*args)``; a user error prints one ``error:`` line and exits with status 2, or,
    in a sweep (``sweep=True``), returns None so that the other jobs go on. Any other
    error propagates with its traceback: it is a bug to see, not to hide."""
    try:
        return run(*args)
    except Exception as exc:
        err = user_error(exc)
        if err is None:
            raise
        print(f"error: {err}", file=sys.stderr)
        if sweep:
            return None
        sys.exit(2)

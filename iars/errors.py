"""Errors that carry a message meant for the user (what, where, how to fix)."""


class IarsError(Exception):
    """Base of the errors the command-line scripts report without a traceback."""


class ConfigError(IarsError, ValueError):
    """A configuration value is out of range or inconsistent."""


class DataError(IarsError, ValueError):
    """A dataset cannot be found, read or used."""


class ReportError(IarsError, ValueError):
    """A report's inputs (sweep dirs, run records) are missing or unusable."""

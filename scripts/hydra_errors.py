"""Hydra's own errors under the exit policy (:mod:`iars.exits`): an override that does not parse,
a config group option that does not exist (``loss=foo``) or a misspelt key
(``trainer.max_step=5``) is bad input, so it ends with one ``error:`` line holding Hydra's
message and exit status 2, not Hydra's exit status 1. ``HYDRA_FULL_ERROR=1`` still shows Hydra's
traceback; ``--cfg``, ``--help`` and multirun run as before.

Hydra reports the errors of its entry point in one function, ``hydra._internal.utils.run_and_report``
(which prints them and exits 1); :func:`hydra_errors_as_user_errors` wraps it while an entry
point runs, refusing Hydra's config errors before that function sees them and leaving every other
error (the run's own) to it.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.errors import ConfigCompositionException, OverrideParseException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from iars.exits import refuse

CONFIG_ERRORS = (ConfigCompositionException, OverrideParseException)
"""Hydra's errors about the config and its overrides (MissingConfigException is one too)."""


def one_line(exc: BaseException, program: str | None = None) -> str:
    """Hydra's message for ``exc`` (and its cause's, as Hydra prints it) on one line: indented
    lines attached to the line above them (``Available options in 'loss': hier, iars, ...``),
    Hydra's config search path left out. A misspelt key adds where the keys are listed."""
    text = str(exc)
    if exc.__cause__ is not None and type(exc.__cause__).__module__.startswith("omegaconf"):
        text += "\n" + str(exc.__cause__)
    groups: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace() and groups:
            groups[-1][1].append(line.strip())
        else:
            groups.append((line.strip(), []))
    parts = []
    for head, items in groups:
        if head == "Config search path:":
            continue
        if items:
            head = f"{head} {', '.join(items)}" if head.endswith(":") else f"{head} ({', '.join(items)})"
        parts.append(head)
    message = ""
    for part in parts:
        message += part if not message else (" " if message[-1] in ".:;!?)" else ". ") + part
    if isinstance(exc.__cause__, (ConfigKeyError, ConfigAttributeError)) and "not in struct" in str(exc.__cause__):
        program = program or Path(sys.argv[0]).name
        message += f". Check the key's spelling: `{program} --cfg job` prints the config's keys"
    return message


def _refusing(func: Callable[[], Any]) -> Callable[[], Any]:
    def guarded() -> Any:
        try:
            return func()
        except CONFIG_ERRORS as exc:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            refuse(one_line(exc))

    return guarded


@contextmanager
def hydra_errors_as_user_errors() -> Iterator[None]:
    """While the ``with`` block runs a ``@hydra.main`` function, Hydra's config errors are
    refused (one ``error:`` line, exit status 2); Hydra reports every other error as it does."""
    from hydra._internal import utils

    report = getattr(utils, "run_and_report", None)
    if report is None:  # a Hydra without it: its own reporting, exit status 1
        yield
        return
    utils.run_and_report = lambda func: report(_refusing(func))
    try:
        yield
    finally:
        utils.run_and_report = report

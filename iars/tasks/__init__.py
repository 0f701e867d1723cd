"""Downstream tasks: what a run does with its trained encoder after pretraining.

A task is a module with ``check(config, data) -> warnings`` (refuse, before pretraining, what
would make its stage fail), ``evaluate(config, datamodule, encoder) -> dict`` (its stage and
its fields of the run's record) and ``summary(record) -> str`` (its part of the summary line).
:data:`TASKS` names them; :func:`iars.pipeline.train` runs ``config["task"]`` (default
``classification``). Another task is another module here and a row in :data:`TASKS`.
"""
from __future__ import annotations

from types import ModuleType

from iars.errors import ConfigError
from iars.tasks import classification

TASKS: dict[str, ModuleType] = {"classification": classification}


def task(name: str | None) -> ModuleType:
    """The task called ``name`` (None: classification)."""
    name = name or "classification"
    if name not in TASKS:
        raise ConfigError(f"task={name!r}: choose one of {', '.join(TASKS)}")
    return TASKS[name]

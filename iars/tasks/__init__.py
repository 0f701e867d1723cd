"""Downstream tasks: what a run does with its trained encoder after pretraining.

A task is a module with ``check(config, data) -> warnings`` (refuse, before pretraining, what
would make its stage fail), ``evaluate(config, datamodule, encoder) -> dict`` (its stage and
its fields of the run's record), ``results(record) -> dict`` (its scores as flat names, for the
run's logger), ``validation_score(record) -> float | None`` (what a Hydra
sweeper maximises: a score of data other than the test split) and ``summary(record) -> str``
(its part of the summary line).
:data:`TASKS` names them; :func:`iars.pipeline.train` runs ``config["task"]`` (the group
``conf/task/``: a mapping with ``name`` and the task's settings; default classification).
Another task is another module here, a row in :data:`TASKS` and a file in ``conf/task/``.
The stages, Hydra-free, for the library: :func:`forecast` (an encoder, a
:class:`~iars.data.ForecastData`) and :func:`detect` (an encoder, :class:`~iars.data.AnomalySeries`).
"""
from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

from iars.errors import ConfigError
from iars.tasks import anomaly, classification, forecasting
from iars.tasks.anomaly import detect
from iars.tasks.forecasting import forecast

__all__ = ["TASKS", "anomaly", "classification", "detect", "forecast", "forecasting", "task", "task_name"]

TASKS: dict[str, ModuleType] = {"classification": classification, "forecasting": forecasting, "anomaly": anomaly}


def task_name(spec: Mapping | str | None) -> str:
    """The task a config's ``task`` names: a ``conf/task/`` mapping, or a name (older runs)."""
    name = spec.get("name") if isinstance(spec, Mapping) else spec
    return name or "classification"


def task(spec: Mapping | str | None) -> ModuleType:
    """The task module a config's ``task`` names (None: classification)."""
    name = task_name(spec)
    if name not in TASKS:
        raise ConfigError(f"task={name!r}: choose one of {', '.join(TASKS)}")
    return TASKS[name]

"""The loss variants: one table of every ``loss=`` option of the command line.

A variant's name is its ``conf/loss/<name>.yaml`` file, ``TimeSeriesEncoder(loss=<name>)``
and the ``variant`` of a run's ``metrics.json``. Each row says which
:class:`~iars.module.ContrastivePretrainer` mode it trains, the settings it fixes beyond
the shared loss keys (``conf/loss/_base.yaml``), and its label in report tables. A new
variant is one row here and one yaml that sets the same keys (``tests/test_variants.py``
checks that they agree).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Variant:
    """One ``loss=`` option: ``name``, the module ``mode``, the ``settings`` it fixes (loss
    keys, ``selection`` nested) and its report ``label``."""

    name: str
    mode: str
    label: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def loss_config(self, **overrides: Any) -> dict[str, Any]:
        """The loss settings of this variant (``mode``, ``variant`` and what it fixes), with
        ``overrides`` on top (``selection`` merged key by key)."""
        config = {"variant": self.name, "mode": self.mode, **_copy(self.settings)}
        for key, value in overrides.items():
            if key == "selection" and isinstance(value, Mapping):
                config["selection"] = {**config.get("selection", {}), **value}
            else:
                config[key] = value
        return config


def _copy(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in settings.items()}


_IARS = {"scoring": "probe", "selection": {"rule": "importance", "softmaxes": 2, "temperature": 1.0}}

VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("hier", "hier", "hier"),
    Variant("iars", "iars", "iars", _IARS),
    Variant("iars_relative", "iars", "iars-relative",
            {"scoring": "probe", "selection": {"rule": "relative", "softmaxes": 1, "temperature": 0.05}}),
    Variant("random", "random", "random", {"granularity": "epoch", "scoring": "running", "selection": {"rule": "uniform"}}),
    Variant("fixed", "fixed", "fixed"),
    Variant("fixed_finest", "fixed", "fixed r=-1", {"resolution": -1}),
    Variant("fixed_coarsest", "fixed", "fixed r=0", {"resolution": 0}),
)}
"""Every variant, by name, in the order reports list them."""


def variant(name: str) -> Variant:
    """The variant called ``name``; a clear error for any other name."""
    from iars.errors import ConfigError

    if name not in VARIANTS:
        raise ConfigError(f"loss={name!r} is not a loss variant; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


def _identity(loss: Mapping[str, Any]) -> tuple:
    """What tells variants apart: mode, fixed resolution, draw granularity and selection rule
    (each mode's defaults filled in)."""
    mode = loss.get("mode")
    rule = (loss.get("selection") or {}).get("rule") or {"iars": "importance", "random": "uniform"}.get(mode)
    granularity = loss.get("granularity") or ("epoch" if mode == "random" else None)
    return mode, loss.get("resolution") if mode == "fixed" else None, granularity, rule


def variant_of(loss: Mapping[str, Any]) -> str | None:
    """The variant whose mode, fixed resolution, granularity and selection rule a composed loss
    config has (None when it matches none, e.g. ``loss=fixed loss.resolution=2``); it reads the
    settings, not a ``variant`` key, so records of runs before runs named their variant are
    recognised too."""
    identity = _identity(loss)
    return next((v.name for v in VARIANTS.values() if _identity(v.loss_config()) == identity), None)


def label(run: Mapping[str, Any]) -> str:
    """A run record's label in report tables, from the settings it trained: its variant's
    label, ``fixed r=<r>`` for another fixed resolution, ``random/step`` for per-step draws,
    ``iars-<rule>`` for another selection rule."""
    loss = {**run.get("config", {}).get("loss", {}), "mode": run["loss"]}
    if loss["mode"] == "random" and loss.get("granularity") == "step":
        return "random/step"
    name = variant_of(loss)
    if name is not None and name != "fixed":
        return VARIANTS[name].label
    if loss["mode"] == "fixed":
        return f"fixed r={loss.get('resolution')}"
    rule = (loss.get("selection") or {}).get("rule") or "importance"
    return f"iars-{rule}" if loss["mode"] == "iars" else str(loss["mode"])

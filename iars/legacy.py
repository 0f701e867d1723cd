"""Older names and their current ones, upgraded in one place: what earlier versions of iars
wrote (run records, loss configs, selection checkpoints) and the command-line keys they took.
Everything else reads only the current names."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iars.errors import ConfigError
from iars.variants import variant_of

RENAMED_RECORD_KEYS = {"selected_levels": "selected_resolutions", "level_losses": "resolution_losses"}
"""Keys of older run records and their current names."""
RENAMED_OVERRIDES = {"loss.level": "loss.resolution"}
"""Command-line keys of older versions and their current names."""


def upgrade_loss(loss: Mapping[str, Any]) -> dict[str, Any]:
    """A loss config with ``level`` (the older name of ``resolution``) renamed; refuses both
    given and different."""
    loss = dict(loss)
    level = loss.pop("level", None)
    if level is not None:
        if loss.get("resolution") not in (None, level):
            raise ConfigError(f"loss.level={level} and loss.resolution={loss['resolution']} disagree: "
                              "loss.level is the older name of loss.resolution; give only loss.resolution")
        loss["resolution"] = level
    return loss


def upgrade_record(record: dict[str, Any]) -> dict[str, Any]:
    """A run record (``metrics.json``) with current key names, its loss config upgraded, and the
    ``variant`` that records before it named their variant trained."""
    for old, new in RENAMED_RECORD_KEYS.items():
        if old in record:
            record.setdefault(new, record.pop(old))
    config = record["config"] if isinstance(record.get("config"), dict) else {}
    if isinstance(config.get("loss"), Mapping):
        config["loss"] = upgrade_loss(config["loss"])
    if "loss" in record and record["loss"] != "baselines":
        loss = config.get("loss") or {}
        # a setting no variant fixes (loss=fixed loss.resolution=2) runs as its mode's variant
        record.setdefault("variant", variant_of({**loss, "mode": record["loss"]}) or record["loss"])
    return record


def upgrade_selection_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The selection callback's checkpoint state with ``level`` (its older name of the trained
    ``resolution``) renamed."""
    state = dict(state)
    if "level" in state:
        state.setdefault("resolution", state.pop("level"))
    return state


def upgrade_overrides(args: list[str]) -> list[str]:
    """Command-line overrides with older keys (:data:`RENAMED_OVERRIDES`) under their current
    names; refuses an older key given beside its current name with another value."""
    given = dict(arg.partition("=")[::2] for arg in args if "=" in arg)
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key in RENAMED_OVERRIDES:
            new = RENAMED_OVERRIDES[key]
            if given.get(new, value) != value:
                raise ConfigError(f"{key}={value} and {new}={given[new]} disagree: {key} is the older name of "
                                  f"{new}; give only {new}")
            arg = f"{new}={value}"
        out.append(arg)
    return out

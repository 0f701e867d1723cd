"""Plain configuration dicts: objects from ``_target_`` specs, and required values.

A run is described by one nested dict of plain values (the CLI gets it from Hydra's
composed config, the estimator writes it itself). An object in it is a *spec*: a dict
whose ``_target_`` names a class or function by its import path, and whose other keys
are its keyword arguments, e.g. ``{"_target_": "iars.encoders.DilatedConvEncoder",
"K": 320}``. ``_partial_`` (Hydra's "call later with more arguments") is accepted and
ignored: :func:`build` always takes the remaining arguments at call time.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from iars.errors import ConfigError

MISSING = "???"
"""What a required value that was never set looks like in a resolved config."""


def locate(path: str) -> Any:
    """The object at import path ``path`` (``package.module.Name`` or ``package.module.Name.attr``)."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name is not None and not ".".join(parts[:cut]).startswith(exc.name):
                raise  # a module that exists failed to import one of its own dependencies
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ConfigError(f"_target_={path!r} cannot be imported: give an importable class, e.g. iars.encoders.DilatedConvEncoder")


def build(spec: Mapping, /, **kwargs: Any) -> Any:
    """Call ``spec["_target_"]`` with the spec's other keys and ``kwargs`` (which win); a value
    that is itself a spec is built first (e.g. a ``datetime.timedelta`` argument)."""
    if "_target_" not in spec:
        raise ConfigError(f"a spec needs a _target_ (the class to build); got keys {sorted(spec)}")
    args = {k: build(v) if isinstance(v, Mapping) and "_target_" in v else v
            for k, v in spec.items() if k not in ("_target_", "_partial_")}
    return locate(spec["_target_"])(**{**args, **kwargs})


def missing_keys(config: Any, prefix: str = "") -> list[str]:
    """Dotted keys of ``config`` whose value is still :data:`MISSING`."""
    if isinstance(config, Mapping):
        return [key for k, v in config.items() for key in missing_keys(v, f"{prefix}{k}.")]
    if isinstance(config, (list, tuple)):
        return [key for i, v in enumerate(config) for key in missing_keys(v, f"{prefix}{i}.")]
    return [prefix[:-1]] if config == MISSING else []


def require(config: Mapping) -> None:
    """Refuse a config with required values left unset, naming them."""
    keys = missing_keys(config)
    if keys:
        given = " ".join(f"{k}=..." for k in keys)
        raise ConfigError(f"{', '.join(keys)} must be set: give {'it' if len(keys) == 1 else 'them'} on the "
                          f"command line ({given})")

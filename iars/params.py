"""The estimator's parameters as a run config and back: :class:`iars.TimeSeriesEncoder`'s
``run_config``/``params_from_config`` and its nested parameters, one table (:data:`CONFIG_PATHS`)
read both ways."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iars.encoders import ENCODERS
from iars.encoding import check_pooling
from iars.errors import ConfigError
from iars.pipeline import loss_settings
from iars.variants import VARIANTS, variant, variant_of

DEFAULT_SEED = 42
"""The default seed of every entry point: ``seed`` in ``conf/train.yaml`` and ``conf/baselines.yaml``."""

CONFIG_PATHS = {
    "K": ("model", "K"), "steps": ("trainer", "max_steps"), "epochs": ("trainer", "max_epochs"),
    "batch_size": ("dataset", "batch_size"), "lr": ("lr",), "seed": ("seed",),
    "precision": ("trainer", "precision"), "pooling": ("classifier", "pooling"),
    "max_train_length": ("dataset", "max_train_length"), "averaged": ("averaged",),
}
"""Where each plain parameter lives in a run config: :meth:`TimeSeriesEncoder.run_config`
writes it there and :meth:`TimeSeriesEncoder.params_from_config` reads it back."""

TRAINER = "pytorch_lightning.Trainer"
_ENCODER_NAMES = {f"{cls.__module__}.{cls.__qualname__}": name for name, cls in ENCODERS.items()}
NESTED_PARAMS = {"loss": "loss_params", "encoder": "encoder_params"}
"""Prefixes of nested parameters: ``loss__alpha`` sets ``loss_params["alpha"]``,
``encoder__depth`` sets ``encoder_params["depth"]`` (skorch's ``module__x`` convention), so
that ``GridSearchCV`` and ``set_params`` reach inside them."""


def with_nested(settings: Mapping[str, Any] | None, path: list[str], value: Any) -> dict[str, Any]:
    """A copy of ``settings`` with ``value`` at ``path`` (``["selection", "temperature"]``)."""
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in (settings or {}).items()}
    node = out
    for parent in path[:-1]:
        node = node.setdefault(parent, {})
    node[path[-1]] = value
    return out


def run_config(p: Mapping[str, Any]) -> dict[str, Any]:
    """The estimator parameters ``p`` (``get_params()``) as a run config (the shape
    ``conf/train.yaml`` composes)."""
    target = encoder = p["encoder"]
    if encoder in ENCODERS:
        cls = ENCODERS[encoder]
        target = f"{cls.__module__}.{cls.__qualname__}"
    elif "." not in str(encoder):
        raise ConfigError(f"encoder={encoder!r}: choose one of {', '.join(ENCODERS)}, or give the import "
                          "path of an encoder class")
    check_pooling(p["pooling"], "pooling")
    config: dict[str, Any] = {
        "compile": False,
        "model": {"_target_": target, **(p["encoder_params"] or {})},
        "loss": variant(p["loss"]).loss_config(**(p["loss_params"] or {})),
        "trainer": {
            "_target_": TRAINER, "accelerator": {"cuda": "gpu"}.get(p["device"], p["device"]), "devices": 1,
            "deterministic": "warn", "log_every_n_steps": 1, "enable_progress_bar": bool(p["verbose"]),
            "enable_model_summary": False, "enable_checkpointing": False,
        },
        "dataset": {},
        "classifier": {},
    }
    for param, path in CONFIG_PATHS.items():
        *parents, key = path
        node = config
        for name in parents:
            node = node[name]
        node[key] = p[param]
    return config


def params_from_config(config: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The estimator parameters of a run config: the inverse of :func:`run_config`
    (:data:`CONFIG_PATHS`); absent keys take ``defaults``."""
    params = dict(defaults)
    for param, path in CONFIG_PATHS.items():
        node = config
        for name in path:
            node = node.get(name, {}) if isinstance(node, Mapping) else {}
        if node != {}:
            params[param] = node
    model = {k: v for k, v in config["model"].items() if k not in ("_target_", "_partial_", "in_channels", "K")}
    loss = loss_settings(config["loss"])
    name = config["loss"].get("variant")
    if name not in VARIANTS:  # unnamed, or a name of the user's own
        name = variant_of(loss) or loss["mode"]
    fixed = variant(name).loss_config()
    extra = {k: v for k, v in loss.items() if k not in fixed or fixed[k] != v}
    params.update({
        "loss": name,
        "encoder": _ENCODER_NAMES.get(config["model"]["_target_"], config["model"]["_target_"]),
        "device": config["trainer"].get("accelerator", "auto"),
        "loss_params": extra or None,
        "encoder_params": model or None,
    })
    return params

"""The run's logger (W&B, CSV, any Lightning logger from a ``_target_`` spec): made from the
config, results logged, the model uploaded, the run closed."""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from iars.config import build
from iars.runs import CHECKPOINT_FILE, EMBEDDINGS_FILE


def _is_wandb(logger: Any) -> bool:
    return type(logger).__name__ == "WandbLogger"


def make_logger(config: Mapping, job_type: str):
    """The logger of ``config["logger"]`` (None when absent), holding the whole resolved
    config as its hyperparameters; a W&B run gets ``job_type``. ``log_model`` is ours
    (:func:`log_artifacts`), not passed on. Tags that resolved to null are dropped (W&B refuses
    them): ``${dataset.name}`` of a dataset that names itself when read (``dataset.name: null``)."""
    spec = config.get("logger")
    if not spec:
        return None
    spec = {k: v for k, v in spec.items() if k != "log_model"}
    if isinstance(spec.get("tags"), (list, tuple)):
        spec["tags"] = [tag for tag in spec["tags"] if tag is not None]
    is_wandb = spec["_target_"].rsplit(".", 1)[-1] == "WandbLogger"
    logger = build(spec, **({"job_type": job_type} if is_wandb else {}))
    logger.log_hyperparams(dict(config))
    return logger


def log_results(logger, results: Mapping) -> None:
    if not logger:
        return
    logger.log_metrics(dict(results))
    if _is_wandb(logger):
        logger.experiment.summary.update(dict(results))


def log_artifacts(logger, run_dir: Path, name: str) -> None:
    """Upload the run's checkpoint (and embeddings, when saved) as a W&B model artifact."""
    if not _is_wandb(logger):
        return
    import wandb

    artifact = wandb.Artifact(f"{name}-{logger.experiment.id}".replace("/", "-"), type="model")
    for file in (CHECKPOINT_FILE, EMBEDDINGS_FILE):
        if (run_dir / file).is_file():
            artifact.add_file(str(run_dir / file))
    logger.experiment.log_artifact(artifact)


def finish(logger) -> None:
    """Close a W&B run (the next job of a sweep in this process starts its own)."""
    if _is_wandb(logger):
        import wandb

        wandb.finish()


_LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric")


@contextmanager
def lightning_output(verbose: bool) -> Iterator[None]:
    """Lightning's info messages (devices, tips) shown only when ``verbose``."""
    loggers = [logging.getLogger(name) for name in _LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    if not verbose:
        for logger in loggers:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)

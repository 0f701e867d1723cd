"""One run, from a plain config dict to a trained encoder and its record: the code path that
the command-line scripts and :class:`iars.TimeSeriesEncoder` share.

A config is the nested dict of plain values that ``conf/train.yaml`` composes. Pretraining
(:func:`pretrain`) reads ``seed``, ``lr``, ``averaged``, ``compile``, ``ckpt_path`` and the
specs ``model``, ``loss`` and ``trainer``; a whole run (:func:`train`) also ``dataset``,
``classifier``, ``logger``, ``output_dir``, ``threads``, ``save_checkpoint`` and
``save_embeddings``. Objects are built from ``_target_`` specs (:func:`iars.config.build`),
so nothing here needs Hydra.
"""
from __future__ import annotations

import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from iars.baselines import METHODS, NORMALISATIONS, one_nn
from iars.callbacks import PretrainClock
from iars.config import build, require
from iars.data import Split, TimeSeriesDataModule, ts2vec_budget
from iars.errors import ConfigError
from iars.evaluate import classify, encode
from iars.module import ContrastivePretrainer
from iars.runs import CHECKPOINT_FILE, EMBEDDINGS_FILE, check_fresh, write_embeddings, write_metrics

RESULT_KEYS = ("acc", "f1", "pretrain_time_s", "step_time_s", "steps", "epochs", "probe_time_s")
"""What a run logs to its logger as results (and into W&B's summary)."""

QUIET_WARNINGS = (".*does not have many workers.*", ".*The number of training batches.*log_every_n_steps.*",
                  ".*isinstance.treespec, LeafSpec.*")
"""Lightning warnings about what small datasets and this torch version do by design."""


@dataclass
class Pretrained:
    """A finished pretraining: the module (its :attr:`~ContrastivePretrainer.eval_encoder`
    is the trained encoder), the Trainer that fitted it, and the fit loop's clock."""

    module: ContrastivePretrainer
    trainer: pl.Trainer
    clock: PretrainClock

    @property
    def history(self) -> list[dict] | None:
        """The selection history (one entry per epoch), in a selecting mode."""
        return self.module.selection.history if self.module.selection is not None else None


def budget(trainer: Mapping, X_train) -> dict[str, int]:
    """``max_steps``/``max_epochs`` for the Trainer: as configured, else TS2Vec's step budget."""
    steps, epochs = trainer.get("max_steps"), trainer.get("max_epochs")
    if steps is None and epochs is None:
        return {"max_steps": ts2vec_budget(X_train), "max_epochs": -1}
    return {"max_steps": -1 if steps is None else steps, "max_epochs": -1 if epochs is None else epochs}


def loss_settings(loss: Mapping) -> dict[str, Any]:
    """A ``loss`` config -> :class:`ContrastivePretrainer` keyword arguments. ``level`` is
    the older name of ``resolution`` and still accepted."""
    settings = dict(loss)
    level = settings.pop("level", None)
    if level is not None:
        if settings.get("resolution") not in (None, level):
            raise ConfigError(f"loss.level={level} and loss.resolution={settings['resolution']} disagree: "
                              "loss.level is the older name of loss.resolution; give only loss.resolution")
        settings["resolution"] = level
    return settings


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed={seed!r}: give an integer")
    return seed


def build_module(config: Mapping, datamodule: TimeSeriesDataModule,
                 module_class: type[ContrastivePretrainer] = ContrastivePretrainer) -> ContrastivePretrainer:
    """The module that pretrains ``config["model"]`` on ``datamodule``'s series."""
    data = datamodule.prepare()
    model = {k: v for k, v in config["model"].items() if k != "_partial_"}
    return module_class(
        encoder={**model, "in_channels": data.n_channels},
        max_length=datamodule.pretrain_X.shape[1],
        seed=config["seed"],
        lr=config["lr"],
        averaged=config["averaged"],
        compile_encoder=config.get("compile", False),
        normaliser=datamodule.normaliser.state(),
        **loss_settings(config["loss"]),
    )


def pretrain(
    config: Mapping,
    datamodule: TimeSeriesDataModule,
    *,
    logger: Any = None,
    callbacks: Sequence[pl.Callback] = (),
    root_dir: str | Path | None = None,
    module_class: type[ContrastivePretrainer] = ContrastivePretrainer,
) -> Pretrained:
    """Seed, build encoder, module and Trainer from ``config``, and fit on ``datamodule``.

    The budget is ``trainer.max_steps``/``max_epochs``, else TS2Vec's; ``ckpt_path``
    resumes from a checkpoint. The module brings its selection callback (IARS).
    """
    pl.seed_everything(_check_seed(config["seed"]), workers=True, verbose=False)
    module = build_module(config, datamodule, module_class)
    clock = PretrainClock()
    trainer = build(
        config["trainer"], **budget(config["trainer"], datamodule.prepare().X_train), logger=logger or False,
        callbacks=[clock, *callbacks], default_root_dir=None if root_dir is None else str(root_dir),
    )
    with warnings.catch_warnings():
        for message in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message)
        trainer.fit(module, datamodule=datamodule, ckpt_path=config.get("ckpt_path"))
    return Pretrained(module, trainer, clock)


class _ConfigInCheckpoint(pl.Callback):
    """Stores the run's config in its checkpoints (``checkpoint["iars"]["config"]``), so that
    a checkpoint alone rebuilds the encoder with its settings (:func:`iars.load_run`)."""

    def __init__(self, config: Mapping):
        self.config = dict(config)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        checkpoint["iars"] = {"config": self.config}


# -- a whole run: pretrain, classify, record ----------------------------------------------


def skipped_reason(data: Split) -> str | None:
    """Why the classifier stage cannot run on ``data``, or None when it can."""
    if data.y_train is None:
        return "the train split has no labels"
    if data.X_test is None:
        return "there is no test split"
    if data.y_test is None:
        return "the test split has no labels"
    return None


def run_record(config: Mapping, datamodule: TimeSeriesDataModule, fitted: Pretrained) -> dict:
    """The classifier stage on the trained encoder (skipped, with the reason, without labels
    or a test split), and the run's record."""
    data = datamodule.prepare()
    pooling = config["classifier"]["pooling"]
    skipped = skipped_reason(data)
    scores = {"acc": None, "f1": None}
    if skipped is None or config.get("save_embeddings"):
        train = encode(fitted.module.eval_encoder, data.X_train, pooling)
        test = None if data.X_test is None else encode(fitted.module.eval_encoder, data.X_test, pooling)
        if skipped is None:
            scores = classify(train, data.y_train, test, data.y_test, config["classifier"]["protocol"])
        if config.get("save_embeddings"):
            write_embeddings(config["output_dir"], train, data.y_train, test, data.y_test)
    clock, history = fitted.clock, fitted.history
    return {
        "dataset": datamodule.name,
        "loss": config["loss"]["mode"],
        "model": config["model"]["_target_"].rsplit(".", 1)[-1],
        "K": config["model"]["K"],
        "seed": config["seed"],
        "classifier": None if skipped else config["classifier"]["protocol"],
        **({"classifier_skipped": skipped} if skipped else {}),
        "n_train": int(data.X_train.shape[0]),
        "n_test": None if data.X_test is None else int(data.X_test.shape[0]),
        "length": int(data.X_train.shape[1]),
        "channels": data.n_channels,
        **scores,
        "pretrain_time_s": clock.seconds,
        "step_time_s": statistics.median(clock.step_times) if clock.step_times else None,
        "steps": clock.steps,
        "epochs": fitted.trainer.current_epoch,
        **({} if history is None else {
            "probe_time_s": fitted.module.selection.probe_seconds,
            "selected_resolutions": [h["resolution"] for h in history],
            "resolution_losses": [h["losses"] for h in history],
            "selection_probs": [h["next_probs"] for h in history],
        }),
        "config": dict(config),
    }


def _set_threads(threads: Any) -> None:
    if threads in (None, ""):
        return
    try:
        n = int(threads)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ConfigError(f"threads={threads!r}: give a positive number of CPU threads, or null for the default")
    torch.set_num_threads(n)


def train(config: Mapping) -> dict:
    """The command line's run (``iars-train``): pretrain, save ``last.ckpt``, run the
    classifier stage, write ``metrics.json`` into ``config["output_dir"]`` and log to
    ``config["logger"]``; prints a summary line and returns the record ({} on ranks > 0)."""
    require(config)
    out_dir = Path(config["output_dir"])
    check_fresh(out_dir)
    _set_threads(config.get("threads"))
    logger = make_logger(config, job_type="train")
    try:
        datamodule = build(config["dataset"])
        fitted = pretrain(config, datamodule, logger=logger, root_dir=out_dir,
                          callbacks=[_ConfigInCheckpoint(config)])
        if config["save_checkpoint"]:  # a collective call under DDP: every rank enters, rank 0 writes
            fitted.trainer.save_checkpoint(out_dir / CHECKPOINT_FILE, weights_only=False)
        if not fitted.trainer.is_global_zero:
            return {}  # the classifier stage and metrics.json: rank 0 only
        metrics = run_record(config, datamodule, fitted)
        log_results(logger, {k: v for k, v in metrics.items() if k in RESULT_KEYS and v is not None})
        path = write_metrics(out_dir, metrics)
        if (config.get("logger") or {}).get("log_model"):
            log_artifacts(logger, out_dir, f"{datamodule.name}-{metrics['loss']}")
    finally:
        finish(logger)
    acc = (f"test acc {metrics['acc']:.3f} ({metrics['classifier']})" if metrics["classifier"]
           else f"classifier stage skipped: {metrics['classifier_skipped']}")
    print(
        f"\n{metrics['dataset']} | loss={metrics['loss']} | K={metrics['K']} | "
        f"pretraining {metrics['pretrain_time_s']:.1f} s ({metrics['steps']} steps) | {acc}\nmetrics: {path}"
    )
    return metrics


def baselines(config: Mapping) -> dict:
    """The 1-NN baselines' run (``iars-baselines``): ``config["methods"]`` on
    ``config["dataset"]``, recorded in ``metrics.json`` and logged."""
    require(config)
    out_dir = Path(config["output_dir"])
    check_fresh(out_dir)
    unknown = set(config["methods"]) - set(METHODS)
    if unknown or config["normalise"] not in NORMALISATIONS:
        raise ConfigError(f"methods must be among {', '.join(METHODS)} and normalise none or znorm; "
                          f"got methods={list(config['methods'])}, normalise={config['normalise']!r}")
    datamodule = build(config["dataset"])
    skipped = skipped_reason(datamodule.prepare())  # validates the data and its known shape
    if skipped:
        raise ConfigError(f"dataset {datamodule.name!r}: the 1-NN baselines need labelled train and test "
                          f"splits, but {skipped}")
    results = one_nn(*datamodule.raw(), methods=list(config["methods"]), normalise=config["normalise"])
    metrics = {"dataset": datamodule.name, "loss": "baselines", "normalise": config["normalise"], **results,
               "config": dict(config)}
    logger = make_logger(config, job_type="baselines")
    try:
        log_results(logger, {f"acc/{k}": v for k, v in results["acc"].items() if v is not None})
        path = write_metrics(out_dir, metrics)
    finally:
        finish(logger)
    accs = " | ".join(f"{k} {'n/a' if v is None else f'{v:.3f}'}" for k, v in results["acc"].items())
    print(f"\n{metrics['dataset']} ({config['normalise']}) | {accs}\nmetrics: {path}")
    return metrics


# -- loggers ------------------------------------------------------------------------------


def _is_wandb(logger: Any) -> bool:
    return type(logger).__name__ == "WandbLogger"


def make_logger(config: Mapping, job_type: str):
    """The logger of ``config["logger"]`` (None when absent), holding the whole resolved
    config as its hyperparameters; a W&B run gets ``job_type``. ``log_model`` is ours
    (:func:`log_artifacts`), not passed on."""
    spec = config.get("logger")
    if not spec:
        return None
    spec = {k: v for k, v in spec.items() if k != "log_model"}
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

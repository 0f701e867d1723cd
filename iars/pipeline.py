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

import os
import signal
import statistics
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from iars.callbacks import PretrainClock, SaveOnInterrupt
from iars.config import build, require
from iars.data import Split, TimeSeriesDataModule, ts2vec_budget
from iars.errors import ConfigError, DataError, RunInterrupted, user_error
from iars.evaluate import POOLINGS, PROTOCOLS, classify, encode
from iars.module import ContrastivePretrainer
from iars.runs import (
    CHECKPOINT_FILE,
    EMBEDDINGS_FILE,
    FAILURE_FILE,
    METRICS_FILE,
    held,
    write_embeddings,
    write_json,
    write_metrics,
)
from iars.variants import variant_of

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
    """A ``loss`` config -> :class:`ContrastivePretrainer` keyword arguments (without the
    ``variant`` name, which the record keeps). ``level`` is the older name of ``resolution``
    and still accepted."""
    settings = {k: v for k, v in loss.items() if k != "variant"}
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
    ckpt_path: str | Path | None = None,
    save_on_signal: str | Path | None = None,
    module_class: type[ContrastivePretrainer] = ContrastivePretrainer,
) -> Pretrained:
    """Seed, build encoder, module and Trainer from ``config``, and fit on ``datamodule``.

    The budget is ``trainer.max_steps``/``max_epochs``, else TS2Vec's; ``ckpt_path`` resumes
    from a checkpoint, which must match the config. The module brings its selection callback
    (IARS). With ``save_on_signal``, SIGTERM or SIGINT stops training at the next step
    boundary, saves a checkpoint there and raises :class:`~iars.errors.RunInterrupted`.
    """
    pl.seed_everything(_check_seed(config["seed"]), workers=True, verbose=False)
    module = build_module(config, datamodule, module_class)
    if ckpt_path is not None:
        check_checkpoint(ckpt_path, module)
    clock = PretrainClock()
    on_signal = [SaveOnInterrupt(save_on_signal)] if save_on_signal is not None else []
    callbacks = [clock, *callbacks, *on_signal]
    trainer = build(
        config["trainer"], **budget(config["trainer"], datamodule.prepare().X_train), logger=logger or False,
        callbacks=callbacks, default_root_dir=None if root_dir is None else str(root_dir),
        enable_checkpointing=any(isinstance(c, Checkpoint) for c in callbacks),
    )
    with warnings.catch_warnings(), _sigint_as_sigterm(enabled=bool(on_signal)) as received:
        for message in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message)
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=None if ckpt_path is None else str(ckpt_path))
        except SIGTERMException:  # Lightning's SystemExit (status 0!) after the step in progress
            signum = received[0] if received else signal.SIGTERM
            stopped = f"interrupted by {signal.Signals(signum).name} at step {trainer.global_step}"
            if on_signal and on_signal[0].saved:
                raise RunInterrupted(signum, f"{stopped}; saved {save_on_signal}. To continue, run the same command "
                                             f"with resume=auto hydra.run.dir={Path(save_on_signal).parent}") from None
            raise RunInterrupted(signum, f"{stopped}; no checkpoint was saved") from None
    return Pretrained(module, trainer, clock)


@contextmanager
def _sigint_as_sigterm(enabled: bool) -> Iterator[list[int]]:
    """While fitting, Ctrl-C (SIGINT) stops like SIGTERM does: at the next step boundary, so that
    the checkpoint is consistent; a second Ctrl-C stops at once. Yields the signals received."""
    received: list[int] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_sigint(signum, frame):
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        print("\nstopping after this step (Ctrl-C again to stop at once) ...", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # Lightning's SIGTERM handling stops at the step boundary

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


COMPARED_HPARAMS = {"seed": "seed", "lr": "lr", "averaged": "averaged", "max_length": "the training series' length",
                    "normaliser": "the training data's statistics", "encoder": "model"}
"""Module settings a checkpoint must share with the run that resumes it, and what they are
called in a config (the loss settings are ``loss.<name>``)."""


def check_checkpoint(path: str | Path, module: ContrastivePretrainer) -> None:
    """Refuse a checkpoint that is missing, not an iars module's, or trained with other
    settings than ``module``'s (encoder, loss, data), naming the differences."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ckpt_path={str(path)!r}: no such file; give the path of a checkpoint (a run's last.ckpt)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True).get("hyper_parameters", {})
    except Exception as exc:
        raise ConfigError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    ignored = {"compile_encoder", "block"}  # how, not what, is computed
    differ = []
    for key in sorted(set(saved) | set(module.hparams)):
        if key in ignored or saved.get(key) == module.hparams.get(key):
            continue
        if key == "encoder" and isinstance(saved.get(key), Mapping) and isinstance(module.hparams.get(key), Mapping):
            a, b = saved[key], module.hparams[key]
            differ += [f"model.{k} is {a.get(k)!r} there, {b.get(k)!r} here" for k in sorted(set(a) | set(b))
                       if a.get(k) != b.get(k) and k != "in_channels"]
            if a.get("in_channels") != b.get("in_channels"):
                differ.append(f"the data has {a.get('in_channels')} channels there, {b.get('in_channels')} here")
            continue
        name = COMPARED_HPARAMS.get(key, f"loss.{key}")
        differ.append(f"{name} differs" if key == "normaliser" else f"{name} is {saved.get(key)!r} there, "
                      f"{module.hparams.get(key)!r} here")
    if differ:
        raise ConfigError(f"{path} does not match this run: {'; '.join(differ)}. Resume with the settings and "
                          "data it was trained with, or start a new run without ckpt_path/resume.")


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


def check_classifier_stage(config: Mapping, data: Split) -> list[str]:
    """Refuse, before any pretraining, what would make the classifier stage fail; returns
    warnings for what only weakens it (test labels the train split lacks)."""
    classifier = config["classifier"]
    if classifier["protocol"] not in PROTOCOLS:
        raise ConfigError(f"classifier.protocol={classifier['protocol']!r}: choose one of {', '.join(PROTOCOLS)}")
    if classifier["pooling"] not in POOLINGS:
        raise ConfigError(f"classifier.pooling={classifier['pooling']!r}: choose one of {', '.join(POOLINGS)}")
    if skipped_reason(data) is not None:
        return []
    classes = np.unique(data.y_train)
    if len(classes) < 2:
        raise DataError(f"dataset {config['dataset'].get('name')!r}: the train split has one class, and a classifier "
                        "needs two or more; give labelled series of several classes, or no labels to pretrain only")
    unseen = sorted(set(np.unique(data.y_test).tolist()) - set(classes.tolist()))
    if unseen:
        return [f"{int(np.isin(data.y_test, unseen).sum())} test series have labels that no train series has "
                "(always misclassified)"]
    return []


def run_record(config: Mapping, datamodule: TimeSeriesDataModule, fitted: Pretrained,
               warnings_: Sequence[str] = ()) -> dict:
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
        "variant": config["loss"].get("variant") or variant_of(config["loss"]),
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
        "pretrain_segments_s": clock.segments,
        "step_time_s": statistics.median(clock.step_times) if clock.step_times else None,
        "steps": clock.steps,
        "epochs": fitted.trainer.current_epoch,
        **({} if history is None else {
            "probe_time_s": fitted.module.selection.probe_seconds,
            "selected_resolutions": [h["resolution"] for h in history],
            "resolution_losses": [h["losses"] for h in history],
            "selection_probs": [h["next_probs"] for h in history],
        }),
        **({"warnings": list(warnings_)} if warnings_ else {}),
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


def resume_from(config: Mapping, out_dir: Path) -> Path | None:
    """The checkpoint a run continues: ``ckpt_path`` when given; with ``resume=auto`` the run
    folder's ``last.ckpt`` when there is one (else the run starts afresh)."""
    resume, ckpt = config.get("resume"), config.get("ckpt_path")
    if resume not in (None, False, "auto"):
        raise ConfigError(f"resume={resume!r}: give resume=auto (continue this run folder's last.ckpt) or leave it "
                          "null; ckpt_path=<file> resumes from another checkpoint")
    if ckpt is not None:
        if resume == "auto":
            raise ConfigError("give either resume=auto or ckpt_path, not both")
        return Path(ckpt)
    if resume == "auto" and (out_dir / CHECKPOINT_FILE).is_file():
        return out_dir / CHECKPOINT_FILE
    return None


def train(config: Mapping) -> dict:
    """The command line's run (``iars-train``): claim the run folder, pretrain (with periodic
    checkpoints and, on SIGTERM/SIGINT, one at the step boundary), save ``last.ckpt``, run the
    classifier stage, write ``metrics.json`` into ``config["output_dir"]`` and log to
    ``config["logger"]``; prints a summary line and returns the record ({} on ranks > 0)."""
    require(config)
    with held(config["output_dir"]) as out_dir:
        return _train(config, out_dir)


def _train(config: Mapping, out_dir: Path) -> dict:
    _set_threads(config.get("threads"))
    ckpt_path = resume_from(config, out_dir)
    datamodule = build(config["dataset"])
    notes = check_classifier_stage(config, datamodule.prepare())
    callbacks = [build(spec) for spec in (config.get("callbacks") or {}).values() if spec]
    logger = make_logger(config, job_type="train")
    try:
        fitted = pretrain(config, datamodule, logger=logger, root_dir=out_dir, ckpt_path=ckpt_path,
                          callbacks=[_ConfigInCheckpoint(config), *callbacks],
                          save_on_signal=out_dir / CHECKPOINT_FILE if config["save_checkpoint"] else None)
        if config["save_checkpoint"]:  # a collective call under DDP: every rank enters, rank 0 writes
            fitted.trainer.save_checkpoint(out_dir / CHECKPOINT_FILE, weights_only=False)
        if not fitted.trainer.is_global_zero:
            return {}  # the classifier stage and metrics.json: rank 0 only
        metrics = run_record(config, datamodule, fitted, notes)
        log_results(logger, {k: v for k, v in metrics.items() if k in RESULT_KEYS and v is not None})
        path = write_metrics(out_dir, metrics)
        if (config.get("logger") or {}).get("log_model"):
            log_artifacts(logger, out_dir, f"{datamodule.name}-{metrics['loss']}")
    finally:
        finish(logger)
    acc = (f"test acc {metrics['acc']:.3f} ({metrics['classifier']})" if metrics["classifier"]
           else f"classifier stage skipped: {metrics['classifier_skipped']}")
    segments = len(metrics["pretrain_segments_s"])
    print(
        "".join(f"\nwarning: {note}" for note in notes) +
        f"\n{metrics['dataset']} | loss={metrics['loss']} | K={metrics['K']} | "
        f"pretraining {metrics['pretrain_time_s']:.1f} s ({metrics['steps']} steps"
        f"{f', {segments} segments' if segments > 1 else ''}) | {acc}\nmetrics: {path}"
    )
    return metrics


def run_cli(run: Callable[[Mapping], Any], config: Mapping, *, sweep: bool = False) -> Any:
    """How the command-line entry points run ``run(config)`` and report its end.

    - A user error (:class:`~iars.errors.IarsError`) prints one ``error:`` line and exits with
      status 2; any other error raises with its traceback (a bug to see, not to hide).
    - An interrupted run prints where its checkpoint is and how to resume, and exits with
      128 + the signal (143 for SIGTERM, 130 for SIGINT), in a sweep too.
    - In a sweep (``sweep=True``) a failing job prints its error (and the traceback of an
      unexpected one), records it as ``failure.json`` in its folder and returns None: the other
      jobs go on, and the sweep's end lists the failures and exits non-zero.
    """
    try:
        return run(config)
    except RunInterrupted as exc:
        print(f"\n{exc.message}", file=sys.stderr)
        sys.exit(exc.exit_status)
    except Exception as exc:
        err = user_error(exc)
        if not sweep and err is None:
            raise
        message = f"error: {err}" if err is not None else f"error: {type(exc).__name__}: {exc} (traceback above)"
        if err is None:
            traceback.print_exc()
        print(message, file=sys.stderr)
        if not sweep:
            sys.exit(2)
        job = Path(config["output_dir"])
        if job.is_dir() and not (job / METRICS_FILE).exists():
            write_json(job / FAILURE_FILE, {"error": message.removeprefix("error: ")})
        return None


def baselines(config: Mapping) -> dict:
    """The 1-NN baselines' run (``iars-baselines``): ``config["methods"]`` on
    ``config["dataset"]``, recorded in ``metrics.json`` and logged."""
    require(config)
    with held(config["output_dir"]) as out_dir:
        return _baselines(config, out_dir)


def _baselines(config: Mapping, out_dir: Path) -> dict:
    from iars.baselines import METHODS, NORMALISATIONS, one_nn  # aeon's distances: imported when used

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

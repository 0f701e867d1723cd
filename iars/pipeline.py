"""One run, from a plain config dict to a trained encoder and its record: the code path that
the command-line scripts and :class:`iars.TimeSeriesEncoder` share.

A config is the nested dict of plain values that ``conf/train.yaml`` composes. Pretraining
(:func:`pretrain`) reads ``seed``, ``lr``, ``averaged``, ``compile``, ``ckpt_path`` and the
specs ``model``, ``loss`` and ``trainer``; a whole run (:func:`train`) also ``dataset``,
``classifier``, ``logger``, ``output_dir``, ``threads``, ``save_checkpoint``,
``save_embeddings`` and ``task`` (:mod:`iars.tasks`; default classification). Checkpoint
matching lives in :mod:`iars.checkpoints`, loggers in :mod:`iars.loggers`, the exit policy in
:mod:`iars.exits`. Objects are built from ``_target_`` specs (:func:`iars.config.build`), so
nothing here needs Hydra.
"""
from __future__ import annotations

import os
import signal
import statistics
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from iars.callbacks import PretrainClock, SaveOnInterrupt
from iars.checkpoints import ConfigInCheckpoint, check_checkpoint, resume_from
from iars.config import build, require
from iars.data import TimeSeriesDataModule, ts2vec_budget
from iars.errors import ConfigError, DataError, RunInterrupted
from iars.legacy import upgrade_loss
from iars.loggers import finish, log_artifacts, log_results, make_logger
from iars.module import ContrastivePretrainer
from iars.runs import CHECKPOINT_FILE, held, write_metrics
from iars.tasks import classification, task
from iars.variants import variant_of

RESULT_KEYS = ("pretrain_time_s", "step_time_s", "steps", "epochs", "probe_time_s")
"""What every run logs to its logger as results (and into W&B's summary), beside its task's
(``results(record)`` of :mod:`iars.tasks`: e.g. ``acc``, ``mse/24``)."""

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


def check_budget(trainer: Mapping, names: Mapping[str, str] | None = None, unset: str = "null") -> None:
    """Refuse a ``max_steps``/``max_epochs`` that is not a positive integer (0 would score an
    untrained encoder, -1 train forever); ``names`` and ``unset`` say what the caller calls
    them and their absence."""
    names = names or {"max_steps": "trainer.max_steps", "max_epochs": "trainer.max_epochs"}
    for key, name in names.items():
        value = trainer.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{name}={value!r}: give a positive number of {key.removeprefix('max_')} to pretrain for, "
                              f"or {unset} for TS2Vec's budget (200 steps on small data, else 600)")


def budget(trainer: Mapping, X_train) -> dict[str, int]:
    """``max_steps``/``max_epochs`` for the Trainer: as configured (positive integers:
    :func:`check_budget`), else TS2Vec's step budget."""
    check_budget(trainer)
    steps, epochs = trainer.get("max_steps"), trainer.get("max_epochs")
    if steps is None and epochs is None:
        return {"max_steps": ts2vec_budget(X_train), "max_epochs": -1}
    return {"max_steps": -1 if steps is None else steps, "max_epochs": -1 if epochs is None else epochs}


def loss_settings(loss: Mapping) -> dict[str, Any]:
    """A ``loss`` config -> :class:`ContrastivePretrainer` keyword arguments (without the
    ``variant`` name, which the record keeps; older names upgraded: :mod:`iars.legacy`)."""
    return {k: v for k, v in upgrade_loss(loss).items() if k != "variant"}


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
                raise RunInterrupted(signum, f"{stopped}; saved {save_on_signal}", checkpoint=Path(save_on_signal)) from None
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


# -- a whole run: pretrain, classify, record ----------------------------------------------


def run_record(config: Mapping, datamodule: TimeSeriesDataModule, fitted: Pretrained, evaluated: Mapping,
               warnings_: Sequence[str] = ()) -> dict:
    """The run's record: what it trained, the task's fields (``evaluated``), the pretraining's
    seconds and steps, the selection history, warnings and the whole config."""
    clock, history = fitted.clock, fitted.history
    return {
        "dataset": datamodule.name,
        "variant": config["loss"].get("variant") or variant_of(config["loss"]),
        "loss": config["loss"]["mode"],
        "model": config["model"]["_target_"].rsplit(".", 1)[-1],
        "K": config["model"]["K"],
        "seed": config["seed"],
        **evaluated,
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
    check_budget(config["trainer"])
    ckpt_path = resume_from(config, out_dir)
    datamodule = build(config["dataset"])
    stage = task(config.get("task"))
    notes = stage.check(config, datamodule.prepare())
    callbacks = [build(spec) for spec in (config.get("callbacks") or {}).values() if spec]
    logger = make_logger(config, job_type="train")
    try:
        fitted = pretrain(config, datamodule, logger=logger, root_dir=out_dir, ckpt_path=ckpt_path,
                          callbacks=[ConfigInCheckpoint(config), *callbacks],
                          save_on_signal=out_dir / CHECKPOINT_FILE if config["save_checkpoint"] else None)
        if config["save_checkpoint"]:  # a collective call under DDP: every rank enters, rank 0 writes
            fitted.trainer.save_checkpoint(out_dir / CHECKPOINT_FILE, weights_only=False)
        if not fitted.trainer.is_global_zero:
            return {}  # the classifier stage and metrics.json: rank 0 only
        saved = out_dir / CHECKPOINT_FILE if config["save_checkpoint"] else None
        with _stop_after_pretraining(fitted.trainer.global_step, saved):
            scores = stage.evaluate(config, datamodule, fitted.module.eval_encoder)
            notes = [*notes, *scores.pop("warnings", [])]
            metrics = run_record(config, datamodule, fitted, scores, notes)
            log_results(logger, {**{k: v for k, v in metrics.items() if k in RESULT_KEYS and v is not None},
                                 **stage.results(metrics)})
            path = write_metrics(out_dir, metrics)
        if (config.get("logger") or {}).get("log_model"):
            log_artifacts(logger, out_dir, f"{datamodule.name}-{metrics['loss']}")
    finally:
        finish(logger)
    segments = len(metrics["pretrain_segments_s"])
    print(
        "".join(f"\nwarning: {note}" for note in notes) +
        f"\n{metrics['dataset']} | loss={metrics['loss']} | K={metrics['K']} | "
        f"pretraining {metrics['pretrain_time_s']:.1f} s ({metrics['steps']} steps"
        f"{f', {segments} segments' if segments > 1 else ''}) | {stage.summary(metrics)}\nmetrics: {path}"
    )
    return metrics


class _Stopped(BaseException):
    """A signal during the evaluation stage: a BaseException, so that no ``except Exception``
    on the way (scikit-learn's scoring of a failed fit) takes it for an error and goes on."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _stop_after_pretraining(steps: int, checkpoint: Path | None) -> Iterator[None]:
    """While a run evaluates its finished encoder: SIGTERM or SIGINT stops it at once with
    :class:`~iars.errors.RunInterrupted`, saying that the pretraining finished and where it is
    saved (``resume=auto`` then reruns only the evaluation), instead of dying with "Terminated"."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):
        raise _Stopped(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stopped as stop:
        name = signal.Signals(stop.signum).name
        stopped = f"interrupted by {name} in the evaluation stage; the pretraining had finished ({steps} steps)"
        if checkpoint is None:
            raise RunInterrupted(stop.signum, f"{stopped} but was not saved (save_checkpoint=false): a rerun "
                                 "pretrains again") from None
        raise RunInterrupted(stop.signum, f"{stopped} and is saved in {checkpoint}; resuming skips it and runs only "
                             "the evaluation", checkpoint=checkpoint) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def baselines(config: Mapping) -> dict:
    """The baselines' run (``iars-baselines``): ``config["methods"]`` (1-NN, MiniRocket,
    Catch22: :mod:`iars.baselines`) on ``config["dataset"]``, recorded in ``metrics.json``
    and logged."""
    require(config)
    with held(config["output_dir"]) as out_dir:
        return _baselines(config, out_dir)


def _baselines(config: Mapping, out_dir: Path) -> dict:
    from iars.baselines import METHODS, MISSING, NORMALISATIONS, evaluate  # aeon: imported when used

    methods, missing = list(config["methods"]), config.get("missing", "interpolate")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods or config["normalise"] not in NORMALISATIONS or missing not in MISSING:
        raise ConfigError(f"methods must be some of {', '.join(METHODS)}, normalise none or znorm and missing "
                          f"refuse or mean; got methods={methods}, normalise={config['normalise']!r}, "
                          f"missing={missing!r}")
    threads = config.get("threads") or 1
    if not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads={threads!r}: give a positive number of CPU threads")
    datamodule = build(config["dataset"])
    skipped = classification.skipped_reason(datamodule.prepare())  # validates the data and its known shape
    if skipped:
        raise ConfigError(f"dataset {datamodule.name!r}: the baselines need labelled train and test "
                          f"splits, but {skipped}")
    try:
        results = evaluate(*datamodule.raw(), methods=methods, normalise=config["normalise"], missing=missing,
                           seed=config.get("seed"), threads=threads)
    except DataError as exc:
        raise DataError(f"dataset {datamodule.name!r}: {exc}") from exc
    metrics = {"dataset": datamodule.name, "loss": "baselines", "normalise": config["normalise"],
               "missing": missing, "seed": config.get("seed"), **results, "config": dict(config)}
    logger = make_logger(config, job_type="baselines")
    try:
        log_results(logger, {f"{what}/{k}": v for what in ("acc", "time_s") for k, v in results[what].items()
                             if v is not None})
        path = write_metrics(out_dir, metrics)
    finally:
        finish(logger)
    cells = " | ".join(f"{k} {'n/a' if v is None else f'{v:.3f}'}"
                       + ("" if v is None else f" ({results['time_s'][k]:.1f} s)") for k, v in results["acc"].items())
    filled = results["filled_cells"]
    notes = (f"\nnote: {filled['train']} train and {filled['test']} test cells were missing, filled "
             f"({missing})" if filled["train"] or filled["test"] else "")
    notes += "".join(f"\nnote: {k}: {v}" for k, v in results["notes"].items())
    print(f"{notes}\n{metrics['dataset']} ({config['normalise']}) | {cells}\nmetrics: {path}")
    return metrics



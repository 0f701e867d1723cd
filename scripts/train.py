"""Pretrain an encoder with a contrastive loss, then evaluate it with a classifier.

    python scripts/train.py                                    # BasicMotions, hierarchical loss
    python scripts/train.py loss=hier model.K=64 dataset=atrial_fibrillation dataset.data_dir=../shared/data/UEA
    python scripts/train.py -m model.K=16,32                   # a sweep under outputs/multirun/

Each run writes metrics.json (config summary, accuracy, pretraining seconds) into its
run dir under outputs/, and logs to the configured logger.
"""
from __future__ import annotations

import statistics
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from iars.callbacks import PretrainClock, ResolutionSelection
from iars.data import TimeSeriesDataModule, ts2vec_budget
from iars.errors import IarsError
from iars.evaluate import classify, encode
from iars.module import ContrastivePretrainer
from iars.runs import check_fresh, write_embeddings, write_metrics

warnings.filterwarnings("ignore", ".*does not have many workers.*")


def _budget(trainer_cfg: DictConfig, X_train) -> dict:
    """max_steps/max_epochs for the Trainer: as configured, else TS2Vec's step budget."""
    steps, epochs = trainer_cfg.max_steps, trainer_cfg.max_epochs
    if steps is None and epochs is None:
        return {"max_steps": ts2vec_budget(X_train), "max_epochs": -1}
    return {"max_steps": -1 if steps is None else steps, "max_epochs": -1 if epochs is None else epochs}


def _log_results(logger, results: dict) -> None:
    if not logger:
        return
    logger.log_metrics(results)
    if isinstance(logger, pl.loggers.WandbLogger):
        logger.experiment.summary.update(results)


@dataclass
class Experiment:
    """Everything one run needs, built from the composed config."""

    datamodule: TimeSeriesDataModule
    module: ContrastivePretrainer
    trainer: pl.Trainer
    clock: PretrainClock
    selection: ResolutionSelection | None


def build(cfg: DictConfig, module_class=ContrastivePretrainer, logger=None) -> Experiment:
    """Seed, load the data and instantiate module, callbacks and Trainer from ``cfg``."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.dataset)
    data = datamodule.prepare()
    encoder = instantiate(cfg.model)(in_channels=data.n_channels)
    loss = OmegaConf.to_container(cfg.loss, resolve=True)
    selection_cfg = loss.pop("selection", None)
    module = module_class(
        encoder, max_length=datamodule.pretrain_X.shape[1], seed=cfg.seed, lr=cfg.lr, averaged=cfg.averaged,
        compile_encoder=cfg.compile, **loss,
    )
    clock = PretrainClock()
    selection = None
    if selection_cfg is not None and loss.get("granularity", "epoch") == "epoch":
        selection = ResolutionSelection(scoring=module.scoring, seed=cfg.seed, **selection_cfg)
    trainer = instantiate(
        cfg.trainer, **_budget(cfg.trainer, data.X_train), logger=logger or False,
        callbacks=[clock] + ([selection] if selection else []), default_root_dir=str(cfg.output_dir),
    )
    return Experiment(datamodule, module, trainer, clock, selection)


def train(cfg: DictConfig) -> dict:
    """Run one experiment described by the composed config; returns its metrics."""
    out_dir = Path(cfg.output_dir)
    check_fresh(out_dir)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    logger = instantiate(cfg.logger) if cfg.get("logger") else None
    try:
        exp = build(cfg, logger=logger)
        exp.trainer.fit(exp.module, datamodule=exp.datamodule, ckpt_path=cfg.ckpt_path)
        if cfg.save_checkpoint:  # a collective call under DDP: every rank enters, rank 0 writes
            exp.trainer.save_checkpoint(out_dir / "last.ckpt", weights_only=False)
        if not exp.trainer.is_global_zero:
            return {}  # the classifier stage and metrics.json: rank 0 only
        metrics = _evaluate(cfg, exp)
        _log_results(logger, {k: v for k, v in metrics.items() if k in RESULT_KEYS})
        path = write_metrics(out_dir, metrics)
    finally:
        if isinstance(logger, pl.loggers.WandbLogger):
            import wandb

            wandb.finish()
    print(
        f"\n{metrics['dataset']} | loss={metrics['loss']} | K={metrics['K']} | "
        f"pretraining {metrics['pretrain_time_s']:.1f} s ({metrics['steps']} steps) | "
        f"test acc {metrics['acc']:.3f} ({metrics['classifier']})\nmetrics: {path}"
    )
    return metrics


RESULT_KEYS = ("acc", "f1", "pretrain_time_s", "step_time_s", "steps", "epochs", "probe_time_s")


def _evaluate(cfg: DictConfig, exp: Experiment) -> dict:
    """Classifier stage on the trained encoder, and the run's metrics record."""
    data = exp.datamodule.prepare()
    features = [encode(exp.module.eval_encoder, X, cfg.classifier.pooling) for X in (data.X_train, data.X_test)]
    scores = classify(features[0], data.y_train, features[1], data.y_test, cfg.classifier.protocol)
    if cfg.save_embeddings:
        write_embeddings(cfg.output_dir, features[0], data.y_train, features[1], data.y_test)
    clock, history = exp.clock, exp.selection.history if exp.selection else None
    return {
        "dataset": exp.datamodule.name,
        "loss": cfg.loss.mode,
        "model": cfg.model._target_.rsplit(".", 1)[-1],
        "K": cfg.model.K,
        "seed": cfg.seed,
        "classifier": cfg.classifier.protocol,
        "n_train": int(data.X_train.shape[0]),
        "n_test": int(data.X_test.shape[0]),
        "length": int(data.X_train.shape[1]),
        "channels": data.n_channels,
        **scores,
        "pretrain_time_s": clock.seconds,
        "step_time_s": statistics.median(clock.step_times) if clock.step_times else None,
        "steps": clock.steps,
        "epochs": exp.trainer.current_epoch,
        **({} if history is None else {
            "probe_time_s": exp.selection.probe_seconds,
            "selected_levels": [h["level"] for h in history],
            "level_losses": [h["losses"] for h in history],
            "selection_probs": [h["next_probs"] for h in history],
        }),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


def user_error(exc: BaseException) -> IarsError | None:
    """The IarsError behind ``exc`` (Hydra wraps errors raised while instantiating)."""
    while exc is not None:
        if isinstance(exc, IarsError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def main_guard(run, cfg: DictConfig):
    """Call ``run(cfg)``; a user error prints one line and exits 2 (in a sweep, the job
    fails and the other jobs go on)."""
    try:
        return run(cfg)
    except Exception as exc:
        err = user_error(exc)
        if err is None:
            raise
        print(f"error: {err}", file=sys.stderr)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            return None  # the other jobs of the sweep go on
        sys.exit(2)


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    result = main_guard(train, cfg)
    return result.get("acc") if result else None


if __name__ == "__main__":
    main()

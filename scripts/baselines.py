"""1-NN baselines (ED, DTW-I, DTW-D) of the UEA archive on one dataset.

    python scripts/baselines.py dataset=atrial_fibrillation dataset.data_dir=../shared/data/UEA
    python scripts/baselines.py dataset=basic_motions normalise=znorm

Writes metrics.json (``dataset``, ``acc`` = {"1NN-ED": …, "1NN-DTW-I": …, "1NN-DTW-D": …})
into its run dir under outputs/baselines/, beside the SSL runs' records, and logs the
accuracies to the configured logger.
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from train import main_guard

from iars.baselines import METHODS, one_nn
from iars.errors import ConfigError
from iars.runs import check_fresh, write_metrics


def baselines(cfg: DictConfig) -> dict:
    out_dir = Path(cfg.output_dir)
    check_fresh(out_dir)
    unknown = set(cfg.methods) - set(METHODS)
    if unknown or cfg.normalise not in ("none", "znorm"):
        raise ConfigError(f"methods must be among {', '.join(METHODS)} and normalise none or znorm; "
                          f"got methods={list(cfg.methods)}, normalise={cfg.normalise!r}")
    datamodule = instantiate(cfg.dataset)
    datamodule.prepare()  # validates the data and its known shape
    results = one_nn(*datamodule.raw(), methods=list(cfg.methods), normalise=cfg.normalise)
    metrics = {"dataset": datamodule.name, "loss": "baselines", "normalise": cfg.normalise, **results,
               "config": OmegaConf.to_container(cfg, resolve=True)}
    logger = instantiate(cfg.logger) if cfg.get("logger") else None
    try:
        if logger:
            flat = {f"acc/{k}": v for k, v in results["acc"].items() if v is not None}
            logger.log_metrics(flat)
            if isinstance(logger, pl.loggers.WandbLogger):
                logger.experiment.summary.update(flat)
        path = write_metrics(out_dir, metrics)
    finally:
        if isinstance(logger, pl.loggers.WandbLogger):
            import wandb

            wandb.finish()
    accs = " | ".join(f"{k} {'n/a' if v is None else f'{v:.3f}'}" for k, v in results["acc"].items())
    print(f"\n{metrics['dataset']} ({cfg.normalise}) | {accs}\nmetrics: {path}", file=sys.stdout)
    return metrics


@hydra.main(config_path="../conf", config_name="baselines", version_base="1.3")
def main(cfg: DictConfig):
    return main_guard(baselines, cfg)


if __name__ == "__main__":
    main()

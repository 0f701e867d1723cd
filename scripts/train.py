"""Pretrain an encoder with a contrastive loss, then evaluate it with a classifier.

    iars-train                                                  # BasicMotions, hierarchical loss
    iars-train loss=iars model.K=64
    iars-train loss=hier dataset=atrial_fibrillation dataset.data_dir=../shared/data/UEA
    iars-train dataset=arrays dataset.train=mine.csv            # your own series, labels optional
    iars-train -m model.K=16,32                                 # a sweep under outputs/multirun/

(``python scripts/train.py ...`` is the same.) Each run writes metrics.json (config summary,
accuracy, pretraining seconds) and last.ckpt into its run dir under outputs/, and logs to
the configured logger. The run itself is :func:`iars.pipeline.train`.
"""
from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from iars import pipeline
from iars.errors import IarsError
from iars.exits import refuse, run_cli
from iars.legacy import upgrade_overrides
from iars.scripts.hydra_errors import hydra_errors_as_user_errors
from iars.tasks import task


def main() -> None:
    """``iars-train``: older override keys (``loss.level``) under their current names, then Hydra
    (its config errors refused as bad input: :mod:`iars.scripts.hydra_errors`)."""
    try:
        sys.argv[1:] = upgrade_overrides(sys.argv[1:])
    except IarsError as exc:
        refuse(exc)
    with hydra_errors_as_user_errors():
        _main()


@hydra.main(config_path="pkg://iars.conf", config_name="train", version_base="1.3")
def _main(cfg: DictConfig) -> float | None:
    config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    result = run_cli(pipeline.train, config, sweep=HydraConfig.get().mode == RunMode.MULTIRUN)
    return task(config.get("task")).validation_score(result) if result else None  # for sweepers: never the test split


if __name__ == "__main__":
    main()

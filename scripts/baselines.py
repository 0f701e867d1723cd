"""1-NN baselines (ED, DTW-I, DTW-D) of the UEA archive on one dataset.

    iars-baselines dataset=atrial_fibrillation dataset.data_dir=../shared/data/UEA
    iars-baselines dataset=basic_motions normalise=znorm

(``python scripts/baselines.py ...`` is the same.) Writes metrics.json (``dataset``,
``acc`` = {"1NN-ED": …, "1NN-DTW-I": …, "1NN-DTW-D": …}) into its run dir under
outputs/baselines/, beside the SSL runs' records, and logs the accuracies to the configured
logger. The run itself is :func:`iars.pipeline.baselines`.
"""
from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from iars import pipeline
from iars.exits import run_cli
from iars.scripts.hydra_errors import hydra_errors_as_user_errors


def main() -> None:
    """``iars-baselines``: Hydra, its config errors refused as bad input (:mod:`iars.scripts.hydra_errors`)."""
    with hydra_errors_as_user_errors():
        _main()


@hydra.main(config_path="pkg://iars.conf", config_name="baselines", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    run_cli(pipeline.baselines, config, sweep=HydraConfig.get().mode == RunMode.MULTIRUN)


if __name__ == "__main__":
    main()

"""A Hydra app for the sweep tests, without torch: iars's joblib launcher and sweep callback
around a job that finishes at once (writes metrics.json: its number, its OpenMP threads), kills its own
process with SIGKILL (job numbers in ``kill``), ends it with status 3 (``exit``), or runs until a signal stops it as it stops an
iars run (``wait``: :class:`~iars.errors.RunInterrupted` through :func:`~iars.exits.run_cli`;
``ignore``: it takes no notice of SIGTERM and SIGINT)."""
import os
import signal
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from iars.errors import RunInterrupted
from iars.exits import run_cli
from iars.runs import write_metrics


def job(config):
    num = config["num"]
    if num in config["kill"]:
        os.kill(os.getpid(), signal.SIGKILL)
    if num in config["exit"]:
        os._exit(3)
    if num in config["wait"] or num in config["ignore"]:
        got = []
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN if num in config["ignore"] else lambda signum, frame: got.append(signum))
        Path(config["output_dir"], "started").touch()
        while not got:
            time.sleep(0.05)
        raise RunInterrupted(got[0], f"interrupted by {signal.Signals(got[0]).name} at step 3; no checkpoint was saved")
    write_metrics(config["output_dir"], {"job": num, "threads": os.environ.get("OMP_NUM_THREADS")})
    return 1.0


@hydra.main(config_path=".", config_name="sweep_app", version_base="1.3")
def main(cfg):
    config = OmegaConf.to_container(cfg, resolve=True)
    return run_cli(job, {**config, "num": HydraConfig.get().job.num}, sweep=True)


if __name__ == "__main__":
    main()

"""What the tests share: paths, override sets, and composing and running configs the way the
command line does (one way: :func:`compose_cfg`). Fixtures live in conftest.py."""
import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from iars import pipeline

REPO = Path(__file__).resolve().parents[1]
UEA_DIR = REPO.parent / "shared" / "data" / "UEA"

# A few steps of a small encoder: enough to exercise every stage of a run.
FAST = ["trainer.max_steps=3", "trainer.enable_progress_bar=false", "model.depth=2", "model.K=16"]
NO_LOGGER = "~logger"


def compose_cfg(output_dir, *overrides, config="train", hydra=False):
    """A script's config (``train`` or ``baselines``) composed as its CLI would, writing
    into ``output_dir``; with ``hydra``, Hydra's own node too (set as the current one, so that
    ``${hydra:...}`` resolves)."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config, overrides=[f"output_dir={output_dir}", *overrides], return_hydra_config=hydra)
    if hydra:
        HydraConfig.instance().set_config(cfg)
    return cfg


def plain(cfg):
    """A composed config as the scripts hand it to the pipeline: a plain, resolved dict."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)


def train(cfg):
    """``iars-train``'s run (:func:`iars.pipeline.train`) on a composed config."""
    return pipeline.train(plain(cfg))


def run_script(name, *args):
    """Run ``scripts/<name>`` with ``args`` as a user would, from the repo root."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *args], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=900)

import os
import subprocess
import sys
from pathlib import Path

# Idle OpenMP threads (numba's pool, started by aeon's distances) otherwise spin and starve the
# main thread on small machines: the t-SNE after a DTW test took 20-80 s instead of 2 s.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from iars import pipeline

REPO = Path(__file__).resolve().parents[1]
UEA_DIR = REPO.parent / "shared" / "data" / "UEA"

# A few steps of a small encoder: enough to exercise every stage of a run.
FAST = ["trainer.max_steps=3", "trainer.enable_progress_bar=false", "model.depth=2", "model.K=16"]
NO_LOGGER = "~logger"


def compose_cfg(output_dir, *overrides, config="train"):
    """A script's config (``train`` or ``baselines``) composed as its CLI would, writing
    into ``output_dir``."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config, overrides=[f"output_dir={output_dir}", *overrides])


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


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global random state: random tensors repeat run to run."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def uea_dir() -> Path:
    """The real UEA archive copy beside the repo (../shared/data/UEA); skips when absent."""
    if not (UEA_DIR / "AtrialFibrillation").is_dir():
        pytest.skip(f"real UEA data not found at {UEA_DIR} (only present on the project's machines)")
    return UEA_DIR

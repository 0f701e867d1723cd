import os
from pathlib import Path

# Idle OpenMP threads (numba's pool, started by aeon's distances) otherwise spin and starve the
# main thread on small machines: the t-SNE after a DTW test took 20-80 s instead of 2 s.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from helpers import UEA_DIR


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

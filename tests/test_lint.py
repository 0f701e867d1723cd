"""The linter's rules (``[tool.ruff]`` in pyproject.toml) hold over the package, scripts and tests."""
import importlib.util
import subprocess
import sys

import pytest

from helpers import REPO


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed (it comes with the dev extra: pip install -e '.[dev]')")
def test_ruff_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "iars", "scripts", "tests", "hydra_plugins"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]

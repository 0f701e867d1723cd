from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UEA_DIR = REPO.parent / "shared" / "data" / "UEA"


@pytest.fixture
def uea_dir() -> Path:
    """The real UEA archive copy beside the repo (../shared/data/UEA); skips when absent."""
    if not (UEA_DIR / "AtrialFibrillation").is_dir():
        pytest.skip(f"real UEA data not found at {UEA_DIR} (only present on the project's machines)")
    return UEA_DIR

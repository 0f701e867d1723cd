"""Every classification dataset config composes; those available offline load with their known shape."""

import pytest
from hydra.utils import instantiate

from helpers import REPO, UEA_DIR
from helpers import compose_cfg as _cfg

NOT_UEA = ("uea", "synthetic", "arrays",
           "etth1", "etth2", "forecast_csv", "solar",  # one dated series each: tests/test_forecasting.py
           "anomaly_aeon", "nab")                      # anomaly series: tests/test_anomaly.py
DATASETS = sorted(p.stem for p in (REPO / "conf" / "dataset").glob("*.yaml") if p.stem not in NOT_UEA)
PAPER = ["hand_movement_direction", "heartbeat", "atrial_fibrillation", "self_regulation_scp1", "phoneme",
         "self_regulation_scp2", "cricket", "ethanol_concentration", "stand_walk_jump", "motor_imagery"]


def test_every_paper_dataset_has_a_config():
    assert set(PAPER) <= set(DATASETS)


def test_every_local_dataset_has_a_config(uea_dir):
    local = {p.name for p in uea_dir.iterdir() if p.is_dir()}
    names = {_cfg("/tmp", f"dataset={d}").dataset.name for d in DATASETS}
    assert len(local) >= 2 and local <= names


@pytest.mark.parametrize("dataset", DATASETS)
def test_config_composes_with_a_known_shape(dataset):
    cfg = _cfg("/tmp", f"dataset={dataset}")
    dm = instantiate(cfg.dataset)
    assert set(dm.expected) == {"n_train", "n_test", "channels", "length", "classes"}
    assert dm.max_train_length == 3000


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATASETS)
def test_offline_datasets_load_with_their_known_shape(dataset):
    cfg = _cfg("/tmp", f"dataset={dataset}")
    bundled = dataset in ("basic_motions", "japanese_vowels")
    if not bundled and not (UEA_DIR / cfg.dataset.name).is_dir():
        pytest.skip(f"{cfg.dataset.name} is not available offline (not in aeon nor {UEA_DIR})")
    dm = instantiate(cfg.dataset, data_dir=None if bundled else str(UEA_DIR))
    data = dm.prepare()  # checks dataset.expected
    assert data.X_train.shape[0] == dm.expected["n_train"] and data.n_classes == dm.expected["classes"]

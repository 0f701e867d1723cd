"""The train script end to end: config composition, runs, outputs and user errors."""
import json
import math

import pytest
import torch
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate

from helpers import FAST, NO_LOGGER, run_script, train
from helpers import compose_cfg as _cfg
from iars import pipeline
from iars.errors import ConfigError


@pytest.mark.parametrize("dataset", ["basic_motions", "atrial_fibrillation", "stand_walk_jump", "japanese_vowels", "synthetic"])
@pytest.mark.parametrize("extra", [[], ["classifier=logreg", "logger=csv", "model=resnet18"], ["loss.pool=avg", "logger=wandb"]])
def test_configs_compose_and_instantiate(tmp_path, dataset, extra):
    cfg = _cfg(tmp_path, f"dataset={dataset}", *extra)
    dm = instantiate(cfg.dataset)
    assert dm.batch_size == 8 and dm.seed == cfg.seed
    encoder = instantiate(cfg.model, in_channels=3)  # in_channels comes from the data
    assert encoder.K == cfg.model.K
    assert cfg.loss.mode == "hier" and cfg.trainer.max_steps is None


def test_any_uea_name_via_the_generic_config(tmp_path):
    cfg = _cfg(tmp_path, "dataset=uea", "dataset.name=Libras", "dataset.data_dir=/data")
    dm = instantiate(cfg.dataset)
    assert (dm.name, dm.data_dir) == ("Libras", "/data")


def test_unknown_options_are_rejected_by_composition(tmp_path):
    with pytest.raises(ConfigCompositionException, match="model.hiden"):
        _cfg(tmp_path, "model.hiden=3")
    with pytest.raises(ConfigCompositionException) as e:
        _cfg(tmp_path, "dataset=basic_motion")
    assert "basic_motions" in str(e.value)  # lists the available options


def _assert_run(metrics, out_dir):
    assert 0.0 <= metrics["acc"] <= 1.0 and math.isfinite(metrics["acc"])
    assert metrics["pretrain_time_s"] > 0 and metrics["steps"] == 3
    on_disk = json.loads((out_dir / "metrics.json").read_text())
    assert on_disk["acc"] == metrics["acc"] and on_disk["pretrain_time_s"] == metrics["pretrain_time_s"]
    for key in ("dataset", "loss", "model", "K", "seed", "steps", "epochs", "config"):
        assert key in on_disk
    return on_disk


def test_end_to_end_basic_motions(tmp_path):
    metrics = train(_cfg(tmp_path, *FAST, "logger=csv"))
    on_disk = _assert_run(metrics, tmp_path)
    assert on_disk["dataset"] == "BasicMotions" and on_disk["K"] == 16 and on_disk["loss"] == "hier"
    assert (tmp_path / "last.ckpt").is_file()
    assert list((tmp_path / "csv").rglob("metrics.csv"))  # the logger wrote too


def test_end_to_end_resnet18(tmp_path):
    metrics = train(_cfg(tmp_path, "trainer.max_steps=3", "trainer.enable_progress_bar=false", NO_LOGGER,
                                      "model=resnet18", "model.K=16", "model.widths=[8,8,16,16]"))
    assert _assert_run(metrics, tmp_path)["model"] == "ResNet18Encoder"


def test_end_to_end_unequal_lengths_and_logreg(tmp_path):
    metrics = train(_cfg(tmp_path, *FAST, NO_LOGGER, "dataset=japanese_vowels", "classifier=logreg"))
    assert _assert_run(metrics, tmp_path)["classifier"] == "logreg"


def test_end_to_end_synthetic_with_wandb_disabled(tmp_path):
    metrics = train(_cfg(tmp_path, *FAST, "dataset=synthetic", "logger.mode=disabled"))
    assert _assert_run(metrics, tmp_path)["dataset"] == "Synthetic"


def test_default_budget_is_ts2vecs(tmp_path):
    cfg = _cfg(tmp_path)
    small = pipeline.budget(cfg.trainer, torch.zeros(40, 100, 6).numpy())
    large = pipeline.budget(cfg.trainer, torch.zeros(12, 2500, 4).numpy())
    assert small == {"max_steps": 200, "max_epochs": -1} and large["max_steps"] == 600
    cfg = _cfg(tmp_path, "trainer.max_epochs=5")
    assert pipeline.budget(cfg.trainer, torch.zeros(2, 2, 2).numpy()) == {"max_steps": -1, "max_epochs": 5}


def test_same_seed_same_weights(tmp_path):
    weights = []
    for run in ("a", "b"):
        train(_cfg(tmp_path / run, *FAST, NO_LOGGER, "dataset=synthetic"))
        state = torch.load(tmp_path / run / "last.ckpt", weights_only=False)["state_dict"]
        weights.append(state)
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_nonpositive_K_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="model.K must be a positive integer"):
        train(_cfg(tmp_path, *FAST, NO_LOGGER, "model.K=0"))


def test_a_finished_run_dir_is_never_overwritten(tmp_path):
    (tmp_path / "metrics.json").write_text('{"acc": 0.5}')
    with pytest.raises(ConfigError, match="already exists"):
        train(_cfg(tmp_path, *FAST, NO_LOGGER))
    assert (tmp_path / "metrics.json").read_text() == '{"acc": 0.5}'


def test_cli_reports_a_bad_dataset_without_a_traceback(tmp_path):
    run = run_script("train.py", "dataset=uea", "dataset.name=NoSuchSet", f"dataset.data_dir={tmp_path}", "~logger",
               f"hydra.run.dir={tmp_path / 'run'}")
    assert run.returncode == 2
    assert "error: dataset 'NoSuchSet' not found" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr


def test_cli_reports_an_unknown_option_without_a_traceback(tmp_path):
    run = run_script("train.py", "model.kk=3", f"hydra.run.dir={tmp_path / 'run'}")
    assert run.returncode != 0 and "Could not override 'model.kk'" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr


def test_cli_multirun_puts_every_run_under_the_sweep_dir_and_survives_bad_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    run = run_script("train.py", "-m", "dataset.n_train=1,8", "model.K=4,8", "dataset=synthetic", "dataset.n_test=8",
               "trainer.max_steps=2", "trainer.enable_progress_bar=false", "model.depth=1", "logger=csv",
               f"hydra.sweep.dir={sweep}")
    assert run.returncode == 1, run.stderr[-2000:]  # the sweep ran every job, and says two failed
    assert run.stderr.count("error: dataset.n_train must be at least 2") == 2  # jobs 0 and 1, as they failed
    assert "2 of 4 jobs failed" in run.stderr and "  job 1 [dataset.n_train=1 model.K=8" in run.stderr
    failures = json.loads((sweep / "failures.json").read_text())
    assert [(f["job"], f["overrides"][:2]) for f in failures] == [
        ("0", ["dataset.n_train=1", "model.K=4"]), ("1", ["dataset.n_train=1", "model.K=8"])]
    assert all(f["error"] == "dataset.n_train must be at least 2 for synthetic data, got 1" for f in failures)
    assert not list(sweep.glob("[01]/metrics.json"))
    runs = sorted(sweep.glob("*/metrics.json"))
    assert [json.loads(p.read_text())["K"] for p in runs] == [4, 8]


@pytest.mark.slow
def test_compiled_encoder_trains_and_matches_eager(tmp_path):
    """compile=true: a run goes end to end, and the compiled encoder computes what the eager
    one does (eval mode: no random mask)."""
    metrics = train(_cfg(tmp_path, *FAST, NO_LOGGER, "dataset=synthetic", "compile=true"))
    _assert_run(metrics, tmp_path)
    from iars.encoders import DilatedConvEncoder

    torch.manual_seed(0)
    enc = DilatedConvEncoder(in_channels=3, K=8, depth=2).eval()
    x = torch.randn(2, 50, 3)
    eager = enc(x)
    enc.compile()
    torch.testing.assert_close(enc(x), eager, rtol=1e-4, atol=1e-5)


def test_bad_block_size_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="loss.block=0"):
        train(_cfg(tmp_path, *FAST, NO_LOGGER, "loss.block=0"))

"""The paper's experiment presets, launchers and trainer=ddp: composition, a toy sweep and
its report end to end, and a sweep through the submitit launcher."""
import json
import re

import pytest
import torch
from omegaconf import OmegaConf

from helpers import FAST, NO_LOGGER, compose_cfg, plain, run_script, train

PAPER = ("hand_movement_direction,heartbeat,atrial_fibrillation,self_regulation_scp1,phoneme,"
         "self_regulation_scp2,cricket,ethanol_concentration,stand_walk_jump,motor_imagery")
TOY = "basic_motions,synthetic"
ABLATION = "hier,iars,iars_relative,random,fixed_finest,fixed_coarsest"
TASK_VARIANTS = "hier,iars,random"
STUDY = ("japanese_vowels,racket_sports,libras,basic_motions,atrial_fibrillation,handwriting,natops,finger_movements,"
         "articulary_word_recognition")

# preset -> its sweep axes
PRESETS = {
    "embedding_size": {"dataset": PAPER, "loss": "hier,iars", "model.K": "16,32,64,128", "seed": "0,1,2,3,4"},
    "embedding_size_tiny": {"dataset": TOY, "loss": "hier,iars", "model.K": "16,32,64,128", "seed": "0,1"},
    "baselines": {"dataset": PAPER, "loss": "hier,iars", "model.K": "128", "seed": "0,1,2,3,4"},
    "baselines_tiny": {"dataset": TOY, "loss": "hier,iars", "model.K": "128", "seed": "0,1"},
    "scaling_length": {"dataset.length": "100,200,500,750,900,1000,3000", "loss": "hier,iars", "seed": "0,1,2"},
    "scaling_length_tiny": {"dataset.length": "100,200,400", "loss": "hier,iars", "seed": "0,1"},
    "scaling_size": {"dataset.length": "1000", "dataset.n_train": "100,200,500,750,900,1000", "loss": "hier,iars",
                     "seed": "0,1,2"},
    "scaling_size_tiny": {"dataset.length": "100", "dataset.n_train": "16,32,64", "loss": "hier,iars", "seed": "0,1"},
    "selection_ablation": {"dataset": STUDY, "seed": "0,1,2", "loss": ABLATION},
    "selection_ablation_tiny": {"dataset": TOY, "seed": "0,1", "loss": ABLATION},
    "forecasting": {"dataset": "etth1,etth2", "seed": "0,1,2", "loss": TASK_VARIANTS},
    "forecasting_tiny": {"dataset": "solar", "seed": "0,1", "loss": TASK_VARIANTS},
    "anomaly": {"dataset": "anomaly_aeon,nab", "seed": "0,1,2", "loss": TASK_VARIANTS},
    "anomaly_tiny": {"dataset": "anomaly_aeon", "seed": "0,1", "loss": TASK_VARIANTS},
}
TASK_PRESETS = {"forecasting": "forecasting", "forecasting_tiny": "forecasting", "anomaly": "anomaly",
                "anomaly_tiny": "anomaly"}
"""The presets of a downstream task other than classification, and their task."""


def _hydra_cfg(tmp_path, *overrides, config="train"):
    return compose_cfg(tmp_path, *overrides, config=config, hydra=True)


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_composes_with_its_sweep_axes(tmp_path, preset):
    cfg = _hydra_cfg(tmp_path, f"experiment={preset}")
    assert dict(cfg.hydra.sweeper.params) == PRESETS[preset]
    assert cfg.experiment_name == preset and cfg.logger.group == preset
    assert str(cfg.hydra.sweep.dir).startswith(f"outputs/multirun/{preset}/")
    if preset in TASK_PRESETS:  # TS2Vec's encoder and budget; one thread per joblib job
        assert cfg.task.name == TASK_PRESETS[preset] and cfg.model._target_.endswith("DilatedConvEncoder")
        assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.threads == 1
        tiny = preset.endswith("_tiny")
        assert (cfg.model.K, cfg.trainer.max_steps) == ((16, 10) if tiny else (320, None))
        assert (cfg.model.hidden, cfg.model.depth) == ((8, 3) if tiny else (64, 10))
        return
    if preset.startswith("selection"):  # TS2Vec's encoder, pooling and budget; one thread per joblib job
        assert cfg.model._target_.endswith("DilatedConvEncoder") and cfg.classifier.pooling == "max"
        assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.threads == 1
        assert (cfg.model.K, cfg.trainer.max_steps) == ((320, None) if preset == "selection_ablation" else (16, 20))
        return
    assert cfg.model._target_.endswith("ResNet18Encoder") and cfg.classifier.pooling == "avg"
    if preset.startswith("scaling"):
        assert (cfg.dataset.name, cfg.model.K, cfg.dataset.batch_size) == ("Synthetic", 16, 128 if "tiny" not in preset else 8)
        assert cfg.trainer.max_epochs is not None and cfg.trainer.max_steps is None
    else:
        assert cfg.save_embeddings


@pytest.mark.parametrize("preset", TASK_PRESETS)
def test_each_job_of_a_task_preset_composes_its_task_and_its_dataset(tmp_path, preset):
    """conf/task/*.yaml override the dataset (their default); a preset's sweep must still choose it."""
    expected = {"etth1": ("ETTh1", "ETTh1.csv"), "etth2": ("ETTh2", "ETTh2.csv"), "solar": ("solar", None),
                "anomaly_aeon": (None, "aeon"), "nab": (None, "nab")}
    for dataset in PRESETS[preset]["dataset"].split(","):
        data_dir = [] if dataset == "solar" else ["dataset.data_dir=/data"]  # aeon's solar ships with it: no folder
        cfg = plain(compose_cfg(tmp_path, f"experiment={preset}", f"dataset={dataset}", *data_dir))
        name, where = expected[dataset]
        assert cfg["task"]["name"] == TASK_PRESETS[preset] and cfg["dataset"]["name"] == name, dataset
        assert cfg["dataset"].get("data_dir") == (None if dataset == "solar" else "/data")
        assert cfg["dataset"].get("path" if cfg["task"]["name"] == "forecasting" else "source") == where
    if TASK_PRESETS[preset] == "anomaly":  # aeon's own series: the NAB root given to the sweep is ignored
        assert plain(compose_cfg(tmp_path, f"experiment={preset}", "dataset=anomaly_aeon"))["dataset"]["data_dir"] is None
        if preset == "anomaly_tiny":
            cfg = plain(compose_cfg(tmp_path, f"experiment={preset}", "dataset=anomaly_aeon"))
            assert (cfg["task"]["padding"], cfg["dataset"]["max_train_length"]) == (24, 300)
    else:
        assert plain(compose_cfg(tmp_path, f"experiment={preset}"))["task"]["padding"] is None  # the dataset's


def test_the_1nn_presets_are_for_the_baselines_script(tmp_path):
    for preset, datasets in (("baselines_1nn", PAPER), ("baselines_1nn_tiny", TOY)):
        cfg = _hydra_cfg(tmp_path, f"experiment={preset}", config="baselines")
        assert dict(cfg.hydra.sweeper.params) == {"dataset": datasets} and cfg.logger.group == preset
        assert list(cfg.methods) == ["1NN-ED", "1NN-DTW-I", "1NN-DTW-D"]  # the paper's, not the default's five


def test_without_a_preset_runs_are_grouped_by_dataset(tmp_path):
    cfg = _hydra_cfg(tmp_path)
    assert cfg.logger.group == "BasicMotions" and "experiment_name" not in cfg
    assert cfg.threads is None and cfg.save_embeddings is False


def test_the_ablation_fixed_levels_resolve_for_any_length(tmp_path):
    for loss, level in (("fixed_finest", -1), ("fixed_coarsest", 0)):
        cfg = compose_cfg(tmp_path, f"loss={loss}")
        assert (cfg.loss.mode, cfg.loss.resolution) == ("fixed", level)


def test_slurm_launcher_follows_the_trainer(tmp_path):
    cfg = _hydra_cfg(tmp_path, "hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2",
                     "hydra.launcher.partition=gpu")
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["_target_"].endswith("SlurmLauncher") and launcher["partition"] == "gpu"
    assert (launcher["gpus_per_node"], launcher["tasks_per_node"], launcher["nodes"]) == (4, 4, 2)
    assert (cfg.trainer.strategy, cfg.trainer.accelerator) == ("ddp", "auto")
    single = OmegaConf.to_container(_hydra_cfg(tmp_path, "hydra/launcher=slurm").hydra.launcher, resolve=True)
    assert (single["gpus_per_node"], single["tasks_per_node"], single["nodes"]) == (1, 1, 1)


def test_threads_and_saved_embeddings(tmp_path):
    before = torch.get_num_threads()
    try:
        metrics = train(compose_cfg(tmp_path, *FAST, NO_LOGGER, "threads=2", "save_embeddings=true"))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    import numpy as np

    with np.load(tmp_path / "embeddings.npz") as saved:
        assert saved["train"].shape == (metrics["n_train"], 16) and saved["test"].shape == (metrics["n_test"], 16)
        assert len(saved["y_test"]) == metrics["n_test"] and set(saved["y_train"]) == {0, 1, 2, 3}


def test_embedding_size_tiny_sweep_then_report(tmp_path):
    sweep = tmp_path / "sweep"
    run = run_script("train.py", "-m", "experiment=embedding_size_tiny", "model.K=8,16", "trainer.max_steps=5",
                  "logger.mode=disabled", f"hydra.sweep.dir={sweep}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(list(sweep.glob("*/metrics.json"))) == 16 and len(list(sweep.glob("*/embeddings.npz"))) == 16
    rep = run_script("report.py", str(sweep))
    assert rep.returncode == 0, rep.stderr[-3000:]
    text = (sweep / "report.md").read_text()
    assert text in rep.stdout
    for k in (8, 16):
        block = text.split(f"### K = {k}")[1].split("###")[0]
        rows = [line.split("|")[1].strip() for line in block.splitlines() if line.startswith("| ")]
        assert rows == ["dataset", "---", "BasicMotions", "Synthetic", "# of best"]  # a row per dataset
        assert block.count(" ± ") == 8  # two seeds: mean ± std in every cell
    for name in ("scatter", "selected_resolutions", "tsne"):
        png = sweep / f"{name}.png"
        assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"


def _figure_is_a_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000, path


@pytest.mark.slow  # a 6-job sweep in joblib workers, then iars-report (about a minute)
def test_forecasting_tiny_sweep_then_report(tmp_path):
    sweep = tmp_path / "sweep"
    run = run_script("train.py", "-m", "experiment=forecasting_tiny", "trainer.max_steps=5", "logger.mode=disabled",
                     f"hydra.sweep.dir={sweep}")
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))]
    assert len(records) == 6 and len(list(sweep.glob("*/forecast.npz"))) == 6
    assert {(r["config"]["task"]["name"], r["dataset"], r["steps"]) for r in records} == {("forecasting", "solar", 5)}
    rep = run_script("report.py", str(sweep))
    assert rep.returncode == 0, rep.stderr[-3000:]
    text = (sweep / "report.md").read_text()
    assert text in rep.stdout and "6 forecasting runs; mean ± std over seeds." in text
    table = text.split("### Forecasting: test MSE and MAE")[1].split("\n\n", 2)[1]
    assert [line.split("|")[2].strip() for line in table.splitlines()[2:]] == ["6", "12", "24"]  # a row per horizon
    assert table.splitlines()[0].count(" MSE") == 5 and table.count(" ± ") == 3 * 10  # 3 variants, 2 controls
    for part in ("| iars vs hier | MSE@24 | 2 | 1 |", "| random vs hier | 2 |", "| solar | ", "saving 1 − first/second"):
        assert part in text, part
    _figure_is_a_png(sweep / "forecast.png")


@pytest.mark.slow  # a 6-job sweep in joblib workers, then iars-report (about a minute)
def test_anomaly_tiny_sweep_then_report(tmp_path):
    sweep = tmp_path / "sweep"  # the default logger (W&B, disabled): dataset.name is null until the data is read
    run = run_script("train.py", "-m", "experiment=anomaly_tiny", "trainer.max_steps=5", "logger.mode=disabled",
                     f"hydra.sweep.dir={sweep}")
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))]
    assert len(records) == 6 and len(list(sweep.glob("*/anomaly_scores.npz"))) == 6
    assert {(r["config"]["task"]["name"], r["dataset"], r["padding"]) for r in records} == {("anomaly", "KDD-TSAD_135", 24)}
    rep = run_script("report.py", str(sweep))
    assert rep.returncode == 0, rep.stderr[-3000:]
    text = (sweep / "report.md").read_text()
    assert "6 anomaly runs; mean ± std over seeds." in text
    for title in ("delay-adjusted F1", "point-wise F1", "range PR-AUC"):
        table = text.split(f"### Anomaly detection: {title}")[1].split("\n\n", 2)[1]
        assert table.splitlines()[0] == "| series | hier | iars | random | KMeansAD |"
        assert table.splitlines()[2].startswith("| KDD-TSAD_135 | ") and table.count(" ± ") == 4
    for part in ("| iars vs hier | delay-adjusted F1 | 2 | 1 |", "| random vs hier | range PR-AUC | 2 | 1 |",
                 "| iars vs random | 2 |"):
        assert part in text, part
    _figure_is_a_png(sweep / "anomaly_scores.png")


@pytest.mark.slow  # 24 runs in subprocesses (about a minute)
def test_selection_ablation_tiny_sweep_then_the_study_report(tmp_path):
    sweep = tmp_path / "sweep"
    run = run_script("train.py", "-m", "experiment=selection_ablation_tiny", "trainer.max_steps=12",
                     "dataset.batch_size=4", "logger.mode=disabled", f"hydra.sweep.dir={sweep}")
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
    assert len(records) == 24 and {r["config"]["threads"] for r in records} == {1}
    rep = run_script("report.py", str(sweep))
    assert rep.returncode == 0, rep.stderr[-3000:]
    study = (sweep / "report.md").read_text().split("## Selection study")[1]
    for part in ("| BasicMotions |", "average rank", "| iars vs random | 4 |", "| iars-relative vs hier | 4 |",
                 "KL divergence", "differs from random's"):
        assert part in study, part
    for name in ("critical_difference", "accuracy_time", "selection_heatmap"):
        png = sweep / f"{name}.png"
        assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_two_job_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    run = run_script("train.py", "-m", "hydra/launcher=submitit_local", "loss=hier,iars", "dataset=synthetic",
                  "threads=1", *FAST, "model.depth=1", "~logger", f"hydra.sweep.dir={sweep}")
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))]
    assert [r["loss"] for r in records] == ["hier", "iars"] and all(r["steps"] == 3 for r in records)
    assert list((sweep / ".submitit").rglob("*_result.pkl"))  # ran as submitit jobs


@pytest.mark.slow
def test_trainer_ddp_runs_the_classifier_on_rank_zero_only(tmp_path):
    run = run_script("train.py", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "loss=iars",
                  "dataset=synthetic", *FAST, "model.depth=1", "~logger", f"hydra.run.dir={tmp_path}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("metrics: ") == 1  # rank 1 returned before the classifier stage
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["config"]["trainer"]["strategy"] == "ddp"
    assert (tmp_path / "last.ckpt").is_file()


def test_optuna_search_maximises_the_validation_score_not_the_test_accuracy(tmp_path):
    """hparams_search=optuna (the optuna extra): two trials; Optuna's best value is a trial's
    val_acc. Skipped where the extra is not installed (CI installs the dev extra only)."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="the optuna extra is not installed: "
                        "pip install -e '.[optuna]'")
    out = run_script("train.py", "-m", "hparams_search=optuna", "hydra.sweeper.n_trials=2", "trainer.max_steps=2",
                     "model.K=8", "model.depth=1", "~logger", f"hydra.sweep.dir={tmp_path}")
    records = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*/metrics.json"))]
    best = float(re.search(r"Best value: ([\d.]+)", out.stdout + out.stderr).group(1))
    assert len(records) == 2 and best == max(r["val_acc"] for r in records)

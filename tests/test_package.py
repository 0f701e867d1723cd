"""The package's shape: a Hydra-free library, installed commands that work from any
directory, your own data files from the command line, and W&B run records."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import iars
from helpers import FAST, NO_LOGGER, REPO, compose_cfg, plain, run_script, train
from iars import pipeline
from iars.errors import ConfigError

LIBRARY = sorted(".".join(p.relative_to(REPO).with_suffix("").parts) for p in (REPO / "iars").rglob("*.py")
                 if p.stem not in ("__init__", "__main__"))  # the subpackages' modules too


def _command(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).is_file():
        pytest.skip(f"{name} is not installed: install the package (pip install -e .)")
    return path


def test_the_library_never_imports_hydra():
    code = f"import sys, {', '.join(LIBRARY)}; print(sorted(m for m in sys.modules if m.split('.')[0] in ('hydra', 'omegaconf')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
    assert len(LIBRARY) >= 15  # every module was imported


def test_installed_commands_run_from_any_directory(tmp_path):
    """iars-train from a folder outside the checkout: its configs come with the package and its
    outputs land under that folder."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run([_command("iars-train"), "loss=iars", "model.K=8", *FAST[:3], NO_LOGGER],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "BasicMotions | loss=iars | K=8" in run.stdout
    records = list((tmp_path / "outputs" / "runs").glob("*/*/metrics.json"))
    assert len(records) == 1 and (records[0].parent / "last.ckpt").is_file()
    for name in ("iars-baselines", "iars-report", "iars-bench"):
        shown = subprocess.run([_command(name), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert shown.returncode == 0 and shown.stdout.strip(), (name, shown.stderr[-2000:])


@pytest.mark.slow
def test_a_built_wheel_carries_the_configs(tmp_path):
    """A regular (non-editable) install: the wheel holds iars.conf and iars.scripts, and its
    iars-train runs outside the checkout with nothing of the checkout on the path."""
    source = tmp_path / "source"  # a copy: building writes build/ into the source tree
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "outputs", "build", "*.egg-info", "__pycache__"))
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=600)
    if build.returncode != 0 and "Could not find a version" in build.stderr:
        pytest.skip("pip cannot fetch the build backend (no package index reachable)")
    assert build.returncode == 0, build.stderr[-3000:]
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                              *map(str, wheels.glob("iars-*.whl"))], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    assert (site / "iars" / "conf" / "loss" / "iars.yaml").is_file() and (site / "iars" / "scripts" / "train.py").is_file()
    work = tmp_path / "work"
    work.mkdir()
    code = ("import sys; from iars.scripts.train import main; import iars; "
            f"assert iars.__file__.startswith({str(site)!r}), iars.__file__; sys.argv[0] = 'iars-train'; main()")
    run = subprocess.run([sys.executable, "-c", code, "model.K=8", *FAST[:3], "dataset=synthetic", NO_LOGGER],
                         cwd=work, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(site), "PYTHONWARNINGS": "ignore"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Synthetic | loss=hier | K=8" in run.stdout and list(work.glob("outputs/runs/*/*/metrics.json"))


def _csv(path, n_series=6, labels=True, channels=("x", "y")):
    rng = np.random.default_rng(0)
    lines = ["series," + ("label," if labels else "") + ",".join(channels)]
    for i in range(n_series):
        for _ in range(30 + 3 * i):
            values = ",".join(f"{v:.3f}" for v in rng.normal(size=len(channels)))
            lines.append(f"s{i}," + (f"{'ab'[i % 2]}," if labels else "") + values)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_your_own_unlabelled_csv_pretrains_and_reloads(tmp_path):
    data = _csv(tmp_path / "sensors.csv", labels=False)
    out = tmp_path / "run"
    metrics = train(compose_cfg(out, *FAST, NO_LOGGER, "dataset=arrays", f"dataset.train={data}",
                                "dataset.name=sensors", "save_embeddings=true"))
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["acc"] is None and on_disk["classifier"] is None
    assert on_disk["classifier_skipped"] == "the train split has no labels" == metrics["classifier_skipped"]
    assert (on_disk["dataset"], on_disk["n_train"], on_disk["length"], on_disk["channels"]) == ("sensors", 6, 45, 2)
    from iars.data import read_series

    series, labels = read_series(data)
    reloaded = iars.load_run(out)
    with np.load(out / "embeddings.npz") as saved:
        assert sorted(saved.files) == ["train"]
        np.testing.assert_array_equal(reloaded.transform(series), saved["train"])


def test_your_own_labelled_arrays_get_the_classifier_stage(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(["walk", "run"], 6)
    X = rng.normal(size=(12, 2, 40)) + (y == "run")[:, None, None]
    np.savez(tmp_path / "train.npz", X=X, y=y)
    np.savez(tmp_path / "test.npz", X=X + 0.1 * rng.normal(size=X.shape), y=y)
    metrics = train(compose_cfg(tmp_path / "run", *FAST, NO_LOGGER, "dataset=arrays",
                                f"dataset.train={tmp_path / 'train.npz'}", f"dataset.test={tmp_path / 'test.npz'}"))
    assert metrics["classifier"] == "svm" and 0 <= metrics["acc"] <= 1 and metrics["n_test"] == 12


def test_a_missing_required_value_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset.train must be set: give it on the command line \(dataset.train=...\)"):
        train(compose_cfg(tmp_path, *FAST, NO_LOGGER, "dataset=arrays"))


def test_the_old_fixed_level_command_still_works(tmp_path):
    done = run_script("train.py", *FAST, NO_LOGGER, "dataset=synthetic", "loss=fixed", "loss.level=3",
                      f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr[-2000:]
    from iars.runs import read_metrics
    from iars.variants import label

    metrics = read_metrics(tmp_path)
    assert (metrics["loss"], metrics["variant"], metrics["config"]["loss"]["resolution"]) == ("fixed", "fixed", 3)
    assert label(metrics) == "fixed r=3"
    assert iars.load_run(tmp_path).module_.train_resolution == 3


def test_wandb_mode_follows_the_environment_unless_given(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert plain(compose_cfg(tmp_path))["logger"]["mode"] == "disabled"
    assert plain(compose_cfg(tmp_path, "logger.mode=offline"))["logger"]["mode"] == "offline"
    monkeypatch.delenv("WANDB_MODE")
    assert plain(compose_cfg(tmp_path))["logger"]["mode"] == "offline"


def test_a_wandb_run_records_the_whole_config_its_job_type_and_the_model(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = plain(compose_cfg(tmp_path / "run", *FAST, "dataset=synthetic", "logger.mode=offline",
                               "logger.log_model=true"))
    captured = {}
    finish = pipeline.finish

    def keep(logger):  # read the run before it closes
        if logger is not None:
            captured.update(job_type=logger.experiment.job_type, config=dict(logger.experiment.config))
        finish(logger)

    monkeypatch.setattr(pipeline, "finish", keep)
    pipeline.train(config)
    assert captured["job_type"] == "train"
    assert captured["config"]["dataset"]["name"] == "Synthetic" and captured["config"]["model"]["K"] == 16
    assert captured["config"]["trainer"]["max_steps"] == 3 and "mode" not in captured["config"]  # no module hparams
    record = next((tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb")).read_bytes()
    assert b"last.ckpt" in record and b"Synthetic-hier-" in record  # the model artifact

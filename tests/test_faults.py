"""Faults and bad input: refused runs change nothing, one run per folder, signals save a
checkpoint and exit non-zero, resume continues exactly, validation before pretraining, and the
classifier stage's memory on long series."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from helpers import NO_LOGGER, REPO, compose_cfg, plain, run_script, train
from iars import pipeline
from iars.config import build
from iars.errors import ConfigError, DataError, ReportError, RunInterrupted
from iars.module import ContrastivePretrainer

TINY = ["dataset=synthetic", "model.K=8", "model.depth=1", "model.hidden=8", "trainer.enable_progress_bar=false",
        NO_LOGGER]


def _snapshot(folder: Path) -> dict:
    """Every file under ``folder``: its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def _start(run_dir, *overrides):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, str(REPO / "scripts" / "train.py"), *TINY, *overrides,
                             f"hydra.run.dir={run_dir}"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(path: Path, process, timeout=240):
    """Until ``path`` exists (training is under way): a periodic checkpoint."""
    start = time.monotonic()
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() - start < timeout, f"{path} did not appear"
        time.sleep(0.05)


def test_a_refused_run_changes_nothing_in_the_folder(tmp_path):
    done = run_script("train.py", *TINY, "trainer.max_steps=2", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr[-2000:]
    before = _snapshot(tmp_path)
    assert ".hydra/config.yaml" in before and "metrics.json" in before
    again = run_script("train.py", *TINY, "trainer.max_steps=3", "model.K=16", f"hydra.run.dir={tmp_path}")
    assert again.returncode == 2 and "metrics.json already exists" in again.stderr
    assert "Traceback" not in again.stderr
    assert _snapshot(tmp_path) == before


def test_a_sweep_into_a_used_sweep_folder_is_refused(tmp_path):
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "multirun.yaml").write_text("hydra: {}\n")
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text("- model.K=64\n")
    (tmp_path / "0" / "metrics.json").write_text('{"K": 64}')
    before = _snapshot(tmp_path)
    run = run_script("train.py", "-m", *TINY, "model.K=8,16", "trainer.max_steps=2", f"hydra.sweep.dir={tmp_path}")
    assert run.returncode == 2 and "already holds a sweep" in run.stderr
    assert _snapshot(tmp_path) == before


def test_one_run_per_folder_and_ctrl_c_saves_a_checkpoint(tmp_path):
    """A second process pointed at a running run's folder is refused before it writes anything;
    SIGINT then stops the first at a step boundary, saves last.ckpt and exits 130."""
    first = _start(tmp_path, "trainer.max_steps=100000", "callbacks.checkpoint.every_n_train_steps=5")
    try:
        _wait_for(tmp_path / "last.ckpt", first)
        before = {k: v for k, v in _snapshot(tmp_path).items() if not k.endswith(".ckpt") and k != "train.log"}
        second = run_script("train.py", *TINY, "trainer.max_steps=3", f"hydra.run.dir={tmp_path}")
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"is in use by another iars process (pid {first.pid})" in second.stderr
        after = {k: v for k, v in _snapshot(tmp_path).items() if not k.endswith(".ckpt") and k != "train.log"}
        assert after == before  # the refused run wrote nothing (the first one keeps checkpointing)
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 130, err[-2000:]
    assert "interrupted by SIGINT at step" in err and "resume=auto" in err and "Traceback" not in err
    step = int(err.split("interrupted by SIGINT at step ")[1].split(";")[0])
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["global_step"] == step
    assert not (tmp_path / "metrics.json").exists()


def test_a_run_killed_by_sigterm_resumes_exactly(tmp_path):
    """Killed mid-training (mid-epoch, after some scored epochs) and resumed with resume=auto:
    the same selected resolutions, selection scores and final weights, bit for bit, as the
    uninterrupted run; the record holds both segments' seconds and all steps."""
    common = ["loss=iars", "loss.selection.probe_every_steps=1", "trainer.max_steps=60",
              "callbacks.checkpoint.every_n_train_steps=7"]
    killed = _start(tmp_path / "killed", *common)
    try:
        _wait_for(tmp_path / "killed" / "last.ckpt", killed)
        killed.send_signal(signal.SIGTERM)
        _, err = killed.communicate(timeout=120)
    finally:
        killed.kill()
    assert killed.returncode == 143, err[-2000:]
    step = int(err.split("interrupted by SIGTERM at step ")[1].split(";")[0])
    assert 7 <= step < 60
    saved = torch.load(tmp_path / "killed" / "last.ckpt", weights_only=False)["callbacks"]
    probed = [state["probe_seconds"] for state in saved.values() if "probe_seconds" in state]
    resumed = run_script("train.py", *TINY, *common, "resume=auto", f"hydra.run.dir={tmp_path / 'killed'}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "2 segments" in resumed.stdout
    # the uninterrupted run as a command too: a process of its own, as the killed one's segments
    # (in this process, earlier tests' global torch state could move the floats)
    uninterrupted = run_script("train.py", *TINY, *common, f"hydra.run.dir={tmp_path / 'full'}")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    full = json.loads((tmp_path / "full" / "metrics.json").read_text())
    record = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    for key in ("selected_resolutions", "resolution_losses", "selection_probs", "steps", "acc"):
        assert record[key] == full[key], key
    assert len(record["pretrain_segments_s"]) == 2 and record["pretrain_time_s"] == pytest.approx(
        sum(record["pretrain_segments_s"]))
    assert len(probed) == 1 and record["probe_time_s"] > probed[0] > 0  # the probe's seconds of both segments
    a, b = (torch.load(d / "last.ckpt", weights_only=True)["state_dict"] for d in (tmp_path / "killed", tmp_path / "full"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class _SigtermAt(pl.Callback):
    """Lightning's SIGTERM flag raised at the end of step ``step``: in an ordinary callback (as
    a signal during the step lands), or, with ``late``, after every callback (the module's hook)
    or after the epoch's end (``epoch_end``), where Lightning's own checks then stop the run."""

    def __init__(self, step, where="step"):
        self.step, self.where = step, where

    def _flag(self, trainer):
        if trainer.global_step == self.step:
            trainer._signal_connector.received_sigterm = True

    def on_train_batch_end(self, trainer, *args):
        if self.where == "step":
            self._flag(trainer)


class _LateModule(ContrastivePretrainer):
    sigterm: _SigtermAt | None = None

    def on_train_batch_end(self, *args):
        if self.sigterm is not None and self.sigterm.where == "late":
            self.sigterm._flag(self.trainer)

    def on_train_epoch_end(self):
        if self.sigterm is not None and self.sigterm.where == "epoch_end":
            self.sigterm._flag(self.trainer)


def _pretrain(run_dir, scoring, ckpt=None, callbacks=(), sigterm=None):
    """8 steps of 5-step epochs (an epoch boundary at 5, the last epoch cut short by max_steps)."""
    config = plain(compose_cfg(run_dir, *TINY, "loss=iars", f"loss.scoring={scoring}",
                               "loss.selection.probe_every_steps=1", "trainer.max_steps=8"))
    _LateModule.sigterm = sigterm
    try:
        return pipeline.pretrain(config, build(config["dataset"]), callbacks=[*callbacks, *([sigterm] if sigterm else [])],
                                 ckpt_path=ckpt, root_dir=run_dir, save_on_signal=Path(run_dir) / "last.ckpt",
                                 module_class=_LateModule)
    finally:
        _LateModule.sigterm = None


def _state(fitted):
    module = fitted.module
    return {"history": fitted.history, "encoder": module.encoder.state_dict(), "average": module.averaged.state_dict(),
            "steps": fitted.clock.steps, "step_times": len(fitted.clock.step_times)}


def _same(a, b):
    assert a["history"] == b["history"]
    assert (a["steps"], a["step_times"]) == (b["steps"], b["step_times"])
    for part in ("encoder", "average"):
        assert a[part].keys() == b[part].keys() and all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part


@pytest.mark.parametrize("scoring", ["probe", "running"])
def test_resume_from_any_step_equals_the_uninterrupted_run(tmp_path, scoring):
    """Property: resuming from a checkpoint of any step — periodic (what SIGKILL leaves), or
    saved on SIGTERM during a step, after Lightning's step-end check, or after the epoch's end,
    first, middle and last step of an epoch — gives the uninterrupted run's selection history,
    weights and weight average bit for bit."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    every_step = ModelCheckpoint(dirpath=tmp_path / "full", filename="{step}", every_n_train_steps=1, save_top_k=-1,
                                 save_on_train_epoch_end=False)
    full = _state(_pretrain(tmp_path / "full", scoring, callbacks=[every_step]))
    assert [h["epoch"] for h in full["history"]] == [0, 1] and full["average"]["n_averaged"] == 8
    kills = range(1, 8) if scoring == "probe" else (1, 3, 5)
    for step in kills:
        _same(_state(_pretrain(tmp_path / f"k{step}", scoring, ckpt=tmp_path / "full" / f"step={step}.ckpt")), full)
    signals = [(1, "step"), (3, "step"), (5, "step"), (3, "late"), (5, "late"), (5, "epoch_end")]
    for step, where in signals if scoring == "probe" else [(5, "step"), (5, "epoch_end")]:
        run_dir = tmp_path / f"t{step}{where}"
        with pytest.raises(RunInterrupted):
            _pretrain(run_dir, scoring, sigterm=_SigtermAt(step, where))
        assert torch.load(run_dir / "last.ckpt", weights_only=True)["global_step"] == step
        _same(_state(_pretrain(run_dir, scoring, ckpt=run_dir / "last.ckpt")), full)


def test_periodic_checkpoints_are_written_during_training(tmp_path):
    import pytorch_lightning as pl

    from iars.config import build

    seen = []

    class AfterSteps(pl.Callback):  # after each step, the step of the checkpoint on disk
        def on_train_batch_end(self, trainer, *args):
            path = tmp_path / "last.ckpt"
            seen.append(torch.load(path, weights_only=True)["global_step"] if path.exists() else None)

    config = plain(compose_cfg(tmp_path, *TINY, "trainer.max_steps=9", "callbacks.checkpoint.every_n_train_steps=4"))
    checkpoint = build(config["callbacks"]["checkpoint"])
    pipeline.pretrain(config, build(config["dataset"]), callbacks=[AfterSteps(), checkpoint])
    assert seen == [None] * 4 + [4] * 4 + [8]  # Lightning runs ModelCheckpoint after the other callbacks


# -- validation before pretraining --------------------------------------------------------------


def _labelled(path: Path, y_train, y_test):
    rng = np.random.default_rng(0)
    np.savez(path.with_suffix(".train.npz"), X=rng.normal(size=(len(y_train), 2, 20)), y=np.array(y_train))
    np.savez(path.with_suffix(".test.npz"), X=rng.normal(size=(len(y_test), 2, 20)), y=np.array(y_test))
    return ["dataset=arrays", f"dataset.train={path.with_suffix('.train.npz')}",
            f"dataset.test={path.with_suffix('.test.npz')}"]


def _write_ts(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("overrides,error,message", [
    (["classifier.pooling=foo"], ConfigError, "classifier.pooling='foo': choose one of max, avg"),
    (["classifier.protocol=knn"], ConfigError, "classifier.protocol='knn'"),
    (["lr=-1"], ConfigError, "lr=-1: the learning rate must be a positive number"),
    (["seed=abc"], ConfigError, "seed='abc': give an integer"),
    (["threads=-1"], ConfigError, "threads=-1: give a positive number"),
    (["ckpt_path=/missing.ckpt"], ConfigError, "ckpt_path='/missing.ckpt': no such file"),
    (["resume=maybe"], ConfigError, "resume='maybe'"),
    (["loss=fixed"], ConfigError, "no loss.resolution: loss=fixed needs a resolution index in 0..6"),
    (["loss=fixed", "loss.resolution=-99"], ConfigError, "loss.resolution=-99: loss=fixed needs"),
    (["loss=iars", "loss.selection.temperature=0"], ConfigError, "loss.selection.temperature=0"),
    (["dataset.batch_size=0"], DataError, "dataset.batch_size must be a positive integer"),
    (["trainer.max_steps=0"], ConfigError, "trainer.max_steps=0: give a positive number of steps to pretrain for, "
                                           "or null for TS2Vec's budget"),
    (["trainer.max_steps=-1"], ConfigError, "trainer.max_steps=-1: give a positive number of steps"),  # not forever
    (["trainer.max_epochs=0"], ConfigError, "trainer.max_epochs=0: give a positive number of epochs"),
    (["ckpt_path=/tmp"], ConfigError, "ckpt_path='/tmp' is a directory: give the path of a checkpoint file"),
])
def test_bad_settings_stop_before_pretraining(tmp_path, overrides, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(".", r"\.")):
        train(compose_cfg(tmp_path, *TINY, "trainer.max_steps=2", *overrides))
    assert not (tmp_path / "last.ckpt").exists()  # nothing was trained


def test_one_class_in_train_stops_before_pretraining(tmp_path):
    with pytest.raises(DataError, match="the train split has one class"):
        train(compose_cfg(tmp_path / "run", *TINY, "trainer.max_steps=2", *_labelled(tmp_path / "d", ["a", "a"], ["a", "b"])))
    assert not (tmp_path / "run" / "last.ckpt").exists()


def test_a_test_label_unseen_in_train_is_a_recorded_warning(tmp_path, capsys):
    metrics = train(compose_cfg(tmp_path / "run", *TINY, "trainer.max_steps=2",
                                *_labelled(tmp_path / "d", ["a", "b", "a", "b"], ["a", "b", "c", "c"])))
    assert metrics["warnings"] == ["2 test series have labels that no train series has (always misclassified)"]
    assert "warning: 2 test series" in capsys.readouterr().out


def test_resuming_from_a_checkpoint_of_another_model_is_refused(tmp_path):
    train(compose_cfg(tmp_path / "k16", *TINY, "trainer.max_steps=2", "model.K=16"))
    with pytest.raises(ConfigError, match="does not match this run: model.K is 16 there, 8 here"):
        train(compose_cfg(tmp_path / "k8", *TINY, "trainer.max_steps=4", f"ckpt_path={tmp_path / 'k16' / 'last.ckpt'}"))


@pytest.mark.parametrize("text", ["", "@problemName Bad\n@univariate true\n@classLabel true a b\n1,2,3:a\n2,3,4:b\n"],
                         ids=["empty", "no @data"])
def test_ts_files_without_series_are_named(tmp_path, text):
    for split in ("TRAIN", "TEST"):
        _write_ts(tmp_path / "Bad" / f"Bad_{split}.ts", text)
    overrides = ["dataset=uea", "dataset.name=Bad", f"dataset.data_dir={tmp_path}"]
    with pytest.raises(DataError, match=r"Bad_TRAIN.ts holds no series. An aeon .ts file has its header lines"):
        train(compose_cfg(tmp_path / "run", *TINY[1:], "trainer.max_steps=2", *overrides))
    with pytest.raises(DataError, match="holds no series"):
        pipeline.baselines(plain(compose_cfg(tmp_path / "nn", NO_LOGGER, *overrides, config="baselines")))


def test_the_report_names_a_record_that_is_not_one(tmp_path):
    from iars.reporting.records import load_runs

    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "metrics.json").write_text("{}")
    with pytest.raises(ReportError, match="lacks K, acc, dataset, loss, pretrain_time_s, seed: not a record"):
        load_runs([tmp_path])


def test_bench_refuses_zero_steps(capsys):
    from iars import bench

    with pytest.raises(SystemExit) as exit_:
        bench.main(["--steps", "0"])
    assert exit_.value.code == 2 and "'0' is not a positive integer" in capsys.readouterr().err


def test_a_bad_value_on_the_command_line_is_one_line(tmp_path):
    run = run_script("train.py", *TINY, "lr=-1", f"hydra.run.dir={tmp_path}")
    assert run.returncode == 2 and run.stderr.strip().splitlines()[-1].startswith("error: lr=-1")
    assert "Traceback" not in run.stderr and not (tmp_path / "last.ckpt").exists()


# -- memory of the classifier stage ----------------------------------------------------------


def test_long_series_are_encoded_in_smaller_batches_with_the_same_result():
    from iars import evaluate
    from iars.encoders import DilatedConvEncoder

    encoder = DilatedConvEncoder(2, K=8, depth=2)
    X = np.random.default_rng(0).normal(size=(6, 30000, 2)).astype(np.float32)  # 2 series per batch
    batched = evaluate.encode(encoder, X, "max")
    one_by_one = np.concatenate([evaluate.encode(encoder, X[i:i + 1], "max") for i in range(len(X))])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_the_classifier_stage_on_length_20000_stays_under_1_gb():
    code = """
import numpy as np, torch
from pathlib import Path
from iars.encoders import DilatedConvEncoder
from iars.encoding import encode
def kb(field):
    return next(int(l.split()[1]) for l in Path('/proc/self/status').read_text().splitlines() if l.startswith(field + ':'))
enc = DilatedConvEncoder(3, K=320)
X = np.random.default_rng(0).normal(size=(40, 20000, 3)).astype(np.float32)
before = kb('VmRSS')
encode(enc, X, 'max')
print((kb('VmHWM') - before) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 1024  # MB above what was held before (5.3 GB before)


def test_sigterm_in_library_use_raises_instead_of_exiting_0(tmp_path):
    """Lightning turns SIGTERM into a SystemExit with status 0; pretrain reports it instead,
    saving a checkpoint at the step boundary when given where."""
    import pytorch_lightning as pl

    from iars.config import build
    from iars.errors import RunInterrupted

    class TermAt(pl.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 3:
                os.kill(os.getpid(), signal.SIGTERM)

    config = plain(compose_cfg(tmp_path, *TINY, "trainer.max_steps=50"))
    with pytest.raises(RunInterrupted, match="interrupted by SIGTERM at step 3; no checkpoint was saved") as e:
        pipeline.pretrain(config, build(config["dataset"]), callbacks=[TermAt()])
    assert e.value.exit_status == 143
    with pytest.raises(RunInterrupted, match=f"at step 3; saved {tmp_path / 'x.ckpt'}$") as e:
        pipeline.pretrain(config, build(config["dataset"]), callbacks=[TermAt()], save_on_signal=tmp_path / "x.ckpt")
    assert e.value.checkpoint == tmp_path / "x.ckpt"  # the library names it; only the CLI says how to resume
    assert torch.load(tmp_path / "x.ckpt", weights_only=True)["global_step"] == 3


# -- the run folder, Hydra's own errors, damaged checkpoints, a signal after pretraining --------


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_run_folder_is_refused_in_one_line(tmp_path):
    from iars.runs import claim

    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(ConfigError, match=f"the run folder {tmp_path / 'ro' / 'run'} cannot be made or written to "
                                          r"\(Permission denied"):
        claim(tmp_path / "ro" / "run")


def _hydra_main(monkeypatch, script, *argv):
    """Run an entry point's ``main`` in this process, as its command would with ``argv``."""
    from iars.scripts import baselines as baselines_script
    from iars.scripts import train as train_script

    monkeypatch.setattr(sys, "argv", [f"iars-{script}", *argv])
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    {"train": train_script, "baselines": baselines_script}[script].main()


def test_a_run_folder_that_cannot_be_made_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    from iars.runs import claim

    (tmp_path / "taken").write_text("mine")
    for folder in (tmp_path / "taken", tmp_path / "taken" / "run"):
        with pytest.raises(ConfigError, match=f"the run folder {folder} cannot be made or written to "
                                              f"\\({tmp_path / 'taken'} is a file, not a folder\\): choose a "
                                              "hydra.run.dir"):
            claim(folder)
    assert (tmp_path / "taken").read_text() == "mine"
    with pytest.raises(SystemExit) as e:
        _hydra_main(monkeypatch, "train", *TINY, "trainer.max_steps=2", f"hydra.run.dir={tmp_path / 'taken' / 'run'}")
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: the run folder {tmp_path / 'taken' / 'run'} cannot be made "
                                               f"or written to ({tmp_path / 'taken'} is a file, not a folder): choose "
                                               "a hydra.run.dir (or hydra.sweep.dir) in a folder you can write to"]


@pytest.mark.parametrize("script,override,message", [
    ("train", "loss=foo", "error: In 'train': Could not find 'loss/foo'. Available options in 'loss': _base, fixed, "),
    ("train", "trainer.max_step=5", "error: Could not override 'trainer.max_step'. To append to your config use "
                                    "+trainer.max_step=5. Key 'max_step' is not in struct (full_key: trainer.max_step, "
                                    "object_type=dict). Check the key's spelling: `iars-train --cfg job` prints"),
    ("train", "model.K=[", "error: no viable alternative at input '['. See https://hydra.cc/"),
    ("baselines", "dataset=nope", "error: In 'baselines': Could not find 'dataset/nope'. Available options in"),
])
def test_hydras_config_errors_are_one_error_line_and_exit_2(monkeypatch, capsys, tmp_path, script, override, message):
    with pytest.raises(SystemExit) as e:
        _hydra_main(monkeypatch, script, NO_LOGGER, override, f"hydra.run.dir={tmp_path}")
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert "HYDRA_FULL_ERROR" not in err and not list(tmp_path.iterdir())  # refused before the run folder


def test_hydras_cfg_and_help_still_work(monkeypatch, capsys):
    _hydra_main(monkeypatch, "train", "--cfg", "job", "trainer.max_steps=7")
    assert "  max_steps: 7\n" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        _hydra_main(monkeypatch, "train", "--help")
    assert e.value.code == 0 and "== Config ==" in capsys.readouterr().out
    from hydra._internal import utils

    assert utils.run_and_report.__module__ == "hydra._internal.utils"  # Hydra's own again after main


def test_a_damaged_last_ckpt_is_named_when_resuming(tmp_path):
    (tmp_path / "last.ckpt").write_bytes(b"PK\x03\x04 half a zip")
    with pytest.raises(ConfigError, match=f"{tmp_path / 'last.ckpt'} cannot be read as a checkpoint \\(a run's "
                                          "last.ckpt\\): it is empty, truncated or corrupt") as e:
        train(compose_cfg(tmp_path, *TINY, "trainer.max_steps=2", "resume=auto"))
    assert "weights_only" not in str(e.value)


def test_a_signal_after_pretraining_names_the_checkpoint_and_resume_runs_only_the_evaluation(tmp_path, monkeypatch, capsys):
    from iars.exits import run_cli
    from iars.tasks import classification

    classify = classification.classify

    def terminated(*args, **kwargs):  # a long classifier stage, and SIGTERM in it
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)

    config = plain(compose_cfg(tmp_path, *TINY, "trainer.max_steps=4"))
    monkeypatch.setattr(classification, "classify", terminated)
    with pytest.raises(SystemExit) as e:
        run_cli(pipeline.train, config)
    assert e.value.code == 143
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"interrupted by SIGTERM in the evaluation stage; the pretraining had finished (4 steps) and is saved in "
        f"{tmp_path / 'last.ckpt'}; resuming skips it and runs only the evaluation. To continue, run the same "
        f"command with resume=auto hydra.run.dir={tmp_path}")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and not (tmp_path / "metrics.json").exists()
    monkeypatch.setattr(classification, "classify", classify)
    first = torch.load(tmp_path / "last.ckpt", weights_only=True)
    resumed = pipeline.train(plain(compose_cfg(tmp_path, *TINY, "trainer.max_steps=4", "resume=auto")))
    assert resumed["steps"] == 4 and resumed["pretrain_time_s"] == sum(first["callbacks"]["PretrainClock"]["segments"])
    again = pipeline.train(plain(compose_cfg(tmp_path / "fresh", *TINY, "trainer.max_steps=4")))
    assert resumed["acc"] == again["acc"]  # the evaluation of the same encoder

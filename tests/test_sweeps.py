"""Sweeps keep their promises under hydra/launcher=joblib: a job whose process dies is a failed
job of a sweep that goes on; SIGTERM/SIGINT (or the death of the sweep's process) stops every
job, leaves none running and each finished, failed with a record or not started; the sweep's
end lists them; iars-report names the jobs that failed or never ran. The launcher's mechanics
run on a Hydra app without torch (tests/sweep_app: fast); iars-train's own sweeps are slow."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pytest

from helpers import REPO, compose_cfg
from iars import sweeps
from iars.reporting import write_report
from iars.scripts import report as report_script
from iars.scripts.hydra_callbacks import end_sweep

APP = REPO / "tests" / "sweep_app" / "app.py"
TINY = ["dataset=synthetic", "model.K=8", "model.depth=1", "model.hidden=8", "trainer.enable_progress_bar=false",
        "~logger"]
PATH = os.pathsep.join([str(REPO), str(REPO / "tests"), *filter(None, [os.environ.get("PYTHONPATH")])])


def _start(sweep, *args, script=APP, **env):
    """A sweep (``-m``) of ``script`` into ``sweep``, as a user starts it; tests/ on its path;
    ``env`` added to the environment (None: removed)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": PATH, **env}
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.Popen([sys.executable, str(script), "-m", *args, f"hydra.sweep.dir={sweep}"], cwd=REPO, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(paths, process, timeout=300):
    start = time.monotonic()
    while not all(p.exists() for p in paths):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() - start < timeout, f"{paths} did not appear"
        time.sleep(0.05)


def _failures(sweep):
    return {f["job"]: f["error"] for f in json.loads((sweep / sweeps.FAILURES_FILE).read_text())}


# -- a sweep's jobs, its end and its report, from its folder ------------------------------------


def _job(sweep, name, overrides, metrics=None, failure=None, started=True):
    folder = sweep / name
    if started:
        (folder / ".hydra").mkdir(parents=True)
        (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if failure is not None:
        (folder / "failure.json").write_text(json.dumps({"error": failure}))
    return {"job": name, "overrides": overrides}


def _record(K, seed, acc):
    return {"dataset": "Synthetic", "loss": "hier", "K": K, "seed": seed, "pretrain_time_s": 1.0, "acc": acc, "length": 50}


def _partial_sweep(sweep):
    """Six listed jobs: two finished, one failed with a record, one started without one, one
    never started, one whose process died before Hydra made its folder; and a job folder the
    list does not hold."""
    listed = [_job(sweep, "0", ["model.K=8", "seed=0"], metrics=_record(8, 0, 0.5)),
              _job(sweep, "1", ["model.K=8", "seed=1"], failure="worker killed by signal 9 (SIGKILL)"),
              _job(sweep, "2", ["model.K=16", "seed=0"], metrics=_record(16, 0, 0.7)),
              _job(sweep, "3", ["model.K=16", "seed=1"]),
              _job(sweep, "4", ["model.K=32", "seed=0"], started=False),
              _job(sweep, "5", ["model.K=32", "seed=1"], started=False)]
    (sweep / "5").mkdir()
    (sweep / "5" / "failure.json").write_text(json.dumps({"error": "worker exited with status 1 and no result"}))
    sweeps.add_jobs(sweep, listed[:3])
    sweeps.add_jobs(sweep, listed[3:])  # a second batch
    _job(sweep, "10", ["model.K=64"], failure="error: boom")
    return listed


def test_a_sweeps_jobs_and_their_states_come_from_its_folder(tmp_path):
    listed = _partial_sweep(tmp_path)
    states = sweeps.jobs(tmp_path)
    assert [(j["job"], j["state"], j["error"]) for j in states] == [
        ("0", "finished", None), ("1", "failed", "worker killed by signal 9 (SIGKILL)"), ("2", "finished", None),
        ("3", "failed", sweeps.NO_RECORD), ("4", "not started", "not started"),
        ("5", "failed", "worker exited with status 1 and no result"), ("10", "failed", "error: boom")]
    assert [j["overrides"] for j in states] == [j["overrides"] for j in listed] + [["model.K=64"]]
    sweeps.add_jobs(tmp_path, [{"job": "4", "overrides": ["model.K=32", "seed=9"]}])  # the same folder again: replaced
    assert [j["overrides"] for j in sweeps.listed_jobs(tmp_path)][-1] == ["model.K=32", "seed=9"]
    assert len(sweeps.listed_jobs(tmp_path)) == 6
    # without a job list: the folders jobs started in, only
    (tmp_path / sweeps.JOBS_FILE).unlink()
    assert [(j["job"], j["state"]) for j in sweeps.jobs(tmp_path)] == [
        ("0", "finished"), ("1", "failed"), ("2", "finished"), ("3", "failed"), ("10", "failed")]


def test_the_end_of_a_sweep_lists_every_job_that_did_not_finish(tmp_path, capsys):
    _partial_sweep(tmp_path)
    assert end_sweep(tmp_path) == 1
    err = capsys.readouterr().err
    assert "4 of 7 jobs failed, 1 not started (listed in" in err and "  job 4 [model.K=32 seed=0]: not started" in err
    assert _failures(tmp_path) == {"1": "worker killed by signal 9 (SIGKILL)", "3": sweeps.NO_RECORD,
                                   "4": "not started", "5": "worker exited with status 1 and no result", "10": "error: boom"}
    assert end_sweep(tmp_path, signal.SIGTERM) == 143
    assert "sweep stopped by SIGTERM: 4 of 7 jobs failed, 1 not started" in capsys.readouterr().err
    assert _failures(tmp_path)["4"] == "not started: the sweep was stopped by SIGTERM"
    assert end_sweep(tmp_path, signal.SIGINT) == 130


def test_a_sweep_whose_jobs_all_finished_ends_with_0_and_no_failures_file(tmp_path, capsys):
    sweeps.add_jobs(tmp_path, [_job(tmp_path, "0", ["x=1"], metrics={}), _job(tmp_path, "1", ["x=2"], metrics={})])
    assert end_sweep(tmp_path) == 0 and not (tmp_path / sweeps.FAILURES_FILE).exists()
    assert capsys.readouterr().err == ""


def test_the_report_of_a_partial_sweep_names_the_failed_and_the_missing_jobs(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    _partial_sweep(sweep)
    text = write_report([sweep])[0].read_text()
    note = text.split("\n\n")[2:4]
    assert note[0] == ("**Incomplete: 5 job(s) without metrics.json** (4 failed, 1 not started); the tables and "
                       "figures leave them out:")
    assert note[1].splitlines() == [
        f"- {sweep / '1'} [model.K=8 seed=1]: worker killed by signal 9 (SIGKILL)",
        f"- {sweep / '3'} [model.K=16 seed=1]: {sweeps.NO_RECORD}",
        f"- {sweep / '4'} [model.K=32 seed=0]: not started",
        f"- {sweep / '5'} [model.K=32 seed=1]: worker exited with status 1 and no result",
        f"- {sweep / '10'} [model.K=64]: error: boom"]
    assert report_script.main([str(sweep)]) == 0
    assert "warning: 5 job(s) left no metrics.json" in capsys.readouterr().err
    # a parent folder of the sweep: the same jobs
    assert "**Incomplete: 5 job(s)" in write_report([tmp_path])[0].read_text()


def test_hydra_launcher_joblib_is_iars_launcher(tmp_path):
    launcher = compose_cfg(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", hydra=True).hydra.launcher
    assert dict(launcher) == {"_target_": "hydra_plugins.iars_joblib_launcher.JoblibLauncher", "n_jobs": 2,
                              "stop_grace_s": 60.0}
    preset = compose_cfg(tmp_path, "experiment=selection_ablation_tiny", hydra=True).hydra.launcher
    assert preset._target_ == launcher._target_ and preset.n_jobs == -1


def test_a_sweep_under_hydras_own_joblib_launcher_is_refused(tmp_path, capsys):
    """Where the plugin is not found (an install that misses hydra_plugins/), hydra/launcher=joblib
    is Hydra's own, whose pool one killed job breaks: one error line, exit 2, nothing written."""
    from iars.scripts.hydra_callbacks import HYDRA_JOBLIB, RunFolders

    cfg = compose_cfg(tmp_path, f"hydra.launcher._target_={HYDRA_JOBLIB}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                      hydra=True)
    with pytest.raises(SystemExit) as exit_:
        RunFolders().on_multirun_start(cfg)
    assert exit_.value.code == 2 and "is Hydra's own joblib launcher here, not iars's" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


# -- the launcher, on jobs without torch ---------------------------------------------------------


def test_a_killed_job_is_a_failed_job_and_the_sweep_goes_on(tmp_path):
    """Jobs 1 and 2 SIGKILL their processes, job 3 ends its own with status 3 (five jobs, two at
    a time): before, joblib's pool broke, the other jobs died and the sweep ended in a traceback."""
    sweep = tmp_path / "sweep"
    run = _start(sweep, "x=0,1,2,3,4", "kill=[1,2]", "exit=[3]", OMP_NUM_THREADS=None)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 1, err[-3000:]
    killed, ended = "worker killed by signal 9 (SIGKILL)", "worker exited with status 3 and no result"
    assert _failures(sweep) == {"1": killed, "2": killed, "3": ended}
    assert "3 of 5 jobs failed (listed in" in err and f"  job 1 [x=1 kill=[1,2] exit=[3]]: {killed}" in err
    assert err.count(f"error: job 2 [x=2 kill=[1,2] exit=[3]]: {killed}") == 1
    assert [json.loads((sweep / j / "failure.json").read_text())["error"] for j in "123"] == [killed, killed, ended]
    records = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")}
    assert sorted(records) == ["0", "4"] and "Traceback" not in err and "TerminatedWorkerError" not in err
    assert {r["threads"] for r in records.values()} == {str(max(joblib.cpu_count() // 2, 1))}  # as joblib's workers


def test_job_folders_follow_hydra_sweep_subdir(tmp_path):
    sweep = tmp_path / "sweep"
    run = _start(sweep, "x=0,1", "kill=[1]", "hydra.sweep.subdir=x_${x}")
    _, err = run.communicate(timeout=300)
    assert run.returncode == 1, err[-3000:]
    assert _failures(sweep) == {"x_1": "worker killed by signal 9 (SIGKILL)"}
    assert [j["job"] for j in sweeps.listed_jobs(sweep)] == ["x_0", "x_1"] and (sweep / "x_0" / "metrics.json").exists()


def test_a_jobs_threads_are_the_users_where_set(tmp_path):
    run = _start(tmp_path / "sweep", "x=0,1", OMP_NUM_THREADS="3")
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-3000:]
    assert [json.loads(p.read_text())["threads"] for p in sorted(tmp_path.glob("sweep/*/metrics.json"))] == ["3", "3"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_sweep_stops_every_job_and_lists_them(tmp_path, signum):
    """Jobs 0 and 1 run until stopped, 2 and 3 wait their turn: the signal reaches the running
    jobs, which record where they stopped; 2 and 3 never start; no job process is left."""
    sweep = tmp_path / "sweep"
    run = _start(sweep, "x=0,1,2,3", "wait=[0,1]")
    try:
        _wait_for([sweep / "0" / "started", sweep / "1" / "started"], run)
        jobs = _children(run.pid)
        assert len(jobs) == 2
        run.send_signal(signum)
        _, err = run.communicate(timeout=120)
    finally:
        run.kill()
    name = signal.Signals(signum).name
    assert run.returncode == 128 + signum, err[-3000:]
    assert not [pid for pid in jobs if _alive(pid)]
    stopped = f"interrupted by {name} at step 3; no checkpoint was saved"
    assert _failures(sweep) == {"0": stopped, "1": stopped, "2": f"not started: the sweep was stopped by {name}",
                                "3": f"not started: the sweep was stopped by {name}"}
    assert json.loads((sweep / "0" / "failure.json").read_text())["error"] == stopped
    assert f"sweep stopped by {name}: 2 of 4 jobs failed, 2 not started" in err
    assert not (sweep / "2").exists() and not (sweep / "3").exists() and "Traceback" not in err


def test_a_job_that_does_not_stop_is_killed_after_the_grace(tmp_path):
    sweep = tmp_path / "sweep"
    run = _start(sweep, "x=0,1", "wait=[0]", "ignore=[1]", "hydra.launcher.stop_grace_s=1")
    try:
        _wait_for([sweep / "0" / "started", sweep / "1" / "started"], run)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 143, err[-3000:]
    assert _failures(sweep) == {"0": "interrupted by SIGTERM at step 3; no checkpoint was saved",
                                "1": "worker killed by signal 9 (SIGKILL) after the sweep was stopped by SIGTERM"}


def test_a_job_stops_when_the_sweeps_process_dies(tmp_path):
    """SIGKILL to the sweep (no chance to stop its jobs): the kernel sends each job SIGTERM."""
    sweep = tmp_path / "sweep"
    run = _start(sweep, "x=0,1", "wait=[0,1]")
    try:
        _wait_for([sweep / "0" / "started", sweep / "1" / "started"], run)
        jobs = _children(run.pid)
        run.kill()
        run.communicate(timeout=60)
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in jobs) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for pid in jobs:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert len(jobs) == 2 and not [pid for pid in jobs if _alive(pid)]
    for job in "01":
        assert json.loads((sweep / job / "failure.json").read_text())["error"].startswith("interrupted by SIGTERM")


# -- iars-train's sweeps ---------------------------------------------------------------------------


@pytest.mark.slow  # three training jobs in their own processes, then iars-report (about a minute)
def test_an_iars_train_job_killed_by_sigkill_is_reported_failed(tmp_path):
    """A test-only callback (tests/sweep_hooks.py) makes job 1 SIGKILL its process as it starts."""
    sweep = tmp_path / "sweep"
    run = _start(sweep, *TINY, "trainer.max_steps=2", "model.K=8,16,32", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                 "+hydra.callbacks.kill._target_=sweep_hooks.KillJob", "+hydra.callbacks.kill.job=1",
                 script=REPO / "scripts" / "train.py")
    _, err = run.communicate(timeout=900)
    assert run.returncode == 1, err[-3000:]
    assert _failures(sweep) == {"1": "worker killed by signal 9 (SIGKILL)"}
    assert [json.loads(p.read_text())["K"] for p in sorted(sweep.glob("*/metrics.json"))] == [8, 32]
    text = write_report([sweep])[0].read_text()
    assert "**Incomplete: 1 job(s) without metrics.json** (1 failed)" in text
    assert f"- {sweep / '1'} [{' '.join(TINY[:1])} model.K=16" in text and "worker killed by signal 9 (SIGKILL)" in text


@pytest.mark.slow  # two training jobs stopped by SIGTERM (about a minute)
def test_sigterm_to_an_iars_train_sweep_checkpoints_its_jobs_and_leaves_none_running(tmp_path):
    sweep = tmp_path / "sweep"
    run = _start(sweep, *TINY, "trainer.max_steps=100000", "callbacks.checkpoint.every_n_train_steps=5",
                 "model.K=8,16,32", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", script=REPO / "scripts" / "train.py")
    try:
        _wait_for([sweep / "0" / "last.ckpt", sweep / "1" / "last.ckpt"], run, timeout=600)
        jobs = _children(run.pid)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=300)
    finally:
        run.kill()
    assert run.returncode == 143, err[-3000:]
    assert len(jobs) == 2 and not [pid for pid in jobs if _alive(pid)]
    failures = _failures(sweep)
    assert failures["2"] == "not started: the sweep was stopped by SIGTERM" and not (sweep / "2").exists()
    for job in "01":
        assert failures[job].startswith("interrupted by SIGTERM at step ")
        assert f"saved {sweep / job / 'last.ckpt'}. To continue, run the same command with resume=auto" in failures[job]
    assert "sweep stopped by SIGTERM: 2 of 3 jobs failed, 1 not started" in err

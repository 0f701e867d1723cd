"""``hydra/launcher=joblib`` (the plugin ``hydra_plugins.iars_joblib_launcher``, whose config
replaces Hydra's joblib launcher's): Hydra's joblib launcher, but a sweep that keeps its
promises when a job's process dies or the sweep is stopped.

Hydra's plugin runs the jobs in a pool of loky workers, where one worker's death (SIGKILL, the
out-of-memory killer, a segfault) breaks the pool: the other running jobs die, the queued ones
never start, and the sweep ends in a traceback with no record of its jobs. Here each job runs
in a process of its own (Hydra's joblib job, ``execute_job``: the same job folders, logs and
callbacks), ``hydra.launcher.n_jobs`` at a time (-1: one per CPU core), its threads limited to
cores / n_jobs as joblib's workers' are (unless ``OMP_NUM_THREADS`` & co. are set).

- Before any job starts, the sweep folder's ``jobs.json`` lists them all (folder, overrides):
  iars-report names the jobs that never ran (:mod:`iars.sweeps`).
- A job whose process dies is a failed job: ``failure.json`` in its folder names the cause
  ("worker killed by signal 9 (SIGKILL)"), the error line says it, the other jobs go on, and
  the sweep's end lists it and exits 1, as for any failed job.
- SIGTERM or SIGINT to the sweep stops it: no job starts any more; each running job gets the
  signal and stops at its next step boundary, saving ``last.ckpt`` and recording where in its
  ``failure.json`` (one still running ``hydra.launcher.stop_grace_s`` seconds later is killed); once they
  have all ended, ``failures.json`` and the listing name every job that did not finish, the
  jobs not started among them, and the sweep exits 143 (130). A second signal is passed on as
  well (a second Ctrl-C stops the jobs at once). No job outlives the sweep: on Linux a job
  gets SIGTERM when the sweep's process dies, even by SIGKILL.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import cloudpickle
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from joblib import cpu_count, effective_n_jobs
from joblib.parallel import LokyBackend
from omegaconf import OmegaConf, open_dict

from iars import sweeps
from iars.runs import FAILURE_FILE, METRICS_FILE, write_json

log = logging.getLogger(__name__)


_POLL_S = 0.1
_CHILD = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
          "from iars.scripts.hydra_launcher import run_job_file; run_job_file(*sys.argv[2:])")


@dataclass
class _Job:
    num: int
    overrides: list[str]
    folder: Path
    name: str
    process: subprocess.Popen | None = None
    signalled: int = 0  # how many of the sweep's signals it was sent
    result: JobReturn | None = None
    files: dict = field(default_factory=dict)


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
    """Run a batch of a sweep's jobs, ``launcher.joblib["n_jobs"]`` at a time, each in a process
    of its own (the module's docstring says what comes of a job that dies, and of a signal)."""
    setup_globals()
    assert launcher.config is not None and launcher.task_function is not None and launcher.hydra_context is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep = Path(str(launcher.config.hydra.sweep.dir))
    sweep.mkdir(parents=True, exist_ok=True)
    n_jobs = effective_n_jobs(launcher.joblib.get("n_jobs", -1))
    jobs = [_job(launcher, initial_job_idx + i, list(o), sweep) for i, o in enumerate(job_overrides)]
    sweeps.add_jobs(sweep, [{"job": job.name, "overrides": job.overrides} for job in jobs])
    log.info(f"Launching {len(jobs)} jobs, {n_jobs} at a time, each in a process of its own; sweep output dir : {sweep}")
    for job in jobs:
        log.info(f"\t#{job.num} : {' '.join(filter_overrides(job.overrides))}")
    common = (launcher.hydra_context, launcher.config, launcher.task_function, Singleton.get_state())
    with tempfile.TemporaryDirectory(prefix="iars-sweep-") as tmp, _signals() as received:
        _run(jobs, n_jobs, common, Path(tmp), received, float(launcher.joblib.get("stop_grace_s", 60)))
    if received:
        from iars.scripts.hydra_callbacks import end_sweep

        sys.exit(end_sweep(sweep, received[0]))
    return [job.result for job in jobs]


def _job(launcher: Any, num: int, overrides: list[str], sweep: Path) -> _Job:
    """A job and its folder: the job number under the default ``hydra.sweep.subdir``, else from
    the job's own config as Hydra's ``run_job`` makes it (a quarter of a second a job)."""
    if OmegaConf.to_container(launcher.config.hydra.sweep)["subdir"] == "${hydra.job.num}":
        return _Job(num, overrides, sweep / str(num), str(num))
    config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, overrides)
    with open_dict(config):
        config.hydra.job.id, config.hydra.job.num = f"{config.hydra.job.name}_{num}", num
    subdir = str(OmegaConf.select(config, "hydra.sweep.subdir"))
    return _Job(num, overrides, sweep / subdir, subdir)


def _run(jobs: list[_Job], n_jobs: int, common: tuple, tmp: Path, received: list[int], grace_s: float) -> None:
    """Start jobs while there is room and no signal came; pass each signal on to the running
    jobs, kill those still running ``grace_s`` after the first; until none runs."""
    queue, running, deadline = deque(jobs), [], None
    env = {**os.environ, **_thread_env(n_jobs)}
    while running or (queue and not received):
        while queue and len(running) < n_jobs and not received:
            running.append(_start(queue.popleft(), common, tmp, env))
        if received and deadline is None:
            deadline = time.monotonic() + grace_s
        for job in running:
            while job.signalled < len(received):
                _send(job, received[job.signalled])
                job.signalled += 1
            if deadline is not None and time.monotonic() > deadline:
                _send(job, signal.SIGKILL)
        time.sleep(_POLL_S)
        for job in [j for j in running if j.process.poll() is not None]:
            running.remove(job)
            _finish(job, received)


def _thread_env(n_jobs: int) -> dict[str, str]:
    """What joblib gives its workers: cores / n_jobs threads per job for OpenMP, BLAS & co."""
    default = str(max(cpu_count() // n_jobs, 1))
    env = {var: os.environ.get(var, default) for var in LokyBackend.MAX_NUM_THREADS_VARS}
    return {**env, **({} if LokyBackend.TBB_ENABLE_IPC_VAR in os.environ else {LokyBackend.TBB_ENABLE_IPC_VAR: "1"})}


def _start(job: _Job, common: tuple, tmp: Path, env: dict) -> _Job:
    """Start ``job`` in a fresh Python, in a session of its own: a signal to the sweep (Ctrl-C in
    its terminal too) reaches the job once, passed on by the sweep."""
    job.files = {"payload": tmp / f"{job.num}.pkl", "result": tmp / f"{job.num}.result.pkl"}
    with open(job.files["payload"], "wb") as f:
        cloudpickle.dump((job.num, job.overrides, *common), f)
    job.process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(sys.path), str(job.files["payload"]), str(job.files["result"]),
         str(os.getpid())], env=env, start_new_session=True)
    return job


def _send(job: _Job, signum: int) -> None:
    try:
        job.process.send_signal(signum)
    except ProcessLookupError:
        pass


def _finish(job: _Job, received: list[int]) -> None:
    """``job.result``: the job's own, or, for a job whose process died, a failure recorded in its
    folder and a result of None (as :func:`iars.exits.run_cli` returns for any failed job)."""
    path, code = job.files["result"], job.process.returncode
    try:
        with open(path, "rb") as f:
            result = pickle.load(f)
    except Exception:  # none (the process died first), or unreadable: the job is failed
        result = None
    if result is not None and result.status == JobStatus.COMPLETED:
        job.result = result
        return
    if result is not None:
        cause = f"{type(result._return_value).__name__}: {result._return_value}"
    elif code < 0:
        cause = f"worker killed by signal {-code} ({signal.Signals(-code).name})"
        if received:
            cause += f" after the sweep was stopped by {signal.Signals(received[0]).name}"
    else:
        cause = f"worker exited with status {code} and no result"
    recorded = (job.folder / FAILURE_FILE).exists() or (job.folder / METRICS_FILE).exists()
    if not recorded:  # in a folder of its own if it died before Hydra made one: it was started
        job.folder.mkdir(parents=True, exist_ok=True)
        write_json(job.folder / FAILURE_FILE, {"error": cause})
        print(f"error: job {job.name} [{' '.join(job.overrides)}]: {cause}", file=sys.stderr)
    job.result = JobReturn(overrides=job.overrides, status=JobStatus.COMPLETED, _return_value=None)


@contextmanager
def _signals() -> Iterator[list[int]]:
    """While the jobs run, SIGTERM and SIGINT to the sweep are collected (in order), not obeyed."""
    received: list[int] = []

    def on_signal(signum, frame):
        if not received:
            print(f"\nsweep: {signal.Signals(signum).name} received: stopping the running jobs at their next step "
                  "boundary; no job starts any more", file=sys.stderr, flush=True)
        received.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# -- in the job's process ---------------------------------------------------------------------


def run_job_file(payload: str, result: str, sweep_pid: str) -> None:
    """Run the job pickled in ``payload`` (Hydra's joblib ``execute_job``) and pickle what it
    returns into ``result``; the job gets SIGTERM if the sweep's process dies first."""
    _sigterm_when_gone(int(sweep_pid))
    from hydra_plugins.hydra_joblib_launcher._core import execute_job

    with open(payload, "rb") as f:
        args = pickle.load(f)
    ret = execute_job(*args)
    try:
        data = cloudpickle.dumps(ret)
    except Exception as exc:  # an unpicklable return value or error: a failed job, saying so
        ret.status, ret._return_value = JobStatus.FAILED, RuntimeError(f"its result cannot be pickled ({exc})")
        data = cloudpickle.dumps(ret)
    Path(result + ".tmp").write_bytes(data)
    os.replace(result + ".tmp", result)


def _sigterm_when_gone(sweep_pid: int) -> None:
    """Linux: the kernel sends this process SIGTERM when its parent (the sweep) dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != sweep_pid:  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)

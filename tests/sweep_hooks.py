"""Test-only Hydra callbacks (tests put this folder on the sweep's PYTHONPATH)."""
import os
import signal

from hydra.experimental.callback import Callback


class KillJob(Callback):
    """Job number ``job`` of a sweep kills its own process with signal ``signum`` as it starts
    (after Hydra made its folder): a worker lost to SIGKILL, the out-of-memory killer or a crash."""

    def __init__(self, job: int, signum: int = signal.SIGKILL):
        self.job, self.signum = int(job), int(signum)

    def on_job_start(self, config, **kwargs):
        if config.hydra.job.num == self.job:
            os.kill(os.getpid(), self.signum)

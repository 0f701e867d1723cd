"""iars's ``hydra/launcher=joblib``, as a Hydra plugin (Hydra instantiates launchers from the
``hydra_plugins`` package only): Hydra's joblib launcher with a process per job, so that a job
killed or crashing is a failed job of a sweep that goes on, and SIGTERM/SIGINT stops the whole
sweep cleanly (:mod:`iars.scripts.hydra_launcher` does the work, imported when a sweep
launches: Hydra imports every plugin at start-up, and this stays light).

Its config replaces the joblib plugin's under the same name, with the settings it uses::

    iars-train -m model.K=16,32 seed=0,1 hydra/launcher=joblib hydra.launcher.n_jobs=4
"""
from dataclasses import dataclass
from typing import Sequence

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra.plugins.search_path_plugin import SearchPathPlugin
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher as _HydraJoblibLauncher


class JoblibLauncher(_HydraJoblibLauncher):
    """Hydra's joblib launcher, each job in a process of its own (:mod:`iars.scripts.hydra_launcher`)."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from iars.scripts.hydra_launcher import launch

        return launch(self, job_overrides, initial_job_idx)


@dataclass
class JoblibLauncherConf:
    _target_: str = f"{__name__}.JoblibLauncher"
    n_jobs: int = -1   # jobs at once; -1: one per CPU core
    stop_grace_s: float = 60.0   # after SIGTERM/SIGINT, how long a running job may take to stop before it is killed


def _store() -> None:
    ConfigStore.instance().store(group="hydra/launcher", name="joblib", node=JoblibLauncherConf, provider="iars")


class JoblibLauncherConfig(SearchPathPlugin):
    """Stores the config once more before Hydra composes: at start-up Hydra runs every plugin
    module in turn, and the joblib plugin's, run after this one, stores its own node again."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        _store()


_store()

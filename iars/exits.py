"""The exit policy of every command-line entry point, in one place.

- 0: done.
- 2 (:data:`USER_ERROR`): refused or bad input — one ``error:`` line (what, where, how to fix),
  no traceback (:class:`~iars.errors.IarsError`, also when wrapped by Hydra or Lightning; Hydra's
  own config errors too, a misspelt key or an unknown option: ``iars.scripts.hydra_errors``).
- 128 + the signal (130 SIGINT, 143 SIGTERM): interrupted at a step boundary, or in the evaluation
  after pretraining; the message says where the checkpoint is and how to resume.
- 1 (:data:`SWEEP_FAILED`): a sweep in which any job failed (its end lists them), or an
  unexpected error, raised with its traceback (a bug to see, not to hide).

The library raises (:mod:`iars.errors`); only this module prints and exits.
"""
from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from iars.errors import IarsError, RunInterrupted, user_error
from iars.runs import FAILURE_FILE, METRICS_FILE, write_json

USER_ERROR = 2
SWEEP_FAILED = 1


def refuse(exc: IarsError | str) -> NoReturn:
    """Print one ``error:`` line and exit with :data:`USER_ERROR`."""
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(USER_ERROR)


def run_command(body: Callable[[], int | None]) -> int:
    """An argparse command's ``body()`` under the policy: its status (None: 0), or one
    ``error:`` line and :data:`USER_ERROR` for a user error."""
    try:
        return body() or 0
    except Exception as exc:
        err = user_error(exc)
        if err is None:
            raise
        print(f"error: {err}", file=sys.stderr)
        return USER_ERROR


def interrupted(exc: RunInterrupted, record: Path | None = None) -> NoReturn:
    """Print where an interrupted run stopped and how to continue it (and record that as the
    failure of the sweep job in folder ``record``); exit 128 + the signal."""
    hint = ("" if exc.checkpoint is None else
            f". To continue, run the same command with resume=auto hydra.run.dir={Path(exc.checkpoint).parent}")
    print(f"\n{exc.message}{hint}", file=sys.stderr)
    if record is not None:
        _record_failure(record, f"{exc.message}{hint}")
    sys.exit(exc.exit_status)


def _record_failure(job: Path, error: str) -> None:
    if job.is_dir() and not (job / METRICS_FILE).exists():
        write_json(job / FAILURE_FILE, {"error": error})


def run_cli(run: Callable[[Mapping], Any], config: Mapping, *, sweep: bool = False) -> Any:
    """How the command-line entry points run ``run(config)`` and report its end.

    - A user error (:class:`~iars.errors.IarsError`) prints one ``error:`` line and exits with
      status 2; any other error raises with its traceback (a bug to see, not to hide).
    - An interrupted run prints where its checkpoint is and how to resume, and exits with
      128 + the signal (143 for SIGTERM, 130 for SIGINT), in a sweep too (where its
      ``failure.json`` says the same).
    - In a sweep (``sweep=True``) a failing job prints its error (and the traceback of an
      unexpected one), records it as ``failure.json`` in its folder and returns None: the other
      jobs go on, and the sweep's end lists the failures and exits non-zero.
    """
    try:
        return run(config)
    except RunInterrupted as exc:
        interrupted(exc, Path(config["output_dir"]) if sweep else None)
    except Exception as exc:
        err = user_error(exc)
        if not sweep and err is None:
            raise
        message = f"error: {err}" if err is not None else f"error: {type(exc).__name__}: {exc} (traceback above)"
        if err is None:
            traceback.print_exc()
        print(message, file=sys.stderr)
        if not sweep:
            sys.exit(USER_ERROR)
        _record_failure(Path(config["output_dir"]), message.removeprefix("error: "))
        return None

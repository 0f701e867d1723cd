"""The one exit policy (iars.exits) by value: statuses, the one error line, the resume hint, a
sweep job's failure record."""
import json
import signal

import pytest

from iars.errors import ConfigError, RunInterrupted
from iars.exits import SWEEP_FAILED, USER_ERROR, refuse, run_cli, run_command


def test_a_user_error_is_one_line_and_status_2(capsys):
    with pytest.raises(SystemExit) as e:
        refuse(ConfigError("loss.alpha=2 must lie in [0, 1]"))
    assert e.value.code == USER_ERROR == 2
    assert capsys.readouterr().err == "error: loss.alpha=2 must lie in [0, 1]\n"

    def wrapped():
        try:
            raise ConfigError("bad K")
        except ConfigError as exc:
            raise RuntimeError("instantiation failed") from exc  # as Hydra wraps it

    assert run_command(wrapped) == 2 and capsys.readouterr().err == "error: bad K\n"
    assert run_command(lambda: None) == 0 and run_command(lambda: 3) == 3
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_command(lambda: 1 / 0)


def test_an_interrupted_run_says_how_to_resume_and_exits_128_plus_the_signal(tmp_path, capsys):
    def stopped(config):
        raise RunInterrupted(signal.SIGTERM, "interrupted by SIGTERM at step 7; saved x", checkpoint=tmp_path / "last.ckpt")

    with pytest.raises(SystemExit) as e:
        run_cli(stopped, {"output_dir": str(tmp_path)})
    assert e.value.code == 143
    assert capsys.readouterr().err.strip() == (f"interrupted by SIGTERM at step 7; saved x. To continue, run the same "
                                               f"command with resume=auto hydra.run.dir={tmp_path}")
    with pytest.raises(SystemExit) as e:
        run_cli(lambda c: (_ for _ in ()).throw(RunInterrupted(signal.SIGINT, "no checkpoint was saved")), {})
    assert e.value.code == 130 and "resume=auto" not in capsys.readouterr().err


def test_a_failing_sweep_job_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    def bad(config):
        raise ConfigError("model.K=0: give a positive size")

    assert run_cli(bad, {"output_dir": str(tmp_path)}, sweep=True) is None
    assert json.loads((tmp_path / "failure.json").read_text()) == {"error": "model.K=0: give a positive size"}
    assert capsys.readouterr().err == "error: model.K=0: give a positive size\n"
    with pytest.raises(SystemExit) as e:
        run_cli(bad, {"output_dir": str(tmp_path)})
    assert e.value.code == 2 and SWEEP_FAILED == 1

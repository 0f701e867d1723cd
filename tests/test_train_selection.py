"""loss=iars, random and fixed through the train script: selection history, resume."""
import json

import pytest
from conftest import NO_LOGGER, train
from conftest import compose_cfg as _cfg

SMALL = ["dataset=synthetic", "dataset.n_train=16", "dataset.n_test=12", "dataset.length=64",
         "trainer.enable_progress_bar=false", "model.depth=2", "model.K=8", NO_LOGGER]


def _levels(out_dir):
    return json.loads((out_dir / "metrics.json").read_text())


@pytest.mark.parametrize("scoring", ["probe", "running", "every_step"])
def test_iars_writes_one_selected_level_per_epoch(tmp_path, scoring):
    m = train(_cfg(tmp_path, *SMALL, "loss=iars", f"loss.scoring={scoring}",
                                "loss.selection.probe_every_steps=1", "trainer.max_epochs=4"))
    on_disk = _levels(tmp_path)
    assert on_disk["loss"] == "iars" and on_disk["epochs"] == 4 and m["steps"] == 8
    R = 7  # length 64
    assert len(on_disk["selected_resolutions"]) == 4 and all(0 <= r < R for r in on_disk["selected_resolutions"])
    assert len(on_disk["resolution_losses"]) == 4 and all(len(v) == R for v in on_disk["resolution_losses"])
    assert all(abs(sum(p) - 1) < 1e-9 for p in on_disk["selection_probs"])
    if scoring == "probe":
        assert all(v is not None for v in on_disk["resolution_losses"][0])  # the probe sees every resolution
        assert on_disk["probe_time_s"] > 0
    if scoring == "running":  # only trained resolutions are measured: one per step at most
        assert all(1 <= sum(v is not None for v in losses) <= 2 for losses in on_disk["resolution_losses"])


def test_probe_every_n_steps(tmp_path):
    # 2 steps per epoch: a probe every 4 steps measures at the ends of epochs 2 and 4
    train(_cfg(tmp_path, *SMALL, "loss=iars", "loss.selection.probe_every_steps=4",
                            "loss.selection.probe_size=4", "trainer.max_epochs=4"))
    measured = [any(v is not None for v in losses) for losses in _levels(tmp_path)["resolution_losses"]]
    assert measured == [False, True, False, True]


@pytest.mark.parametrize("loss", ["random", "fixed"])
def test_ablations_run(tmp_path, loss):
    extra = ["loss.resolution=3"] if loss == "fixed" else []
    m = train(_cfg(tmp_path, *SMALL, f"loss={loss}", *extra, "trainer.max_epochs=3"))
    assert 0 <= m["acc"] <= 1 and m["loss"] == loss
    if loss == "random":
        assert len(m["selected_resolutions"]) == 3
    else:
        assert "selected_resolutions" not in m


def test_random_per_step_runs_without_the_selection_callback(tmp_path):
    m = train(_cfg(tmp_path, *SMALL, "loss=random", "loss.granularity=step", "trainer.max_steps=4"))
    assert m["steps"] == 4 and "selected_resolutions" not in m


def test_resume_continues_the_same_selection_history(tmp_path):
    """Uniform selection depends only on the selector's RNG: resuming must continue the same draws."""
    common = [*SMALL, "loss=random", "save_checkpoint=true"]
    full = train(_cfg(tmp_path / "full", *common, "trainer.max_epochs=6"))
    train(_cfg(tmp_path / "first", *common, "trainer.max_epochs=3"))
    resumed = train(_cfg(tmp_path / "resumed", *common, "trainer.max_epochs=6",
                                      f"ckpt_path={tmp_path / 'first' / 'last.ckpt'}"))
    assert resumed["epochs"] == 6 and len(resumed["selected_resolutions"]) == 6
    assert resumed["selected_resolutions"] == full["selected_resolutions"]


def test_resumed_iars_run_keeps_its_history(tmp_path):
    common = [*SMALL, "loss=iars", "loss.selection.probe_size=4"]
    first = train(_cfg(tmp_path / "first", *common, "trainer.max_epochs=3"))
    resumed = train(_cfg(tmp_path / "resumed", *common, "trainer.max_epochs=5",
                                      f"ckpt_path={tmp_path / 'first' / 'last.ckpt'}"))
    assert resumed["selected_resolutions"][:3] == first["selected_resolutions"]
    assert resumed["resolution_losses"][:3] == first["resolution_losses"] and len(resumed["selected_resolutions"]) == 5


@pytest.mark.parametrize("override,message", [
    ("loss.selection.softmaxes=0", "loss.selection.softmaxes=0: must be at least 1"),
    ("loss.selection.probe_size=1", "loss.selection.probe_size=1"),
    ("loss.scoring=sometimes", "loss.scoring='sometimes'"),
])
def test_bad_selection_settings_are_config_errors(tmp_path, override, message):
    from iars.errors import ConfigError

    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        train(_cfg(tmp_path, *SMALL, "loss=iars", override, "trainer.max_epochs=1"))


def test_same_seed_same_selection_and_weights(tmp_path):
    import torch

    runs = [train(_cfg(tmp_path / r, *SMALL, "loss=iars", "loss.selection.probe_every_steps=1",
                                    "trainer.max_epochs=3")) for r in ("a", "b")]
    assert runs[0]["selected_resolutions"] == runs[1]["selected_resolutions"]
    assert runs[0]["resolution_losses"] == runs[1]["resolution_losses"]
    a, b = (torch.load(tmp_path / r / "last.ckpt", weights_only=False)["state_dict"] for r in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)

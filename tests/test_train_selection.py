"""loss=iars, random and fixed through the train script: selection history, resume."""
import json

import numpy as np
import pytest

from helpers import NO_LOGGER, train
from helpers import compose_cfg as _cfg

SMALL = ["dataset=synthetic", "dataset.n_train=16", "dataset.n_test=12", "dataset.length=64",
         "trainer.enable_progress_bar=false", "model.depth=2", "model.K=8", NO_LOGGER]


def _levels(out_dir):
    return json.loads((out_dir / "metrics.json").read_text())


@pytest.mark.parametrize("scoring", ["probe", "running", "every_step", "reuse"])
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
    if scoring == "reuse":  # every step measures (probe_every_steps=1): each crop's resolutions, not only the trained
        assert all(sum(v is not None for v in losses) >= 2 for losses in on_disk["resolution_losses"])


def test_reuse_measures_every_resolution_at_the_probe_interval(tmp_path):
    # 2 steps per epoch, measuring steps 0, 3, 6: epochs 1, 2 and 4 measure, epoch 3 does not
    m = train(_cfg(tmp_path, *SMALL, "loss=iars", "loss.scoring=reuse", "loss.selection.probe_every_steps=3",
                   "trainer.max_epochs=4"))
    measured = [any(v is not None for v in losses) for losses in m["resolution_losses"]]
    assert measured == [True, True, False, True] and m["probe_time_s"] == 0  # no probe pass of its own


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


def _weights(run_dir):
    import torch

    return torch.load(run_dir / "last.ckpt", weights_only=True)["state_dict"]


@pytest.mark.parametrize("scoring,every", [("probe", 1), ("running", 1), ("probe", 3), ("reuse", 3)])
def test_a_resumed_iars_run_continues_exactly_past_the_uniform_phase(tmp_path, scoring, every):
    """Stopped after 4 scored epochs and resumed to 8: the selector's history, the scores,
    the draws and the final weights are the uninterrupted run's, bit for bit (with a probe
    every 3 steps, also the probe schedule: 2 steps per epoch, so not every epoch probes)."""
    import torch

    common = [*SMALL, "loss=iars", f"loss.scoring={scoring}", f"loss.selection.probe_every_steps={every}"]
    full = train(_cfg(tmp_path / "full", *common, "trainer.max_epochs=8"))
    first = train(_cfg(tmp_path / "first", *common, "trainer.max_epochs=4"))
    resumed = train(_cfg(tmp_path / "resumed", *common, "trainer.max_epochs=8",
                         f"ckpt_path={tmp_path / 'first' / 'last.ckpt'}"))
    assert first["selection_probs"][-1] != full["selection_probs"][0]  # past the uniform phase
    for key in ("selected_resolutions", "resolution_losses", "selection_probs"):
        assert resumed[key] == full[key], key
    assert resumed["steps"] == full["steps"] == 16
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "resumed")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- the logged scores against the paper's formula, recomputed here ----------------------------


def _softmax(x, temperature):
    e = np.exp((x - x.max()) / temperature)
    return e / e.sum()


def _paper_scores(current, previous, softmaxes=2, temperature=1.0):
    """Eq. 9 then eq. 10, from the formula: softmax over the resolutions with a value of the
    loss change, applied ``softmaxes`` times; resolutions without a value get 0."""
    delta = np.array(current, float) - np.array(previous, float)
    p = np.zeros_like(delta)
    valid = ~np.isnan(delta)
    x = delta[valid]
    for _ in range(softmaxes):
        x = _softmax(x, temperature)
    p[valid] = x
    return p


def _filled(resolution_losses):
    """Each epoch's losses, an unmeasured resolution keeping its last value (the paper's filling)."""
    rows, last = [], None
    for losses in resolution_losses:
        row = np.array([np.nan if v is None else v for v in losses], float)
        if last is not None:
            row = np.where(np.isnan(row), last, row)
        rows.append(row)
        last = row
    return rows


@pytest.mark.parametrize("scoring,settings", [
    ("probe", []), ("running", []), ("reuse", []),
    ("probe", ["loss.selection.softmaxes=1", "loss.selection.temperature=0.05"]),
])
def test_logged_scores_are_the_papers_formula_of_the_logged_losses(tmp_path, scoring, settings):
    """An exact end-to-end oracle: next_probs[e] = eq. 9–10 of losses[e] and losses[e−1], with
    the softmaxes and temperature given in the config, and not uniform."""
    softmaxes = 1 if settings else 2
    temperature = 0.05 if settings else 1.0
    m = train(_cfg(tmp_path, *SMALL, "loss=iars", f"loss.scoring={scoring}", "loss.selection.probe_every_steps=1",
                   "trainer.max_epochs=8", *settings))
    losses, probs = _filled(m["resolution_losses"]), m["selection_probs"]
    R = len(probs[0])
    for e in range(1, len(probs)):
        expected = _paper_scores(losses[e], losses[e - 1], softmaxes, temperature)
        np.testing.assert_allclose(probs[e], expected, rtol=1e-12, atol=1e-15, err_msg=f"epoch {e}")
    assert max(abs(p - 1 / R) for row in probs[1:] for p in row) > (0.05 if settings else 1e-3)
    drawn = m["selected_resolutions"]
    assert all(probs[e - 1][drawn[e]] > 0 for e in range(1, len(drawn)))  # each draw had probability


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

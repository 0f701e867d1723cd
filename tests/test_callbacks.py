"""The pretraining callbacks by value, on stand-in trainers (no Lightning loop): the clock's
arithmetic, the interrupt checkpoint, the cross-rank reduction and broadcast, and what the
selection callback records and logs. The end-to-end runs are in test_train_selection.py,
test_faults.py and test_ddp.py; these pin the same behaviour in milliseconds."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch.utils.data import TensorDataset

import iars.callbacks as callbacks
from iars.callbacks import LossHistory, PretrainClock, ResolutionSelection, SaveOnInterrupt

CPU = SimpleNamespace(device=torch.device("cpu"))


class Clock:
    """time.perf_counter under the test's control."""

    def __init__(self, monkeypatch, now=0.0):
        self.now = now
        monkeypatch.setattr(callbacks.time, "perf_counter", lambda: self.now)


class TwoRanks:
    """The strategy of rank 1 of two, with Lightning's DDP semantics: ``reduce`` adds rank 0's
    tensor (``reduce_op`` "sum", case-insensitive; the default is "mean"), ``broadcast``
    returns the object of rank ``src`` (default 0)."""

    def __init__(self, rank0_tensors=(), rank0_object=None):
        self.rank0_tensors = list(rank0_tensors)
        self.rank0_object = rank0_object

    def reduce(self, tensor, reduce_op="mean"):
        op = str(reduce_op).lower()
        if op not in ("sum", "mean"):
            raise ValueError(f"unsupported reduce_op {reduce_op!r}")
        total = tensor + self.rank0_tensors.pop(0)
        return total if op == "sum" else total / 2

    def broadcast(self, obj, src=0):
        return {0: self.rank0_object, 1: obj}[src]


class OneRank:
    def reduce(self, tensor, reduce_op="mean"):
        return tensor

    def broadcast(self, obj, src=0):
        return obj


class Recorder:
    def __init__(self):
        self.calls = []

    def log_metrics(self, metrics, step):
        self.calls.append((metrics, step))


# -- PretrainClock ---------------------------------------------------------------------


def test_the_clock_counts_the_fit_loop_and_each_step(monkeypatch):
    clock, t = PretrainClock(), Clock(monkeypatch, 10.0)
    assert (clock.segments, clock.seconds, clock.steps, clock.step_times) == ([], 0.0, 0, [])
    assert clock.state_dict() == {"segments": [], "step_times": []}  # nothing running yet
    trainer = SimpleNamespace(global_step=0)
    clock.on_train_start(trainer, CPU)
    for start, end in [(11.0, 13.0), (14.0, 14.5)]:
        t.now = start
        clock.on_train_batch_start(trainer, CPU, None, 0)
        t.now = end
        clock.on_train_batch_end(trainer, CPU, None, None, 0)
    t.now = 15.0
    assert clock.state_dict() == {"segments": [5.0], "step_times": [2.0, 0.5]}  # a checkpoint mid-run
    t.now, trainer.global_step = 20.0, 2
    clock.on_train_end(trainer, CPU)
    assert (clock.segments, clock.seconds, clock.steps, clock.step_times) == ([10.0], 10.0, 2, [2.0, 0.5])
    assert clock.state_dict() == {"segments": [10.0], "step_times": [2.0, 0.5]}  # stopped: no running segment


def test_a_resumed_clock_adds_its_segment_to_the_checkpointed_ones(monkeypatch):
    clock, t = PretrainClock(), Clock(monkeypatch, 100.0)
    clock.load_state_dict({"segments": [3.0, 1.5], "step_times": [1.0]})
    clock.on_train_start(SimpleNamespace(global_step=7), CPU)
    t.now = 104.0
    clock.on_train_end(SimpleNamespace(global_step=9), CPU)
    assert (clock.segments, clock.seconds, clock.steps, clock.step_times) == ([3.0, 1.5, 4.0], 8.5, 9, [1.0])


# -- SaveOnInterrupt -------------------------------------------------------------------


def _loop_state(*, batches, step_completed, epoch_ended):
    """A stand-in fit loop in epoch 0 after ``batches`` steps: Lightning's own progress counters."""
    from pytorch_lightning.loops.progress import _BatchProgress, _Progress

    steps, epochs = _BatchProgress(), _Progress()
    for _ in range(batches):
        steps.increment_ready(), steps.increment_started(), steps.increment_processed(), steps.increment_completed()
    if not step_completed:
        steps.current.completed -= 1
        steps.total.completed -= 1
    epochs.increment_ready(), epochs.increment_started()
    if epoch_ended:
        epochs.increment_processed(), epochs.increment_completed()
    epoch_loop = SimpleNamespace(batch_progress=steps, _batches_that_stepped=batches - (not step_completed))
    return SimpleNamespace(epoch_loop=epoch_loop, epoch_progress=epochs)


def _recording_trainer(loop, saves):
    def save_checkpoint(path, weights_only):  # what the checkpoint records of the loop
        saves.append((path, weights_only, loop.epoch_loop.batch_progress.current.completed,
                      loop.epoch_progress.current.completed, loop.epoch_loop._batches_that_stepped))

    return SimpleNamespace(save_checkpoint=save_checkpoint, fit_loop=loop, received_sigterm=False)


def test_only_sigterm_saves_a_checkpoint_at_the_given_path(tmp_path):
    saves = []
    trainer = _recording_trainer(_loop_state(batches=3, step_completed=True, epoch_ended=False), saves)
    cb = SaveOnInterrupt(tmp_path / "last.ckpt")
    assert cb.saved is False
    cb.on_exception(trainer, CPU, ValueError("mid-step"))
    cb.on_train_batch_end(trainer, CPU, None, None, 2)  # no signal received
    assert saves == [] and cb.saved is False
    cb.on_exception(trainer, CPU, SIGTERMException())
    assert saves == [(tmp_path / "last.ckpt", False, 2, 0, 2)] and cb.saved is True
    cb.on_exception(trainer, CPU, SIGTERMException())
    assert len(saves) == 1  # once


@pytest.mark.parametrize("step_completed, epoch_ended", [(False, False), (True, False), (True, True)])
def test_the_interrupt_checkpoint_records_the_loop_as_at_the_steps_end(tmp_path, step_completed, epoch_ended):
    """Whether saved at the step's end, after Lightning counted it completed, or after the epoch's
    end: the checkpoint holds the loop state of a periodic checkpoint at the step's end (step
    counted as not yet completed, epoch not ended), and the loop is left as it was."""
    saves, loop = [], _loop_state(batches=5, step_completed=step_completed, epoch_ended=epoch_ended)
    before = (loop.epoch_loop.batch_progress.state_dict(), loop.epoch_progress.state_dict(),
              loop.epoch_loop._batches_that_stepped)
    trainer = _recording_trainer(loop, saves)
    cb = SaveOnInterrupt(tmp_path / "last.ckpt")
    if step_completed:
        cb.on_exception(trainer, CPU, SIGTERMException())
    else:
        trainer.received_sigterm = True
        cb.on_train_batch_end(trainer, CPU, None, None, 4)
    assert saves == [(tmp_path / "last.ckpt", False, 4, 0, 4)]
    assert (loop.epoch_loop.batch_progress.state_dict(), loop.epoch_progress.state_dict(),
            loop.epoch_loop._batches_that_stepped) == before


# -- ResolutionSelection: reduction, broadcast, records, logs ---------------------------


def test_the_reduced_losses_are_the_mean_over_all_ranks_observations():
    sums, counts = torch.tensor([1.0, 4.0, 5.0, 0.0]), torch.tensor([1.0, 2.0, 1.0, 0.0])
    rank0 = [torch.tensor([3.0, 2.0, 0.0, 0.0]), torch.tensor([3.0, 1.0, 0.0, 0.0])]  # its sums, its counts
    trainer = SimpleNamespace(strategy=TwoRanks(rank0))
    reduced = ResolutionSelection._reduce(trainer, sums, counts)
    assert isinstance(reduced, np.ndarray)
    np.testing.assert_array_equal(reduced, [4.0 / 4, 6.0 / 3, 5.0 / 1, np.nan])  # (s0+s1)/(c0+c1); NaN: none


def test_every_rank_trains_rank_0s_draw():
    cb = ResolutionSelection(5, scoring="running", seed=3)
    own = ResolutionSelection(5, scoring="running", seed=3).selector.sample()  # what this rank would draw
    module = SimpleNamespace(train_resolution=None)
    assert cb._choose(SimpleNamespace(strategy=TwoRanks(rank0_object=(own + 1) % 5)), module) == (own + 1) % 5
    assert module.train_resolution == (own + 1) % 5 and cb.selector.chosen == [(own + 1) % 5]


def _epoch_end(cb, sums, counts, *, logger, global_zero=True, epoch=0, step=2, trained=1):
    module = SimpleNamespace(train_resolution=trained, epoch_resolution_sums=lambda: (sums, counts))
    last_batch = SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=SimpleNamespace(is_last_batch=True)))
    trainer = SimpleNamespace(strategy=OneRank(), logger=logger, is_global_zero=global_zero,
                              current_epoch=epoch, global_step=step, fit_loop=last_batch)
    cb.on_train_batch_end(trainer, module, None, None, 0)  # the epoch's last step closes it
    cb.on_train_epoch_end(trainer, module)  # and Lightning's epoch end adds nothing
    return module


def test_each_epoch_records_and_logs_the_trained_resolution_the_losses_and_the_next_probabilities():
    cb, logger = ResolutionSelection(3, scoring="running", seed=0), Recorder()
    cb.selector.chosen.append(1)  # as on_train_start leaves it
    probs0 = cb.selector.probabilities
    module = _epoch_end(cb, torch.tensor([2.0, 0.0, 3.0]), torch.tensor([2.0, 0.0, 1.0]),
                        logger=logger, epoch=4, step=10, trained=1)
    assert cb.history == [{"epoch": 4, "resolution": 1, "losses": [1.0, None, 3.0],
                           "next_probs": probs0.tolist()}]
    assert module.train_resolution == cb.selector.chosen[-1]
    assert logger.calls == [({"selection/resolution": 1, "selection/prob_r0": probs0[0],
                              "selection/prob_r1": probs0[1], "selection/prob_r2": probs0[2],
                              "selection/loss_r0": 1.0, "selection/loss_r2": 3.0}, 10)]
    # a second epoch: the probabilities now come from two observations, and are logged as recorded
    _epoch_end(cb, torch.tensor([1.0, 4.0, 6.0]), torch.tensor([1.0, 1.0, 1.0]), logger=logger, epoch=5, step=12)
    metrics, step = logger.calls[-1]
    assert step == 12 and [metrics[f"selection/prob_r{r}"] for r in range(3)] == cb.history[-1]["next_probs"]
    assert [metrics[f"selection/loss_r{r}"] for r in range(3)] == [1.0, 4.0, 6.0] == cb.history[-1]["losses"]


def test_only_rank_0_logs_and_a_run_without_logger_still_records():
    cb, logger = ResolutionSelection(3, scoring="running"), Recorder()
    cb.selector.chosen.append(0)
    _epoch_end(cb, torch.ones(3), torch.ones(3), logger=logger, global_zero=False)
    _epoch_end(cb, torch.ones(3), torch.ones(3), logger=None, epoch=1)
    assert logger.calls == [] and len(cb.history) == 2


@pytest.mark.parametrize("seed", range(5))
def test_the_probe_crop_lies_within_the_series_and_holds_every_resolution(seed):
    # more channels (32) than timestamps (8): a crop drawn over the wrong axis would overrun
    x = torch.randn(6, 8, 32, generator=torch.Generator().manual_seed(seed))
    trainer = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=TensorDataset(x)))
    cb = ResolutionSelection(4, seed=seed, probe_size=4)
    probe, crop = cb.probe_batch(trainer, SimpleNamespace(temporal_unit=0))
    assert probe.shape == (4, 8, 32) and crop.length >= 2 ** 3
    assert all(0 <= o + crop.a1 and o + crop.b2 <= 8 for o in crop.offsets.tolist())


# -- ResolutionSelection: settings and restoring ----------------------------------------


def test_the_callbacks_defaults_are_the_configs_and_the_selectors():
    from importlib.resources import files

    import yaml

    from iars.selection import ResolutionSelector

    conf = yaml.safe_load(files("iars.conf").joinpath("loss", "iars.yaml").read_text())
    cb = ResolutionSelection(7)
    assert cb.scoring == conf["scoring"]
    assert (cb.selector.rule, cb.selector.softmaxes, cb.selector.temperature) == (
        conf["selection"]["rule"], conf["selection"]["softmaxes"], conf["selection"]["temperature"])
    assert (cb.probe_size, cb.probe_every_steps) == (conf["selection"]["probe_size"],
                                                     conf["selection"]["probe_every_steps"])
    selector = ResolutionSelector(7)  # the same default seed: the same draws
    assert [cb.selector.sample() for _ in range(20)] == [selector.sample() for _ in range(20)]


def test_the_seed_reaches_the_draws():
    def draws(seed):
        selector = ResolutionSelection(7, seed=seed).selector
        return [selector.sample() for _ in range(20)]

    assert draws(5) == draws(5) != draws(0)


@pytest.mark.parametrize("settings,message", [
    ({"probe_size": 1}, "loss.selection.probe_size=1: the instance loss needs at least 2 series"),
    ({"probe_every_steps": 0}, "loss.selection.probe_every_steps=0: must be at least 1"),
    ({"probe_every_steps": 2.5}, "loss.selection.probe_every_steps=2.5: must be at least 1"),
])
def test_bad_probe_settings_are_config_errors(settings, message):
    from iars.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        ResolutionSelection(7, **settings)
    assert ResolutionSelection(7, probe_size=2, probe_every_steps=1).probe_size == 2  # the smallest allowed


def _restored(state, **kwargs):
    cb = ResolutionSelection(7, scoring="running", **kwargs)
    cb.load_state_dict(state)
    module = SimpleNamespace(train_resolution=None)
    cb.on_train_start(SimpleNamespace(strategy=OneRank()), module)
    return cb, module


def _saved_state(resolution=2, last_probe_step=7):
    cb = ResolutionSelection(7, scoring="running", probe_every_steps=10)
    for losses in ([3.0] * 7, [2.0] * 7):
        cb.selector.observe(losses)
    cb.selector.chosen += [1, resolution]
    cb.history = [{"epoch": 0}, {"epoch": 1}]
    cb._last_probe_step = last_probe_step
    return cb.state_dict()


def test_a_restored_callback_continues_the_saved_resolution_history_and_probe_schedule():
    state = _saved_state(resolution=2, last_probe_step=7)
    cb, module = _restored(state, probe_every_steps=10)
    assert module.train_resolution == 2 and cb.history == [{"epoch": 0}, {"epoch": 1}]
    assert cb.selector.chosen == [1, 2] and len(cb.selector.history) == 2
    assert cb._last_probe_step == 7  # the next probe: 10 steps after step 7


def test_a_checkpoint_of_an_earlier_version_restores_its_level_and_probes_from_step_0():
    state = _saved_state(resolution=3)
    del state["resolution"], state["last_probe_step"]
    state["level"] = 3  # the key's earlier name
    cb, module = _restored(state, probe_every_steps=10)
    assert module.train_resolution == 3
    assert cb._last_probe_step == 0


def test_a_second_fit_after_a_restore_starts_afresh():
    cb, module = _restored(_saved_state())
    cb.on_train_start(SimpleNamespace(strategy=OneRank()), module)  # Trainer.fit again: nothing left to restore
    assert len(cb.selector.chosen) == 3 and module.train_resolution == cb.selector.chosen[-1]


def test_the_loss_history_keeps_each_steps_loss_in_order_and_continues_after_a_restore():
    history = LossHistory()
    for loss in (torch.tensor(2.5), {"loss": torch.tensor([1.5])}, torch.tensor(0.25, requires_grad=True) * 2):
        history.on_train_batch_end(None, None, loss, None, 0)
    assert history.losses == []  # read once, at the end (no device sync per step)
    state = history.state_dict()  # a checkpoint mid-fit reads them too
    assert state == {"losses": [2.5, 1.5, 0.5]}
    history.on_train_batch_end(None, None, torch.tensor(4.0), None, 0)
    history.on_train_end(None, None)
    assert history.losses == [2.5, 1.5, 0.5, 4.0]
    resumed = LossHistory()
    resumed.load_state_dict(state)
    resumed.on_train_batch_end(None, None, torch.tensor(3.0), None, 0)
    resumed.on_train_end(None, None)
    assert resumed.losses == [2.5, 1.5, 0.5, 3.0] and state == {"losses": [2.5, 1.5, 0.5]}

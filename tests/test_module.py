"""The pretraining module (iars.module.ContrastivePretrainer): which resolution each mode trains
and what gets gradient, the per-resolution records for scoring, its checks, the checkpoint it is
rebuilt from, and the module under a plain Trainer. The pure selector is in test_selection.py."""

import numpy as np
import pytest
import torch

from iars.augment import Crop
from iars.encoders import DilatedConvEncoder
from iars.losses import level_losses, num_levels
from iars.module import ContrastivePretrainer
from iars.selection import depth_of_resolution, resolution_of_depth

NAN = float("nan")


def _grads(module, loss):
    module.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in module.encoder.parameters()]


@pytest.mark.parametrize("scoring", ["running", "every_step", "reuse"])
@pytest.mark.parametrize("resolution", [0, 2, 5])
def test_only_the_selected_resolution_contributes_gradient(scoring, resolution):
    torch.manual_seed(0)
    enc = DilatedConvEncoder(in_channels=2, K=8, depth=2, dropout=0.0)
    module = ContrastivePretrainer(enc, mode="iars", max_length=64, scoring=scoring, averaged=False)
    module.train_resolution = resolution
    x = torch.randn(4, 64, 2)

    torch.manual_seed(1)  # same crop and mask for both computations
    g_step = _grads(module, module.training_step((x,), 0))
    torch.manual_seed(1)
    z1, z2 = module.views(x)
    L = num_levels(z1.size(1))
    single = level_losses(z1, z2)[depth_of_resolution(resolution, L)]
    g_ref = _grads(module, single)
    for a, b in zip(g_step, g_ref):
        torch.testing.assert_close(a, b)
    sums, counts = module.epoch_resolution_sums()
    expected_count = L if scoring in ("every_step", "reuse") else 1  # reuse: step 0 measures
    assert int(counts.sum()) == expected_count
    assert sums[min(resolution, L - 1)] == pytest.approx(single.item(), rel=1e-5)
    if scoring != "running":  # every level, from the step's own views (no encoder pass of its own)
        every = {resolution_of_depth(d, L): v.item() for d, v in enumerate(level_losses(z1, z2))}
        np.testing.assert_allclose([sums[r].item() for r in sorted(every)], [every[r] for r in sorted(every)],
                                   rtol=1e-5)


def test_reuse_measures_every_level_on_probe_size_series_of_the_steps_own_views():
    torch.manual_seed(0)
    module = ContrastivePretrainer(DilatedConvEncoder(2, K=8, depth=2, dropout=0.0), mode="iars", max_length=64,
                                   scoring="reuse", selection={"probe_size": 2}, averaged=False)
    module.train_resolution = 1
    x = torch.randn(5, 64, 2)
    torch.manual_seed(3)
    module.training_step((x,), 0)  # step 0 measures
    torch.manual_seed(3)  # the same crop and mask
    z1, z2 = module.views(x)
    L = num_levels(z1.size(1))
    expected = {resolution_of_depth(d, L): v.item() for d, v in enumerate(level_losses(z1[:2], z2[:2]))}
    sums, counts = module.epoch_resolution_sums()
    assert counts.tolist() == [1.0 if r in expected else 0.0 for r in range(module.n_resolutions)]
    np.testing.assert_allclose([sums[r].item() for r in sorted(expected)], [expected[r] for r in sorted(expected)],
                               rtol=1e-5)


def test_reuse_records_nothing_on_the_steps_between_measurements():
    torch.manual_seed(0)
    module = ContrastivePretrainer(DilatedConvEncoder(2, K=8, depth=2), mode="iars", max_length=64,
                                   scoring="reuse", selection={"probe_every_steps": 3}, averaged=False)
    module.train_resolution = 2
    x = torch.randn(4, 64, 2)
    assert [module.measures_every_level(s) for s in range(8)] == [True, False, False, True, False, False,
                                                                  True, False]
    module.measures_every_level = lambda step: False  # a step between measurements
    module.training_step((x,), 0)
    sums, counts = module.epoch_resolution_sums()
    assert int(counts.sum()) == 0 and float(sums.abs().sum()) == 0.0


def test_hier_step_is_the_mean_of_all_levels():
    torch.manual_seed(0)
    module = ContrastivePretrainer(DilatedConvEncoder(2, K=8, depth=1, dropout=0.0), averaged=False)
    x = torch.randn(3, 40, 2)
    torch.manual_seed(5)
    step = module.training_step((x,), 0)
    torch.manual_seed(5)
    z1, z2 = module.views(x)
    torch.testing.assert_close(step, torch.stack(level_losses(z1, z2)).mean())


def test_random_per_step_draws_among_the_crops_levels():
    torch.manual_seed(0)
    module = ContrastivePretrainer(DilatedConvEncoder(2, K=4, depth=1), mode="random", granularity="step",
                                   max_length=32, averaged=False)
    seen = set()
    for _ in range(40):
        module.training_step((torch.randn(2, 32, 2),), 0)
        sums, counts = module.epoch_resolution_sums()
        seen.update(torch.nonzero(counts).flatten().tolist())
    assert len(seen) >= 4


def test_fixed_needs_a_valid_resolution():
    from iars.errors import ConfigError

    with pytest.raises(ConfigError, match="loss.resolution=9"):
        ContrastivePretrainer(torch.nn.Identity(), mode="fixed", max_length=100, resolution=9)
    with pytest.raises(ConfigError, match="loss.resolution=-8"):
        ContrastivePretrainer(torch.nn.Identity(), mode="fixed", max_length=100, resolution=-8)
    with pytest.raises(ConfigError, match="no loss.resolution: loss=fixed needs a resolution index in 0..6"):
        ContrastivePretrainer(torch.nn.Identity(), mode="fixed", max_length=100)


def test_a_negative_fixed_resolution_counts_from_the_finest():
    # T = 100 has R = 7 resolutions: -1 is r = 6 (lengths 64..127), -7 is r = 0 (length 1)
    for given, resolution in ((-1, 6), (-2, 5), (-7, 0)):
        module = ContrastivePretrainer(torch.nn.Identity(), mode="fixed", max_length=100, resolution=given)
        assert module.train_resolution == resolution


# -- the module brings its selection ------------------------------------------------------


@pytest.mark.parametrize("loader_of", ["tensors", "tensor_dataset"])
def test_any_trainer_fit_selects(loader_of):
    """A plain Trainer and loader (no iars DataModule, no callback passed): the module brings
    its selection callback and draws its probe batch from the loader's dataset."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    X = torch.randn(16, 64, 2)
    data = X if loader_of == "tensors" else TensorDataset(X)
    module = ContrastivePretrainer(DilatedConvEncoder(2, K=8, depth=1), mode="iars", max_length=64,
                                   selection={"probe_every_steps": 1})
    trainer = pl.Trainer(max_epochs=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(module, DataLoader(data, batch_size=8))
    history = module.selection.history
    assert len(history) == 4 and module.selection in trainer.callbacks
    assert all(all(v is not None for v in h["losses"]) for h in history)  # the probe measured every resolution
    assert [h["resolution"] for h in history[1:]] == module.selection.selector.chosen[1:4]
    assert not np.allclose(history[-1]["next_probs"], 1 / 7)  # scored, not uniform


def test_selection_settings_are_checked_when_the_module_is_built():
    from iars.errors import ConfigError

    enc = DilatedConvEncoder(2, K=4, depth=1)
    for selection, message in (({"softmaxes": 0}, "loss.selection.softmaxes=0"),
                               ({"temperature": -1.0}, "loss.selection.temperature=-1.0"),
                               ({"rule": "greedy"}, "loss.selection.rule='greedy'"),
                               ({"probe_size": 1}, "loss.selection.probe_size=1")):
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            ContrastivePretrainer(enc, mode="iars", max_length=64, selection=selection)
    with pytest.raises(ConfigError, match="loss=random draws uniformly"):
        ContrastivePretrainer(enc, mode="random", max_length=64, selection={"rule": "importance"})
    with pytest.raises(ConfigError, match="give max_length"):
        ContrastivePretrainer(enc, mode="iars")


def test_the_module_is_rebuilt_from_its_checkpoint(tmp_path):
    """An encoder given as a spec is recorded: load_from_checkpoint needs nothing else."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    spec = {"_target_": "iars.encoders.DilatedConvEncoder", "in_channels": 2, "K": 8, "depth": 1}
    module = ContrastivePretrainer(spec, mode="fixed", resolution=-1, max_length=32, normaliser={"mean": [0.0, 1.0],
                                                                                                  "scale": [1.0, 2.0]})
    trainer = pl.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(module, DataLoader(TensorDataset(torch.randn(8, 32, 2)), batch_size=4))
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    loaded = ContrastivePretrainer.load_from_checkpoint(tmp_path / "m.ckpt")
    assert loaded.hparams["normaliser"] == {"mean": [0.0, 1.0], "scale": [1.0, 2.0]} and loaded.train_resolution == 5
    x = torch.randn(3, 32, 2)
    torch.testing.assert_close(loaded.eval_encoder.eval()(x), module.eval_encoder.eval()(x), rtol=0, atol=0)


def test_probe_scoring_needs_a_map_style_dataset():
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, IterableDataset

    from iars.errors import ConfigError

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(torch.randn(16, 64, 2))

    module = ContrastivePretrainer(DilatedConvEncoder(2, K=4, depth=1), mode="iars", max_length=64)
    trainer = pl.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    with pytest.raises(ConfigError, match="loss.scoring=probe draws its probe batch by index and needs a map-style "
                                          "dataset; use loss.scoring=running with an iterable dataset"):
        trainer.fit(module, DataLoader(Stream(), batch_size=8))


def test_series_shorter_than_max_length_are_named():
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    from iars.errors import ConfigError

    module = ContrastivePretrainer(DilatedConvEncoder(2, K=4, depth=1), mode="iars", max_length=64)  # R = 7
    trainer = pl.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    for length in (32, 63):  # 2^(R-1) = 64 timestamps hold every resolution
        with pytest.raises(ConfigError, match=rf"length {length}, too short for the module's 7 resolutions "
                                              r"\(max_length >= 64\)"):
            trainer.fit(module, DataLoader(TensorDataset(torch.randn(8, length, 2)), batch_size=4))


def test_probe_seconds_add_up_over_probes(monkeypatch):
    """Each probe adds its own duration: with a clock that ticks 1 s per reading, 1 s per probe."""
    import itertools

    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    from iars import callbacks

    ticks = itertools.count()
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: float(next(ticks)))
    module = ContrastivePretrainer(DilatedConvEncoder(2, K=4, depth=1), mode="iars", max_length=32,
                                   selection={"probe_every_steps": 1})
    trainer = pl.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(module, DataLoader(TensorDataset(torch.randn(8, 32, 2)), batch_size=8))
    assert module.selection.probe_seconds == 4.0  # before training, then after each of 3 epochs


def test_round_views_pads_each_view_with_missing_values():
    """round_views=N encodes each view padded at its end to a multiple of N with NaN (masked as
    missing), then drops the padding; "auto" pads on GPU only, so on CPU it changes nothing."""
    torch.manual_seed(0)
    enc = DilatedConvEncoder(2, K=8, depth=2).eval()
    x = torch.randn(3, 100, 2)
    crop = Crop(left=20, right=70, a1=5, b2=90, offsets=torch.zeros(3, dtype=torch.long))  # views of 65 and 70
    plain, auto, rounded = (ContrastivePretrainer(enc, round_views=r).eval() for r in (None, "auto", 32))
    for a, b in zip(plain.views(x, crop), auto.views(x, crop)):
        assert torch.equal(a, b)
    v1 = x[:, 5:70]
    padded = torch.cat([v1, torch.full((3, 96 - 65, 2), float("nan"))], dim=1)  # 65 -> 96
    torch.testing.assert_close(rounded.views(x, crop)[0], enc(padded)[:, :65][:, -50:], rtol=0, atol=0)
    with pytest.raises(Exception, match="loss.round_views=0"):
        ContrastivePretrainer(enc, round_views=0)


def test_pickles_of_an_unchanged_module_are_identical_and_keep_its_random_stream():
    """A torch.Generator pickles a fresh state tensor keyed by its address, so pickles (and hashes,
    such as aeon's check that transform changes no state) of one unchanged module differed; the
    module pickles its generator's state instead."""
    import pickle

    module = ContrastivePretrainer(DilatedConvEncoder(in_channels=2, K=8, depth=1), mode="random", max_length=32,
                                   granularity="step", seed=3)
    size = module._generator.get_state().numel()
    first = pickle.dumps(module)
    held = [torch.empty(size, dtype=torch.uint8) for _ in range(4)]  # the state's next copy lands elsewhere
    assert pickle.dumps(module) == first and held
    copy = pickle.loads(first)
    assert isinstance(copy._generator, torch.Generator)
    assert [copy._resolution_to_train(5) for _ in range(8)] == [module._resolution_to_train(5) for _ in range(8)]

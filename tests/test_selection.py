"""The pure IARS selector (iars.selection): resolution alignment, filling, eq. 9-10 scores, seeded draws, state."""
import math

import numpy as np
import pytest
import torch

from iars.augment import Crop
from iars.encoders import DilatedConvEncoder
from iars.losses import level_losses, num_levels
from iars.module import ContrastivePretrainer
from iars.selection import (
    ResolutionSelector,
    depth_of_resolution,
    importance_scores,
    resolution_of_depth,
)

NAN = float("nan")


@pytest.mark.parametrize("n", range(1, 300))
def test_resolution_index_names_the_level_length(n):
    """Aligned from the coarsest end: resolution r holds the level of length 2^r..2^(r+1)-1."""
    L = num_levels(n)
    for depth in range(L):
        r = resolution_of_depth(depth, L)
        assert r == math.floor(math.log2(n >> depth))
        assert depth_of_resolution(r, L) == depth


def test_missing_resolution_trains_the_finest_level():
    assert depth_of_resolution(7, num_levels(5)) == 0


def test_probe_vector_is_aligned_from_the_coarsest_end():
    torch.manual_seed(0)
    enc = DilatedConvEncoder(in_channels=2, K=8, depth=1)
    module = ContrastivePretrainer(enc, mode="iars", max_length=100, averaged=False)  # R = 7
    x = torch.randn(3, 100, 2)
    crop = Crop(left=10, right=15, a1=4, b2=30, offsets=torch.zeros(3, dtype=torch.long))  # overlap 5
    out = module.probe_losses(x, crop)
    assert out.shape == (7,)
    assert torch.isnan(out[3:]).all() and torch.isfinite(out[:3]).all()
    enc.eval()
    z1, z2 = module.views(x, crop)
    expected = level_losses(z1, z2)  # finest (length 5) .. coarsest (length 1)
    torch.testing.assert_close(out[:3], torch.stack(expected[::-1]))


def test_absent_resolutions_are_filled_from_their_last_value():
    sel = ResolutionSelector(4)
    np.testing.assert_array_equal(sel.observe([1.0, 2.0, NAN, NAN]), [1.0, 2.0, NAN, NAN])
    np.testing.assert_array_equal(sel.observe([NAN, 3.0, 4.0, NAN]), [1.0, 3.0, 4.0, NAN])
    np.testing.assert_array_equal(sel.observe([NAN, NAN, NAN, 5.0]), [1.0, 3.0, 4.0, 5.0])


def test_scores_follow_eq_9_and_10_by_hand():
    # deltas (-0.5, 1, 0): softmax -> (0.14024, 0.62853, 0.23122); softmax again -> below
    p = importance_scores([1.0, 2.0, 0.5], [1.5, 1.0, 0.5])
    np.testing.assert_allclose(p, [0.26847, 0.43748, 0.29404], atol=1e-5)
    np.testing.assert_allclose(importance_scores([1.0, 2.0, 0.5], [1.5, 1.0, 0.5], softmaxes=1),
                               [0.14024, 0.62853, 0.23122], atol=1e-5)
    sharp = importance_scores([1.0, 2.0, 0.5], [1.5, 1.0, 0.5], softmaxes=1, temperature=0.1)
    assert sharp[1] > 0.99


def test_resolutions_without_values_get_no_probability():
    p = importance_scores([1.0, NAN, 2.0], [1.0, 1.0, NAN])
    np.testing.assert_array_equal(p, [1.0, 0.0, 0.0])


def test_a_rising_loss_is_more_important_than_a_falling_one():
    sel = ResolutionSelector(3)
    sel.observe([2.0, 2.0, 2.0])
    sel.observe([2.5, 2.0, 1.0])  # r0 rose, r1 flat, r2 fell
    p = sel.probabilities
    assert p[0] > p[1] > p[2] and p.sum() == pytest.approx(1.0)


def test_first_epoch_is_uniform():
    sel = ResolutionSelector(5)
    np.testing.assert_allclose(sel.probabilities, 0.2)
    sel.observe([1, 2, 3, 4, 5])
    np.testing.assert_allclose(sel.probabilities, 0.2)  # one epoch: no change to score yet


def test_uniform_rule_ignores_the_losses():
    sel = ResolutionSelector(3, rule="uniform")
    sel.observe([1.0, 1.0, 1.0])
    sel.observe([9.0, 1.0, 0.0])
    np.testing.assert_allclose(sel.probabilities, 1 / 3)


def test_draws_follow_the_probabilities():
    sel = ResolutionSelector(3, softmaxes=1)
    sel.observe([0.0, 0.0, 0.0])
    sel.observe([0.0, 1.0, 2.0])
    counts = np.bincount([sel.sample() for _ in range(20000)], minlength=3) / 20000
    np.testing.assert_allclose(counts, sel.probabilities, atol=0.015)


def _run(sel, epochs=12, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        losses = rng.uniform(0, 3, sel.n_resolutions)
        losses[rng.integers(sel.n_resolutions)] = NAN
        sel.observe(losses)
        sel.sample()
    return sel


def test_seed_makes_selection_reproducible():
    a, b, c = (_run(ResolutionSelector(6, seed=s)) for s in (1, 1, 2))
    assert a.chosen == b.chosen and a.chosen != c.chosen


def test_state_round_trips():
    a = _run(ResolutionSelector(6, seed=3), epochs=5)
    b = ResolutionSelector(6, seed=99)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    _run(a, epochs=5, seed=7)
    _run(b, epochs=5, seed=7)
    assert a.chosen == b.chosen
    np.testing.assert_array_equal(np.array(a.history), np.array(b.history))


def test_bad_arguments():
    with pytest.raises(ValueError, match="softmaxes"):
        ResolutionSelector(3, softmaxes=0)
    with pytest.raises(ValueError, match="rule=.greedy.: choose one of importance, relative, uniform"):
        ResolutionSelector(3, rule="greedy")
    with pytest.raises(ValueError, match="temperature=0: must be positive"):
        ResolutionSelector(3, temperature=0)
    with pytest.raises(ValueError, match="n_resolutions must be at least 1, got 0"):
        ResolutionSelector(0)
    with pytest.raises(ValueError, match="expected 3"):
        ResolutionSelector(3).observe([1.0, 2.0])


def test_defaults_are_the_papers():
    sel = ResolutionSelector(4)
    assert (sel.softmaxes, sel.temperature, sel.rule) == (2, 1.0, "importance")
    assert _run(ResolutionSelector(6)).chosen == _run(ResolutionSelector(6, seed=0)).chosen


def test_a_single_resolution_is_always_drawn():
    sel = ResolutionSelector(1)
    sel.observe([1.0])
    sel.observe([2.0])
    assert [sel.sample() for _ in range(5)] == [0] * 5


def test_none_marks_a_resolution_without_a_value():
    np.testing.assert_array_equal(importance_scores([1.0, None, 2.0], [1.0, 1.0, None]), [1.0, 0.0, 0.0])
    sel = ResolutionSelector(3)
    sel.observe([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(sel.observe([None, 5.0, None]), [1.0, 5.0, 3.0])


def test_large_loss_changes_stay_finite():
    """Softmax of large changes (shifted by the maximum, as it must be, before exp)."""
    p = importance_scores([900.0, 0.0, 450.0], [0.0, 0.0, 0.0], softmaxes=1)
    np.testing.assert_allclose(p, [1.0, 0.0, 0.0], atol=1e-12)
    p = importance_scores([-900.0, -901.0], [0.0, 0.0], softmaxes=1)
    np.testing.assert_allclose(p, [1 / (1 + np.exp(-1)), 1 - 1 / (1 + np.exp(-1))])


# -- the training step under loss=iars ---------------------------------------------------


def test_a_selection_state_before_any_draw():
    from iars.callbacks import ResolutionSelection

    state = ResolutionSelection(7).state_dict()
    assert state["resolution"] is None and state["last_probe_step"] == 0 and state["history"] == []

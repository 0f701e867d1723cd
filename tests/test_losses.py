import math

import pytest
import torch

import reference as ref
from iars import losses

SHAPES = [(1, 1), (1, 5), (2, 1), (2, 2), (3, 7), (4, 8), (2, 13), (5, 3)]


def _pair(B, T, K=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    z1 = (0.7 * torch.randn(B, T, K, generator=g, dtype=torch.float64)).requires_grad_()
    z2 = (0.7 * torch.randn(B, T, K, generator=g, dtype=torch.float64)).requires_grad_()
    return z1, z2


def _check(fast_fn, slow_fn, z1, z2):
    fast = fast_fn(z1, z2)
    slow = slow_fn(z1, z2)
    torch.testing.assert_close(fast, slow, rtol=1e-9, atol=1e-9)
    if slow.requires_grad:
        g_fast = torch.autograd.grad(fast, (z1, z2))
        g_slow = torch.autograd.grad(slow, (z1, z2))
        for a, b in zip(g_fast, g_slow):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("B,T", SHAPES)
def test_instance_loss_matches_formula(B, T):
    _check(losses.instance_contrastive_loss, ref.instance_loss, *_pair(B, T))


@pytest.mark.parametrize("B,T", SHAPES)
def test_temporal_loss_matches_formula(B, T):
    _check(losses.temporal_contrastive_loss, ref.temporal_loss, *_pair(B, T))


@pytest.mark.parametrize("B,T", SHAPES)
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_hierarchical_loss_matches_formula(B, T, pool):
    _check(
        lambda a, b: losses.hierarchical_loss(a, b, pool=pool),
        lambda a, b: ref.hierarchical_loss(a, b, how=pool),
        *_pair(B, T, seed=B * 100 + T),
    )


@pytest.mark.parametrize("alpha,unit", [(0.0, 0), (1.0, 0), (0.3, 1), (0.5, 2)])
def test_alpha_and_temporal_unit(alpha, unit):
    z1, z2 = _pair(3, 9)
    fast = losses.level_losses(z1, z2, alpha=alpha, temporal_unit=unit)
    slow = ref.level_losses(z1, z2, alpha=alpha, temporal_unit=unit)
    torch.testing.assert_close(torch.stack(fast), torch.stack(slow))


@pytest.mark.parametrize("T", [1, 2, 3, 7, 8, 9, 100, 2500])
def test_number_of_levels(T):
    assert losses.num_levels(T) == math.floor(math.log2(T)) + 1
    z = torch.zeros(2, T, 1)
    assert len(losses.level_losses(z, z)) == losses.num_levels(T)


def test_final_level_is_instance_only():
    z1, z2 = _pair(3, 1)
    torch.testing.assert_close(
        losses.level_loss(z1, z2, alpha=0.5), 0.5 * ref.instance_loss(z1, z2)
    )


def test_degenerate_terms_are_zero():
    z1, z2 = _pair(1, 1)
    assert losses.instance_contrastive_loss(z1, z2).item() == 0.0
    assert losses.temporal_contrastive_loss(z1, z2).item() == 0.0


def test_aligned_views_score_better_than_shuffled():
    """Sanity of direction: identical views give a lower loss than unrelated ones."""
    z = 3 * torch.randn(4, 16, 8)
    assert losses.hierarchical_loss(z, z) < losses.hierarchical_loss(z, torch.randn(4, 16, 8))

import math

import pytest
import torch

from iars import losses
from iars import reference as ref

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
@pytest.mark.parametrize("block", [None, 1, 3, 512])
def test_temporal_loss_matches_formula(B, T, block):
    _check(lambda a, b: losses.temporal_contrastive_loss(a, b, block), ref.temporal_loss, *_pair(B, T))


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


def _random_cases(n, seed=0):
    """(B, T, K, block) drawn at random, with the edge cases T = 1, B = 1 and odd T."""
    g = torch.Generator().manual_seed(seed)
    cases = [(1, 1, 3, 512), (1, 37, 5, 8), (6, 1, 4, 2), (3, 64, 16, 16), (2, 65, 16, 16)]
    for _ in range(n):
        B, T, K = (int(torch.randint(lo, hi, (), generator=g)) for lo, hi in ((1, 7), (1, 130), (1, 40)))
        block = [None, 2, 5, 16, 33, 512][int(torch.randint(6, (), generator=g))]  # block=1: the formula tests
        cases.append((B, T, K, block))
    return cases


def _assert_same_values_and_grads(fast, slow, inputs):
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    fast_grads = torch.autograd.grad(fast, inputs, retain_graph=True)  # the views may share a graph
    for a, b in zip(fast_grads, torch.autograd.grad(slow, inputs)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max()))


@pytest.mark.parametrize("B,T,K,block", _random_cases(20))
def test_level_loss_equals_the_straightforward_one_in_float32(B, T, K, block):
    """The blocked, fused loss against the full-matrix formulation: values and gradients."""
    g = torch.Generator().manual_seed(B * 1000 + T)
    z1, z2 = (torch.randn(B, T, K, generator=g).mul(2).requires_grad_() for _ in range(2))
    fast = losses.level_loss(z1, z2, block=block)
    slow = 0.5 * ref.dense_instance_loss(z1, z2) + 0.5 * ref.dense_temporal_loss(z1, z2)
    if B == 1 and T == 1:
        assert fast.item() == slow.item() == 0.0
        return
    _assert_same_values_and_grads(fast, slow, (z1, z2))


def test_dense_reference_equals_the_loop_formula():
    z1, z2 = _pair(3, 7)
    _check(ref.dense_temporal_loss, ref.temporal_loss, z1, z2)
    _check(ref.dense_instance_loss, ref.instance_loss, z1, z2)


def test_representations_of_nan_masked_timestamps():
    """Views encoded from series with missing (NaN) timestamps, as in training."""
    from iars.encoders import DilatedConvEncoder

    torch.manual_seed(0)
    x = torch.randn(4, 90, 3)
    x[0, 10:30] = float("nan")
    x[2, 50:] = float("nan")
    enc = DilatedConvEncoder(in_channels=3, K=12, depth=2)
    z1, z2 = enc(x), enc(x.flip(1)).flip(1)
    fast = losses.hierarchical_loss(z1, z2, block=16)
    slow = torch.stack([
        0.5 * ref.dense_instance_loss(a, b) + (0.5 * ref.dense_temporal_loss(a, b) if a.size(1) > 1 else 0)
        for a, b in _levels(z1, z2)
    ]).mean()
    params = tuple(enc.parameters())
    _assert_same_values_and_grads(fast, slow, params)


def _levels(z1, z2):
    while True:
        yield z1, z2
        if z1.size(1) == 1:
            return
        z1, z2 = ref.pool(z1), ref.pool(z2)  # the oracle's own pooling, not the code under test's


def test_large_similarities_do_not_overflow():
    """Raw dot products of large vectors: the log-sum-exp shifts by the running max."""
    z1, z2 = (100 * torch.randn(2, 40, 8) for _ in range(2))
    z1.requires_grad_()
    fast = losses.level_loss(z1, z2, block=16)
    slow = 0.5 * ref.dense_instance_loss(z1, z2) + 0.5 * ref.dense_temporal_loss(z1, z2)
    assert torch.isfinite(fast) and torch.isfinite(torch.autograd.grad(fast, z1)[0]).all()
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-3)


def test_bf16_autocast_keeps_the_log_sum_exp_in_float32():
    torch.manual_seed(0)
    z1, z2 = (torch.randn(4, 100, 16).requires_grad_() for _ in range(2))
    exact = losses.level_loss(z1, z2, block=32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = losses.level_loss(z1.bfloat16(), z2.bfloat16(), block=32)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, exact, rtol=2e-2, atol=0)
    grad = torch.autograd.grad(mixed, z1)[0]
    torch.testing.assert_close(grad, torch.autograd.grad(exact, z1)[0], rtol=0.1, atol=0.05 * float(grad.abs().max()))


def test_auto_block_is_chosen_by_device():
    assert losses.resolve_block("auto", torch.device("cpu")) == losses.BLOCK["cpu"]
    assert losses.resolve_block("auto", torch.device("cuda")) == losses.BLOCK["cuda"]
    assert losses.resolve_block("auto", torch.device("mps")) == losses.BLOCK["cuda"]  # other devices: cuda's
    assert losses.resolve_block(None, torch.device("cpu")) is None
    assert losses.resolve_block(7, torch.device("cpu")) == 7


def test_the_defaults_are_ts2vecs():
    """level_loss(z1, z2): α = 0.5, the temporal term on, tiled automatically (as is
    temporal_contrastive_loss(z1, z2)); downsample(z): max pooling by 2 over time."""
    z1, z2 = _pair(3, 12)
    _check(losses.level_loss, lambda a, b: 0.5 * ref.instance_loss(a, b) + 0.5 * ref.temporal_loss(a, b), z1, z2)
    _check(losses.temporal_contrastive_loss, ref.temporal_loss, z1, z2)
    torch.testing.assert_close(losses.downsample(z1), ref.pool(z1, "max"))


@pytest.mark.parametrize("loss", ["fixed_coarsest", "iars", "random"])
def test_one_series_trains_every_resolution_even_the_one_without_contrast(loss, tmp_path):
    """One training series (batch 1: anomaly detection's KDD-TSAD_135) at the coarsest level has
    no instance pair and no second timestamp: its loss is a zero of the graph, so the step
    back-propagates zero gradients instead of failing (it did, for loss=iars and random)."""
    import json

    from helpers import FAST, NO_LOGGER, compose_cfg, train

    train(compose_cfg(tmp_path, "task=anomaly", f"loss={loss}", *FAST, NO_LOGGER, "task.padding=24", "task.baseline=null"))
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 3
    z = torch.randn(1, 1, 4, requires_grad=True)
    losses.level_loss(z, z.detach().clone()).backward()
    assert z.grad is not None and not z.grad.any()

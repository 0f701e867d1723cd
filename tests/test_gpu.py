"""Checks that need a CUDA GPU: the losses' CUDA path, bf16 autocast, and a bf16-mixed
Lightning run with a compiled encoder. They skip without one (CI has none); run them on a
GPU machine with ``pytest tests/test_gpu.py``."""
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from iars import losses
from iars import reference as ref
from iars.encoders import DilatedConvEncoder
from iars.module import ContrastivePretrainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _views(B, T, K, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, T, K, generator=g).cuda().requires_grad_() for _ in range(2))


@pytest.mark.parametrize("T,block", [(1000, 512), (1000, None), (333, 64), (1, 512)])
def test_losses_on_gpu_equal_the_reference(T, block):
    torch.backends.cuda.matmul.allow_tf32 = False
    z1, z2 = _views(8, T, 64)
    fast = losses.level_loss(z1, z2, block=block)
    slow = 0.5 * ref.dense_instance_loss(z1, z2) + 0.5 * ref.dense_temporal_loss(z1, z2)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    for a, b in zip(torch.autograd.grad(fast, (z1, z2)), torch.autograd.grad(slow, (z1, z2))):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max()))


def test_bf16_autocast_keeps_the_log_sum_exp_in_float32():
    z1, z2 = _views(8, 1000, 64)
    exact = losses.level_loss(z1, z2)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        mixed = losses.level_loss(z1, z2)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed)
    torch.testing.assert_close(mixed, exact, rtol=2e-2, atol=0)


def test_bf16_mixed_run_with_a_compiled_encoder():
    torch.manual_seed(0)
    module = ContrastivePretrainer(DilatedConvEncoder(in_channels=3, K=32, depth=3), max_length=600,
                                   compile_encoder=True)
    start = [p.detach().clone() for p in module.encoder.parameters()]
    data = DataLoader(TensorDataset(torch.randn(32, 600, 3)), batch_size=8, shuffle=True)
    trainer = pl.Trainer(accelerator="gpu", devices=1, precision="bf16-mixed", max_steps=12, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(module, data)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert any(not torch.equal(a, b.cpu()) for a, b in zip(start, module.encoder.parameters()))

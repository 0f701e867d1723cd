import pytest
import torch

from iars.encoders import DilatedConvEncoder
from iars.errors import ConfigError


@pytest.mark.parametrize("T", [1, 2, 7, 64, 101])
def test_output_has_one_vector_per_timestamp(T):
    enc = DilatedConvEncoder(in_channels=3, K=16, depth=3)
    assert enc(torch.randn(2, T, 3)).shape == (2, T, 16)


def test_nan_timestamps_are_ignored():
    enc = DilatedConvEncoder(in_channels=2, K=8, depth=2).eval()
    x = torch.randn(1, 20, 2)
    x_nan, x_other = x.clone(), x.clone()
    x_nan[0, 5:9] = float("nan")
    x_other[0, 5:9] = 123.0
    x_partial = x.clone()
    x_partial[0, 5:9, 0] = float("nan")  # one channel missing marks the timestamp missing
    out = enc(x_nan)
    assert torch.isfinite(out).all()
    # a missing timestamp contributes exactly as a zero input projection, whatever its values
    h_in = {}
    enc.blocks.register_forward_hook(lambda m, inp, o: h_in.__setitem__("h", inp[0]))
    enc(x_nan)
    masked = h_in["h"][0, :, 5:9]
    assert (masked == 0).all()
    enc(x_partial)
    assert (h_in["h"][0, :, 5:9] == 0).all()
    enc(x_other)
    assert (h_in["h"][0, :, 5:9] != 0).any()


def test_training_mask_zeroes_about_half_the_timestamps_and_eval_none():
    torch.manual_seed(0)
    enc = DilatedConvEncoder(in_channels=3, K=8, depth=1)
    seen = {}
    enc.blocks.register_forward_hook(lambda m, inp, o: seen.__setitem__("h", inp[0]))
    x = torch.randn(8, 500, 3)
    enc.train()(x)
    zeroed = (seen["h"] == 0).all(dim=1).float().mean().item()
    assert 0.45 < zeroed < 0.55
    enc.eval()(x)
    assert not (seen["h"] == 0).all(dim=1).any()


@pytest.mark.parametrize("K", [0, -3])
def test_nonpositive_K_is_a_config_error(K):
    with pytest.raises(ConfigError, match="model.K must be a positive integer"):
        DilatedConvEncoder(in_channels=3, K=K)

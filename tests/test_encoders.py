import pytest
import torch

from iars.encoders import DilatedConvEncoder, ResNet18Encoder
from iars.errors import ConfigError

ENCODERS = {
    "dilated_conv": lambda C, K: DilatedConvEncoder(in_channels=C, K=K, depth=3),
    "resnet18": lambda C, K: ResNet18Encoder(in_channels=C, K=K, widths=(8, 16, 16, 32)),
}


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("T", [1, 2, 7, 64, 101])
def test_output_has_one_vector_per_timestamp(name, T):
    enc = ENCODERS[name](3, 16)
    assert enc(torch.randn(2, T, 3)).shape == (2, T, 16)


def test_resnet18_has_the_papers_shape():
    enc = ResNet18Encoder(in_channels=3, K=32)
    blocks = [m for m in enc.backbone if m.__class__.__name__ == "_BasicBlock"]
    assert len(blocks) == 8 and [b.conv2.out_channels for b in blocks] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert all(c.stride == (1,) for c in enc.modules() if isinstance(c, torch.nn.Conv1d))
    assert not any(isinstance(m, (torch.nn.MaxPool1d, torch.nn.AdaptiveAvgPool1d, torch.nn.Linear))
                   for m in enc.backbone.modules())
    assert enc.backbone[-1].out_channels == 32 and enc.backbone[-1].kernel_size == (1,)


def test_resnet18_trains_a_few_steps():
    from iars.losses import hierarchical_loss

    torch.manual_seed(0)
    enc = ResNet18Encoder(in_channels=2, K=8, widths=(8, 8, 16, 16))
    opt = torch.optim.AdamW(enc.parameters(), lr=1e-2)
    x = torch.randn(6, 33, 2)
    losses = []
    for _ in range(15):
        loss = hierarchical_loss(enc(x), enc(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses))) and min(losses[-3:]) < losses[0]


@pytest.mark.parametrize("name", ENCODERS)
def test_nan_timestamps_are_ignored(name):
    enc = ENCODERS[name](2, 8).eval()
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
    enc.backbone.register_forward_hook(lambda m, inp, o: h_in.__setitem__("h", inp[0]))
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
    enc.backbone.register_forward_hook(lambda m, inp, o: seen.__setitem__("h", inp[0]))
    x = torch.randn(8, 500, 3)
    enc.train()(x)
    zeroed = (seen["h"] == 0).all(dim=1).float().mean().item()
    assert 0.45 < zeroed < 0.55
    enc.eval()(x)
    assert not (seen["h"] == 0).all(dim=1).any()


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("K", [0, -3])
def test_nonpositive_K_is_a_config_error(name, K):
    with pytest.raises(ConfigError, match="model.K must be a positive integer"):
        ENCODERS[name](3, K)

"""Encoders h: B×T×C -> B×T×K, one K-dim vector per timestamp.

Both apply TS2Vec's input handling: NaN timestamps are zeroed, and during
training a Bernoulli(0.5) set of timestamps is zeroed after the input projection.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from iars.errors import ConfigError


def _check_positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or value <= 0:
            raise ConfigError(f"model.{name} must be a positive integer, got {value!r}")


class _DilatedBlock(nn.Module):
    """Residual block of two dilated same-length convolutions (kernel 3) with GELU."""

    def __init__(self, in_ch: int, out_ch: int, dilation: int, final: bool = False):
        super().__init__()
        self.conv1 = nn.Conv1d(in_ch, out_ch, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(out_ch, out_ch, 3, padding=dilation, dilation=dilation)
        self.projector = nn.Conv1d(in_ch, out_ch, 1) if in_ch != out_ch or final else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # B×C×T
        residual = x if self.projector is None else self.projector(x)
        x = self.conv1(F.gelu(x))
        x = self.conv2(F.gelu(x))
        return x + residual


class _MaskedEncoder(nn.Module):
    """Shared front of the encoders: Linear(C→hidden) per timestamp, NaN timestamps and
    (in training) a Bernoulli mask zeroed, then ``self.backbone`` (B×hidden×T -> B×K×T)
    and dropout."""

    def __init__(self, in_channels: int, K: int, hidden: int, mask_prob: float, dropout: float):
        super().__init__()
        _check_positive(K=K, hidden=hidden, in_channels=in_channels)
        self.K = K
        self.mask_prob = mask_prob
        self.input_fc = nn.Linear(in_channels, hidden)
        self.dropout = nn.Dropout(dropout)
        self.backbone: nn.Module = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B×T×C (NaN = missing) -> B×T×K."""
        observed = ~torch.isnan(x).any(dim=-1)  # B×T
        h = self.input_fc(torch.where(observed[..., None], x, 0.0))
        keep = observed
        if self.training:
            keep = keep & (torch.rand(observed.shape, device=x.device) < self.mask_prob)
        h = h * keep[..., None]
        return self.dropout(self.backbone(h.transpose(1, 2))).transpose(1, 2)


class DilatedConvEncoder(_MaskedEncoder):
    """TS2Vec's encoder: Linear(C→hidden), timestamp mask, ``depth`` dilated residual
    blocks (dilation 2^i) plus a final block to K, dropout.

    Args:
        in_channels: C, the number of input channels.
        K: embedding size (output channels per timestamp).
        hidden: width of the input projection and the blocks.
        depth: number of hidden blocks before the final one.
        mask_prob: probability that a timestamp is kept by the training mask.
        dropout: dropout on the output representation.
    """

    def __init__(
        self,
        in_channels: int,
        K: int = 320,
        hidden: int = 64,
        depth: int = 10,
        mask_prob: float = 0.5,
        dropout: float = 0.1,
    ):
        super().__init__(in_channels, K, hidden, mask_prob, dropout)
        _check_positive(depth=depth)
        widths = [hidden] * depth + [K]
        self.backbone = nn.Sequential(
            *[
                _DilatedBlock(hidden if i == 0 else widths[i - 1], w, 2**i, final=i == depth)
                for i, w in enumerate(widths)
            ]
        )


class _BasicBlock(nn.Module):
    """ResNet BasicBlock in 1-D, stride 1: conv3-BN-ReLU-conv3-BN plus shortcut, ReLU."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv1 = nn.Conv1d(in_ch, out_ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(out_ch)
        self.conv2 = nn.Conv1d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.shortcut = (
            nn.Identity()
            if in_ch == out_ch
            else nn.Sequential(nn.Conv1d(in_ch, out_ch, 1, bias=False), nn.BatchNorm1d(out_ch))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # B×C×T
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18Encoder(_MaskedEncoder):
    """The paper's encoder: a 1-D ResNet18 (BasicBlock ×[2,2,2,2], widths 64/128/256/512,
    Conv1d + BatchNorm) without temporal down-sampling (stride 1, no max-pool) and without
    final pool/FC, then a 1×1 projection to K: one K-dim vector per timestamp. Input
    handling (NaN, timestamp mask) as in :class:`DilatedConvEncoder`.
    """

    def __init__(
        self,
        in_channels: int,
        K: int = 128,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        blocks: tuple[int, ...] = (2, 2, 2, 2),
        mask_prob: float = 0.5,
        dropout: float = 0.1,
    ):
        super().__init__(in_channels, K, widths[0], mask_prob, dropout)
        layers, width = [], widths[0]
        for w, n in zip(widths, blocks):
            for _ in range(n):
                layers.append(_BasicBlock(width, w))
                width = w
        self.backbone = nn.Sequential(*layers, nn.Conv1d(width, K, 1))


ENCODERS = {"dilated_conv": DilatedConvEncoder, "resnet18": ResNet18Encoder}
"""The encoders by the names of their configs (``conf/model/<name>.yaml``)."""

"""Encoders h: B×T×C -> B×T×K, one K-dim vector per timestamp.

Both apply TS2Vec's input handling: NaN timestamps are zeroed, and during
training a Bernoulli(0.5) set of timestamps is zeroed after the input projection;
``mask=`` chooses another of TS2Vec's masks (:data:`MASKS`, e.g. ``"mask_last"`` for its
anomaly score).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from iars.errors import ConfigError

MASKS = ("binomial", "all_true", "all_false", "mask_last")
"""TS2Vec's timestamp masks: a Bernoulli draw (training's default), none (evaluation's
default), every timestamp, the last timestamp of each series."""


def _check_positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or value <= 0:
            raise ConfigError(f"model.{name} must be a positive integer, got {value!r}")


class _DilatedBlock(nn.Module):
    """Residual block of two dilated same-length convolutions (kernel 3) with GELU."""

    def __init__(self, in_ch: int, out_ch: int, dilation: int, final: bool = False):
        super().__init__()
        self.dilation = dilation
        self.conv1 = nn.Conv1d(in_ch, out_ch, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(out_ch, out_ch, 3, padding=dilation, dilation=dilation)
        self.projector = nn.Conv1d(in_ch, out_ch, 1) if in_ch != out_ch or final else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # B×C×T
        residual = x if self.projector is None else self.projector(x)
        x = self.conv1(F.gelu(x))
        x = self.conv2(F.gelu(x))
        return x + residual

    def forward_lattice(self, x: torch.Tensor) -> torch.Tensor:
        """The block at the timestamps ``t_last − j·dilation`` only, given x at exactly those
        (B×C×n, last = the series' last timestamp): there the dilated convolutions' neighbours
        are the adjacent entries, and their zero padding the two ends, so they become plain
        kernel-3 convolutions on the n entries. B×C×n -> B×C'×n."""
        residual = x if self.projector is None else self.projector(x)
        x = F.conv1d(F.gelu(x), self.conv1.weight, self.conv1.bias, padding=1)
        x = F.conv1d(F.gelu(x), self.conv2.weight, self.conv2.bias, padding=1)
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

    def forward(self, x: torch.Tensor, mask: str | None = None) -> torch.Tensor:
        """x: B×T×C (NaN = missing) -> B×T×K; ``mask``: one of :data:`MASKS` (None: binomial
        in training, all_true in evaluation)."""
        return self.dropout(self.backbone(self._front(x, mask))).transpose(1, 2)

    def _front(self, x: torch.Tensor, mask: str | None) -> torch.Tensor:
        """x: B×T×C -> the backbone's input B×hidden×T: projected, missing and masked timestamps zeroed."""
        observed = ~torch.isnan(x).any(dim=-1)  # B×T
        h = self.input_fc(torch.where(observed[..., None], x, 0.0))
        mask = mask or ("binomial" if self.training else "all_true")
        if mask == "binomial":
            keep = observed & (torch.rand(observed.shape, device=x.device) < self.mask_prob)
        elif mask == "all_true":
            keep = observed
        elif mask == "all_false":
            keep = torch.zeros_like(observed)
        elif mask == "mask_last":
            keep = observed.clone()
            keep[:, -1] = False
        else:
            raise ConfigError(f"mask={mask!r}: choose one of {', '.join(MASKS)}")
        return (h * keep[..., None]).transpose(1, 2)


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

    def forward_last(self, x: torch.Tensor, mask: str | None = None) -> torch.Tensor:
        """``forward(x, mask)[:, -1]`` computed at the last timestamp's receptive lattice only:
        block i (dilation d = 2^i) needs its input at ``T−1 − j·d`` alone, so each block runs on
        every (d / d_prev)-th entry of the previous one's, from the end — about a fifth of the
        work at TS2Vec's depth 10 and windows of 201 (causal sliding encoding). B×T×C -> B×K."""
        h, step = self._front(x, mask), 1  # h holds the timestamps T−1 − j·step, j = n−1 … 0
        for block in self.backbone:
            stride = block.dilation // step
            h = h[..., (h.size(-1) - 1) % stride :: stride]
            step = block.dilation
            h = block.forward_lattice(h)
        return self.dropout(h[..., -1])


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

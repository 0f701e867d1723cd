"""Contrastive losses of hierarchical time-series representation learning (TS2Vec).

All functions take the overlapping parts of the two views' representations,
``z1`` and ``z2`` of shape B×T×K (same timestamps at the same positions), and
return a scalar tensor. Similarities are raw dot products.

Each contrast is an InfoNCE over groups of M = 2n vectors (both views), every
vector against the other M−1, its positive the same item in the other view:

    loss = mean_i [ log Σ_{j≠i} exp(z_i·z_j) − z_i·z_pos(i) ]

The positives need no similarity matrix: Σ_i z_i·z_pos(i) = 2 Σ z1·z2. The
log-sum-exp term is one autograd function that walks the symmetric M×M
similarities in square tiles of ``block`` rows, each pair of row blocks once: the
forward pass keeps a running max and sum per row (online log-sum-exp), the
backward pass recomputes each block and adds both of its softmax gradients, so
no M×M matrix is ever held (memory grows like M·block) and the similarity
products cost half of a full matrix each way. Groups of at most ``block`` rows
are one block whose similarities are kept for backward. The log-sum-exp runs in
at least float32: under bf16 autocast the products are bf16, their softmax float32.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

BLOCK = {"cpu": 512, "cuda": 2048}
"""Rows per tile for ``block="auto"``, by device type (others: cuda's). On CPU, 512-row tiles
(8 MB at B = 8) stay cache-sized; on a GPU, tile loops are launch-bound, and 2048-row tiles
ran as fast as one full matrix at a quarter of its memory (``scripts/bench.py --losses``)."""


EXP_FLOOR = -80.0
"""Exponents below this are raised to it: their terms (< 2e-35 of the row's largest, which
is 1) vanish in float32 anyway, and exp's subnormal results are several times slower on CPUs."""


def _wide(dtype: torch.dtype) -> torch.dtype:
    """The dtype the log-sum-exp runs in: ``dtype``, at least float32."""
    return torch.promote_types(dtype, torch.float32)


def _similarities(zi: torch.Tensor, zj: torch.Tensor, diagonal: bool) -> torch.Tensor:
    """zi·zjᵀ (G×bi×bj) in at least float32; -inf on the diagonal of a diagonal block."""
    sim = (zi @ zj.transpose(1, 2)).to(_wide(zi.dtype))
    if diagonal:
        sim.diagonal(dim1=1, dim2=2).fill_(float("-inf"))
    return sim


def _exp(x: torch.Tensor, diagonal: bool) -> torch.Tensor:
    """exp of the new tensor x (G×bi×bj) in place, exponents floored at EXP_FLOOR, and the
    diagonal of a diagonal block (self-similarity, excluded) set to 0."""
    x = x.clamp_(min=EXP_FLOOR).exp_()
    if diagonal:
        x.diagonal(dim1=1, dim2=2).zero_()
    return x


def _accumulate(peak: torch.Tensor, total: torch.Tensor, sim: torch.Tensor, dim: int, diagonal: bool) -> None:
    """Online log-sum-exp: fold ``sim`` reduced over ``dim`` into the running max ``peak``
    and running sum ``total`` = Σ exp(s − peak) (both changed in place)."""
    new_peak = torch.maximum(peak, sim.amax(dim))
    total.mul_((peak - new_peak).exp_()).add_(_exp(sim - new_peak.unsqueeze(dim), diagonal).sum(dim))
    peak.copy_(new_peak)


def _blocks(M: int, block: int | None) -> list[slice]:
    size = M if block is None else block
    return [slice(start, min(start + size, M)) for start in range(0, M, size)]


def resolve_block(block: int | str | None, device: torch.device) -> int | None:
    """Rows per tile: ``block``, or for ``"auto"`` the device's default (:data:`BLOCK`)."""
    return BLOCK.get(device.type, BLOCK["cuda"]) if block == "auto" else block


class _OffDiagonalLogSumExp(torch.autograd.Function):
    """Σ_g Σ_i log Σ_{j≠i} exp(z_gi·z_gj) for z: G×M×K, as a scalar (at least float32)."""

    @staticmethod
    def forward(ctx, z, block):
        G, M, _ = z.shape
        dtype = _wide(z.dtype)
        peak = z.new_full((G, M), torch.finfo(dtype).min, dtype=dtype)
        total = z.new_zeros((G, M), dtype=dtype)
        blocks = _blocks(M, block)
        for i, bi in enumerate(blocks):
            for bj in blocks[i:]:
                sim = _similarities(z[:, bi], z[:, bj], bi == bj)
                _accumulate(peak[:, bi], total[:, bi], sim, 2, bi == bj)  # rows bi against columns bj
                if bi != bj:
                    _accumulate(peak[:, bj], total[:, bj], sim, 1, False)  # and rows bj against bi
        lse = peak + total.log()
        ctx.block = block
        ctx.save_for_backward(z, lse, sim if len(blocks) == 1 else None)
        return lse.sum()

    @staticmethod
    def backward(ctx, grad_out):
        # d/dz_k Σ_i lse_i = Σ_j (P_kj + P_jk) z_j, P the row softmax (zero diagonal);
        # by symmetry of the similarities, P_jk = exp(s_kj − lse_j).
        z, lse, kept = ctx.saved_tensors
        grad = torch.zeros_like(z, dtype=lse.dtype)
        blocks = _blocks(z.size(1), ctx.block)
        for i, bi in enumerate(blocks):
            for bj in blocks[i:]:
                diagonal = bi == bj
                sim = kept if kept is not None else _similarities(z[:, bi], z[:, bj], diagonal)
                weight = _exp(sim - lse[:, bi, None], diagonal)
                weight = weight.add_(_exp(sim - lse[:, None, bj], diagonal)).to(z.dtype)
                grad[:, bi] += weight @ z[:, bj]
                if not diagonal:
                    grad[:, bj] += weight.transpose(1, 2) @ z[:, bi]
        return (grad * grad_out).to(z.dtype), None


def _contrast(z1: torch.Tensor, z2: torch.Tensor, z: torch.Tensor, block: int | str | None) -> torch.Tensor:
    """Mean InfoNCE over the groups of z (G×2n×K, the two views z1, z2 stacked); the
    positive pairs are exactly the pairs (z1, z2) at the same index."""
    dtype = _wide(z.dtype)
    positives = 2 * (z1.to(dtype) * z2.to(dtype)).sum()
    block = resolve_block(block, z.device)
    return (_OffDiagonalLogSumExp.apply(z, block) - positives) / (z.size(0) * z.size(1))


def instance_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """At each timestamp, each series' vector against the other 2B−1 of both views.

    z1, z2: B×T×K. The positive is the same series in the other view. 0 when B = 1 (a zero
    of the graph: a step that trains only such a term back-propagates zero gradients).
    """
    if z1.size(0) == 1:
        return z1.sum() * 0
    z = torch.cat([z1, z2], dim=0).transpose(0, 1).contiguous()  # T×2B×K
    return _contrast(z1, z2, z, None)


def temporal_contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, block: int | str | None = "auto"
) -> torch.Tensor:
    """Within each series, each timestamp's vector against the other 2T−1 of both views.

    z1, z2: B×T×K. The positive is the same timestamp in the other view. 0 when T = 1 (of the
    graph, as in :func:`instance_contrastive_loss`).
    With 2T > ``block`` the 2T×2T similarities are processed in block×block tiles
    (extra memory B·block² at a time); ``"auto"``: the device's :data:`BLOCK`;
    ``None``: one tile.
    """
    if z1.size(1) == 1:
        return z1.sum() * 0
    return _contrast(z1, z2, torch.cat([z1, z2], dim=1), block)


def downsample(z: torch.Tensor, pool: str = "max") -> torch.Tensor:
    """Halve the time axis: B×T×K -> B×⌊T/2⌋×K with kernel 2, stride 2."""
    pool_fn = {"max": F.max_pool1d, "avg": F.avg_pool1d}[pool]
    return pool_fn(z.transpose(1, 2), kernel_size=2).transpose(1, 2)


def num_levels(length: int) -> int:
    """Number of resolutions for an overlap of ``length`` timestamps: ⌊log2 length⌋ + 1."""
    return length.bit_length()


def level_loss(
    z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5, temporal: bool = True, block: int | str | None = "auto"
) -> torch.Tensor:
    """L_d = α·instance + (1−α)·temporal at one resolution (z1, z2: B×T×K).

    At the final length-1 level (or when ``temporal`` is off, below
    ``temporal_unit``) only the instance term counts. ``block``: see
    :func:`temporal_contrastive_loss`.
    """
    loss = alpha * instance_contrastive_loss(z1, z2) if alpha != 0 else z1.sum() * 0
    if temporal and z1.size(1) > 1 and alpha != 1:
        loss = loss + (1 - alpha) * temporal_contrastive_loss(z1, z2, block)
    return loss


def level_losses(
    z1: torch.Tensor,
    z2: torch.Tensor,
    alpha: float = 0.5,
    temporal_unit: int = 0,
    pool: str = "max",
    block: int | str | None = "auto",
) -> list[torch.Tensor]:
    """Per-level losses [L_0, L_1, …], finest (full length) to coarsest (length 1).

    Level d+1 is level d pooled by 2; levels exist while the length exceeds 1,
    plus the final length-1 level: ⌊log2 T⌋ + 1 levels for T timestamps.
    The temporal term is used from level ``temporal_unit`` on.
    """
    losses = []
    d = 0
    while True:
        losses.append(level_loss(z1, z2, alpha, temporal=d >= temporal_unit, block=block))
        if z1.size(1) <= 1:
            return losses
        z1, z2 = downsample(z1, pool), downsample(z2, pool)
        d += 1


def hierarchical_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    alpha: float = 0.5,
    temporal_unit: int = 0,
    pool: str = "max",
    block: int | str | None = "auto",
) -> torch.Tensor:
    """TS2Vec's hierarchical contrastive loss: the mean of the per-level losses."""
    return torch.stack(level_losses(z1, z2, alpha, temporal_unit, pool, block)).mean()

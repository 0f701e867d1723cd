"""Slow, obviously-correct formulations of the losses of :mod:`iars.losses` and of TS2Vec's
``encode`` loop: the oracles the tests compare the fast code to, and the baselines
``scripts/bench.py --losses`` times it against. z1, z2 are B×T×K; each loss returns a scalar.

- loop formulation (:func:`instance_loss`, :func:`temporal_loss`, :func:`level_losses`,
  :func:`hierarchical_loss`): written from the formulas, loops over timestamps and series
  and an explicit softmax, with its own pooling (small shapes only);
- dense formulation (:func:`dense_instance_loss`, :func:`dense_temporal_loss`): the
  straightforward tensor code (one full similarity matrix per group, a masked copy,
  log-softmax, gather), as iars had it before its fused and blocked losses.
"""
import numpy as np
import torch
import torch.nn.functional as F


def _info_nce(vectors, anchor, positive):
    """-log softmax of the positive's similarity among all others (self excluded)."""
    others = [j for j in range(len(vectors)) if j != anchor]
    sims = torch.stack([vectors[anchor] @ vectors[j] for j in others])
    p = torch.exp(sims) / torch.exp(sims).sum()
    return -torch.log(p[others.index(positive)])


def instance_loss(z1, z2):
    B, T, _ = z1.shape
    if B == 1:
        return torch.zeros((), dtype=z1.dtype)
    terms = []
    for t in range(T):
        vectors = [z1[i, t] for i in range(B)] + [z2[i, t] for i in range(B)]
        for i in range(B):
            terms.append(_info_nce(vectors, i, B + i))  # view 1 anchor, positive in view 2
            terms.append(_info_nce(vectors, B + i, i))
    return torch.stack(terms).mean()


def temporal_loss(z1, z2):
    B, T, _ = z1.shape
    if T == 1:
        return torch.zeros((), dtype=z1.dtype)
    terms = []
    for i in range(B):
        vectors = [z1[i, t] for t in range(T)] + [z2[i, t] for t in range(T)]
        for t in range(T):
            terms.append(_info_nce(vectors, t, T + t))
            terms.append(_info_nce(vectors, T + t, t))
    return torch.stack(terms).mean()


def pool(z, how="max"):
    """Pairs of consecutive timestamps -> one (a trailing odd timestamp is dropped)."""
    reduce = torch.maximum if how == "max" else (lambda a, b: (a + b) / 2)
    return torch.stack([reduce(z[:, 2 * j], z[:, 2 * j + 1]) for j in range(z.size(1) // 2)], dim=1)


def level_losses(z1, z2, alpha=0.5, temporal_unit=0, how="max"):
    losses, d = [], 0
    while True:
        loss = alpha * instance_loss(z1, z2)
        if z1.size(1) > 1 and d >= temporal_unit:
            loss = loss + (1 - alpha) * temporal_loss(z1, z2)
        losses.append(loss)
        if z1.size(1) == 1:
            return losses
        z1, z2, d = pool(z1, how), pool(z2, how), d + 1


def hierarchical_loss(z1, z2, alpha=0.5, temporal_unit=0, how="max"):
    return torch.stack(level_losses(z1, z2, alpha, temporal_unit, how)).mean()


def _dense_contrast(z):
    """Mean InfoNCE over groups z (G×2n×K) whose positives are i <-> i+n, self excluded."""
    n = z.size(1) // 2
    sim = z @ z.transpose(1, 2)  # G×2n×2n
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    log_prob = F.log_softmax(sim.masked_fill(eye, float("-inf")), dim=-1)
    idx = torch.arange(2 * n, device=z.device)
    return -log_prob[:, idx, (idx + n) % (2 * n)].mean()


def dense_instance_loss(z1, z2):
    if z1.size(0) == 1:
        return z1.new_zeros(())
    return _dense_contrast(torch.cat([z1, z2], dim=0).transpose(0, 1))


def dense_temporal_loss(z1, z2):
    if z1.size(1) == 1:
        return z1.new_zeros(())
    return _dense_contrast(torch.cat([z1, z2], dim=1))


# -- TS2Vec's encode loop ----------------------------------------------------------------


def _pad_nan(x, left, right):
    """x (B×T×C) with ``left``/``right`` NaN timestamps added."""
    B, _, C = x.shape
    return torch.cat([torch.full((B, left, C), float("nan")), x, torch.full((B, right, C), float("nan"))], dim=1)


def _eval_with_pooling(encoder, x, mask, slicing, encoding_window):
    """TS2Vec's ``_eval_with_pooling``: encode x (B×T×C), pool as ``encoding_window`` says, keep ``slicing``."""
    out = encoder(x) if mask == "all_true" else encoder(x, mask=mask)
    if encoding_window == "full_series":
        out = out[:, slicing]
        return out.max(dim=1, keepdim=True).values
    if isinstance(encoding_window, int):
        k = encoding_window
        out = F.max_pool1d(out.transpose(1, 2), kernel_size=k, stride=1, padding=k // 2).transpose(1, 2)
        out = out[:, :-1] if k % 2 == 0 else out
    elif encoding_window == "multiscale":
        scales, p = [], 0
        while (1 << p) + 1 < out.size(1):
            kernel = (1 << (p + 1)) + 1
            scales.append(F.max_pool1d(out.transpose(1, 2), kernel_size=kernel, stride=1, padding=1 << p).transpose(1, 2))
            p += 1
        out = torch.cat(scales, dim=-1)
    return out[:, slicing]


@torch.no_grad()
def ts2vec_encode(encoder, data, mask="all_true", encoding_window=None, causal=False, sliding_length=None,
                  sliding_padding=0, batch_size=8):
    """TS2Vec's ``encode`` as its loop reads, window by window (data: N×T×C, one length), up to
    ``batch_size`` windows per forward as its buffer gathers them: N×T×K per timestamp, N×K
    with ``encoding_window="full_series"``; with sliding windows the last window's overhang past
    T is cut off (TS2Vec returns it)."""
    encoder.eval()
    data = torch.as_tensor(np.asarray(data, dtype=np.float32))
    T, full = data.shape[1], slice(None)
    out = []
    for start in range(0, len(data), batch_size):
        x = data[start : start + batch_size]
        if sliding_length is None:
            out.append(_eval_with_pooling(encoder, x, mask, full, encoding_window))
            continue
        reprs, buffer, keep = [], [], slice(sliding_padding, sliding_padding + sliding_length)
        for i in range(0, T, sliding_length):
            left, right = i - sliding_padding, i + sliding_length + (0 if causal else sliding_padding)
            buffer.append(_pad_nan(x[:, max(left, 0) : min(right, T)], max(-left, 0), max(right - T, 0)))
            if (len(buffer) + 1) * len(x) > batch_size or i + sliding_length >= T:  # TS2Vec's buffer of windows
                out_ = _eval_with_pooling(encoder, torch.cat(buffer), mask, keep, encoding_window)
                reprs += torch.split(out_, len(x))
                buffer = []
        z = torch.cat(reprs, dim=1)
        out.append(z.max(dim=1, keepdim=True).values if encoding_window == "full_series" else z[:, :T])
    z = torch.cat(out)
    return (z[:, 0] if encoding_window == "full_series" else z).numpy()

"""Encoding series with a frozen encoder: each series at its own length, and every encoding of
TS2Vec's ``encode`` (masks, causal sliding windows with context, within-window max pooling,
multiscale), vectorised: windows are cut by striding, never by a Python loop over timestamps.

:mod:`iars.reference` holds TS2Vec's loop as written (``ts2vec_encode``): the tests check
:func:`encode` against it, and ``iars-bench --encode`` times the two.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from iars.encoders import MASKS
from iars.errors import ConfigError, DataError, some

POOLINGS = ("max", "avg")

BATCH_TIMESTAMPS = 2**16
"""Timestamps per encoding batch (series × length): 64 series up to length 1024, fewer beyond,
so that the activations of long series stay bounded (~1 GB at K = 320)."""


@torch.no_grad()
def encode(
    encoder: nn.Module, X, pooling: str | None = "max", batch_size: int = 64, *, exact: bool = False,
    ts2vec_padding: bool = False, mask: str = "all_true", encoding_window: int | str | None = None,
    causal: bool = False, sliding_length: int | None = None, sliding_padding: int = 0,
) -> np.ndarray:
    """Encode X (N×T×C, NaN-padded at the end; anything that slices into float32 arrays) in eval
    mode; returns instance embeddings N×K pooled over each series' own timestamps (``max``:
    TS2Vec's full-series max pooling, ``avg``: the paper's global average), or with
    ``pooling=None`` one vector per timestamp, N×T×K (NaN beyond a series' end). A series the
    encoder sees nothing of (no timestamp with every channel observed: :func:`seen_series`,
    e.g. a window wholly in a shorter series' padding) has a NaN embedding, not a made-up one.

    Each series is encoded at its own length (its last timestamp with an observed value, plus
    one: trailing NaN is padding, NaN inside a series stays missing), in batches of series of
    that length (``batch_size`` at most, fewer for long series: :data:`BATCH_TIMESTAMPS`), so its
    embedding does not depend on what else is encoded with it: padding to a longer series of the
    call would feed the padding's activations back into its span through the convolutions. On
    the CPU the convolution kernels' blocking still depends on the batch, by at most ~1e-6;
    ``exact=True`` encodes one series (or window) at a time, bit for bit the same in any call.
    ``ts2vec_padding=True`` is TS2Vec's own encoding instead: every series padded to the
    longest of its batch and pooled over the padding too (to reproduce its numbers).

    TS2Vec's options, with its semantics (``TS2Vec.encode``):

    - ``mask``: the encoder's timestamp mask (:data:`iars.encoders.MASKS`): ``"all_true"``
      (none), ``"mask_last"`` (the last timestamp of each encoded window zeroed: its anomaly
      score), ``"all_false"``.
    - ``encoding_window``: ``"full_series"`` = ``pooling="max"``; an int k = max pooling over
      k neighbouring timestamps (stride 1, padding k // 2, the last step dropped when k is even)
      on each encoded window, per timestamp; ``"multiscale"`` = those of kernels 2^(p+1) + 1,
      p = 0, 1, … while 2^p + 1 < the encoded length, concatenated (K·levels per timestamp;
      the levels of a series shorter than the call's longest are all its full max). Give
      ``pooling=None`` with an int or multiscale (or ``"max"``/``"avg"`` to pool them too).
    - ``sliding_length`` L, ``sliding_padding`` P, ``causal``: the timestamps ``[i, i + L)``,
      i = 0, L, 2L, …, are encoded as the window ``[i − P, i + L + (0 if causal else P))``,
      NaN outside the series, keeping its L steps after the first P; so with ``causal`` the
      representation at t sees only ``[t − P − (L − 1), t]``, never what follows. Steps past the
      series' end are NaN and not pooled (TS2Vec keeps the last window's overhang). With L = 1,
      ``causal`` and the default mask options, a :class:`~iars.encoders.DilatedConvEncoder`
      computes only each window's last timestamp (:meth:`~iars.encoders.DilatedConvEncoder.forward_last`).
    """
    pooling, encoding_window = _check_options(pooling, mask, encoding_window, sliding_length, sliding_padding,
                                              ts2vec_padding)
    was_training = encoder.training
    encoder.eval()
    try:
        check_encodable(X)
        windowing = (mask, encoding_window)
        if ts2vec_padding:
            return _encode_padded(encoder, X, pooling, batch_size, windowing)
        if sliding_length is not None:
            out = _encode_sliding(encoder, X, pooling, batch_size, exact, windowing, sliding_length,
                                  sliding_padding, causal)
        else:
            out = _encode_own_length(encoder, X, pooling, batch_size, exact, windowing)
        if pooling is not None:
            out[~seen_series(X, batch_size)] = np.nan  # nothing seen: no embedding
        return out
    finally:
        encoder.train(was_training)


def _check_options(pooling, mask, encoding_window, sliding_length, sliding_padding, ts2vec_padding):
    """The options checked; returns (pooling, encoding_window) with ``"full_series"`` as max pooling."""
    if encoding_window == "full_series":
        if pooling not in (None, "max"):
            raise ConfigError(f"encoding_window='full_series' is max pooling; it contradicts pooling={pooling!r}")
        encoding_window, pooling = None, "max"
    if pooling is not None:
        check_pooling(pooling)
    if mask not in MASKS:
        raise ConfigError(f"mask={mask!r}: choose one of {', '.join(MASKS)}")
    if encoding_window is not None and encoding_window != "multiscale" and not (
            isinstance(encoding_window, int) and not isinstance(encoding_window, bool) and encoding_window >= 1):
        raise ConfigError(f"encoding_window={encoding_window!r}: give 'full_series', 'multiscale' or a kernel "
                          "size of at least 1 timestamp")
    if sliding_length is not None:
        if not (isinstance(sliding_length, int) and sliding_length >= 1):
            raise ConfigError(f"sliding_length={sliding_length!r}: give a positive number of timestamps, or None")
        if ts2vec_padding:
            raise ConfigError("sliding windows are NaN-padded at the series' ends already: drop ts2vec_padding")
    if not (isinstance(sliding_padding, int) and sliding_padding >= 0):
        raise ConfigError(f"sliding_padding={sliding_padding!r}: give a number of timestamps of at least 0")
    return pooling, encoding_window


def check_encodable(X) -> None:
    """Refuse X (N×T×C) without series or without timestamps."""
    if len(X) == 0:
        raise DataError("no series to encode: give at least one series")
    shape = getattr(X, "shape", ())
    if len(shape) > 1 and shape[1] == 0:
        raise DataError("series of length 0 (no timestamps) to encode: give series of at least one timestamp")


def seen_series(X, batch_size: int = 64) -> np.ndarray:
    """Whether each series of X (N×T×C) has a timestamp at which every channel is observed: the
    encoder skips a timestamp with a missing channel, so it sees nothing of a series with none."""
    seen = [(~np.isnan(np.asarray(X[start : start + batch_size])).any(axis=2)).any(axis=1)
            for start in range(0, len(X), batch_size)]
    return np.concatenate(seen) if seen else np.zeros(0, dtype=bool)


def check_seen(X, where: str, batch_size: int = 64) -> None:
    """Refuse series of X (N×T×C) the encoder sees nothing of (:func:`seen_series`), naming
    them and ``where`` they are (e.g. "X", "the train split")."""
    unseen = np.flatnonzero(~seen_series(X, batch_size))
    if unseen.size:
        raise DataError(f"series {some(unseen)} of {where} have no timestamp at which every channel is observed: "
                        "the encoder skips a timestamp with a missing channel, so it would see nothing of them; "
                        "drop them, or fill their missing values")


def series_lengths(X, batch_size: int = 64) -> np.ndarray:
    """Each series' length in X (N×T×C): its last timestamp with an observed value, plus one
    (at least 1: a series with no observed value is encoded as one missing timestamp)."""
    lengths = []
    for start in range(0, len(X), batch_size):
        observed = ~np.isnan(np.asarray(X[start : start + batch_size])).all(axis=2)  # b×T
        last = observed.shape[1] - np.argmax(observed[:, ::-1], axis=1)
        lengths.append(np.where(observed.any(axis=1), last, 1))
    return np.concatenate(lengths) if lengths else np.zeros(0, dtype=int)


def window_pool(z: torch.Tensor, encoding_window: int | str | None, levels_of: int | None = None) -> torch.Tensor:
    """TS2Vec's pooling inside an encoded window z (B×T×K): None as it is; an int k the max over
    k neighbours (stride 1, padding k // 2; the last step dropped for even k); ``"multiscale"``
    the kernels 2^(p+1) + 1 for 2^p + 1 < ``levels_of`` (default T), concatenated: B×T×K·levels."""
    if encoding_window is None:
        return z
    zt = z.transpose(1, 2)
    if encoding_window == "multiscale":
        length, scales, p = levels_of or z.size(1), [], 0
        while (1 << p) + 1 < length:
            scales.append(F.max_pool1d(zt, kernel_size=(1 << (p + 1)) + 1, stride=1, padding=1 << p))
            p += 1
        return torch.cat(scales, dim=1).transpose(1, 2) if scales else z[..., :0]
    pooled = F.max_pool1d(zt, kernel_size=encoding_window, stride=1, padding=encoding_window // 2).transpose(1, 2)
    return pooled[:, :-1] if encoding_window % 2 == 0 else pooled


def _pool(z: torch.Tensor, pooling: str | None) -> torch.Tensor:
    """z (B×T×K) pooled over time by ``pooling`` (B×K), or as it is (None)."""
    return z if pooling is None else z.amax(dim=1) if pooling == "max" else z.mean(dim=1)


def _forward(encoder: nn.Module, x: np.ndarray, windowing, levels_of: int | None = None) -> torch.Tensor:
    """The encoder on x (b×w×C) with ``windowing`` = (mask, encoding_window): b×w×K' on the CPU."""
    mask, encoding_window = windowing
    device = next(encoder.parameters()).device
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    z = encoder(xt) if mask == "all_true" else encoder(xt, mask=mask)
    return window_pool(z, encoding_window, levels_of).cpu()


def _encode_own_length(encoder, X, pooling, batch_size, exact, windowing) -> np.ndarray:
    lengths = series_lengths(X, batch_size)
    width = np.asarray(X[:1]).shape[1]  # T of the call (X may be a lazy sequence of rows)
    out = None
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        step = 1 if exact else max(1, min(batch_size, BATCH_TIMESTAMPS // int(length)))
        for start in range(0, len(rows), step):
            idx = rows[start : start + step]
            z = _forward(encoder, np.asarray(X[idx], dtype=np.float32)[:, :length], windowing, levels_of=width)
            if out is None:
                shape = (len(lengths), z.size(-1)) if pooling else (len(lengths), width, z.size(-1))
                out = np.full(shape, np.nan, dtype=np.float32)
            if pooling is None:
                out[idx, :length] = z.numpy()
            else:
                out[idx] = _pool(z, pooling).numpy()
    return out


def _encode_padded(encoder, X, pooling, batch_size, windowing) -> np.ndarray:
    length = X[:1].shape[1] if len(X) else 1
    batch_size = max(1, min(batch_size, BATCH_TIMESTAMPS // length))
    out = [_pool(_forward(encoder, X[start : start + batch_size], windowing), pooling)
           for start in range(0, len(X), batch_size)]
    return torch.cat(out).numpy()


def _encode_sliding(encoder, X, pooling, batch_size, exact, windowing, L, P, causal) -> np.ndarray:
    """Sliding windows of every series, all cut by striding one padded array and encoded in
    batches of windows; windows that start past a series' end are skipped."""
    X = np.asarray(X, dtype=np.float32)
    N, T, _ = X.shape
    lengths = series_lengths(X, batch_size)
    right, n_windows = (0 if causal else P), math.ceil(T / L)
    width = P + L + right
    padded = np.pad(X, ((0, 0), (P, n_windows * L - T + right), (0, 0)), constant_values=np.nan)
    windows = sliding_window_view(padded, width, axis=1)[:, ::L]  # N×n_windows×C×width, no copy
    series = np.repeat(np.arange(N), -(-lengths // L))  # every (series, window) pair with a step in the series
    starts = np.concatenate([np.arange(-(-n // L)) for n in lengths])
    last_only = causal and L == 1 and windowing[1] is None and hasattr(encoder, "forward_last")
    step = 1 if exact else max(1, BATCH_TIMESTAMPS // width)
    out = None
    for begin in range(0, len(series), step):
        n, j = series[begin : begin + step], starts[begin : begin + step]
        x = windows[n, j].transpose(0, 2, 1)  # b×width×C (a copy)
        if last_only:
            z = _forward_last(encoder, x, windowing[0])[:, None]  # b×1×K
        else:
            z = _forward(encoder, x, windowing)[:, P : P + L]  # b×L×K'
        if out is None:
            out = np.full((N, n_windows * L, z.size(-1)), np.nan, dtype=np.float32)
        steps = j[:, None] * L + np.arange(L)  # b×L timestamps
        out[n[:, None], steps] = z.numpy()
    out = out[:, :T]
    out[np.arange(T)[None, :] >= lengths[:, None]] = np.nan  # past each series' end
    return out if pooling is None else _pool_observed(out, lengths, pooling)


def _forward_last(encoder, x: np.ndarray, mask: str) -> torch.Tensor:
    device = next(encoder.parameters()).device
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    return encoder.forward_last(xt, mask=mask).cpu()


def _pool_observed(z: np.ndarray, lengths: np.ndarray, pooling: str) -> np.ndarray:
    """Per-timestamp z (N×T×K, NaN past each series' end) pooled over each series' own steps."""
    return np.stack([_pool(torch.from_numpy(z[i : i + 1, :n]), pooling)[0].numpy() for i, n in enumerate(lengths)])


def check_pooling(pooling: str, key: str = "classifier.pooling") -> None:
    """Refuse a pooling other than :data:`POOLINGS`, naming the setting ``key``."""
    if pooling not in POOLINGS:
        raise ConfigError(f"{key}={pooling!r}: choose one of {', '.join(POOLINGS)}")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class Windows:
    """The windows ``X[:, j·stride : j·stride + window]`` of X (N×T×C) as one (N·W)×w×C
    sequence whose slices are copied on demand, for :func:`encode` (windows without shared
    context; :func:`encode`'s ``sliding_length`` gives each window the steps before it)."""

    def __init__(self, X: np.ndarray, window: int, stride: int):
        if not (_is_int(window) and 2 <= window <= X.shape[1]):
            raise ConfigError(f"window={window!r}: give a number of timestamps between 2 and the series' "
                              f"length {X.shape[1]}")
        if not (_is_int(stride) and stride >= 1):
            raise ConfigError(f"stride={stride!r}: give a positive number of timestamps")
        self.view = sliding_window_view(X, window, axis=1)[:, ::stride]  # N×W×C×w, no copy
        self.per_series = self.view.shape[1]

    def __len__(self) -> int:
        return self.view.shape[0] * self.per_series

    def __getitem__(self, rows: slice) -> np.ndarray:
        idx = np.arange(len(self))[rows]
        return np.ascontiguousarray(self.view[idx // self.per_series, idx % self.per_series].transpose(0, 2, 1))

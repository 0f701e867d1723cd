"""TS2Vec's encodings (iars.encoding.encode) against its loop as written (iars.reference.ts2vec_encode)."""
import numpy as np
import pytest
import torch

from iars.encoders import DilatedConvEncoder
from iars.encoding import encode
from iars.errors import ConfigError
from iars.reference import ts2vec_encode

OPTIONS = [
    {},
    {"mask": "mask_last"},
    {"mask": "all_false"},
    {"encoding_window": 4},
    {"encoding_window": 5},
    {"encoding_window": "multiscale"},
    {"causal": True, "sliding_length": 1, "sliding_padding": 10},                       # forecasting's
    {"causal": True, "sliding_length": 1, "sliding_padding": 10, "mask": "mask_last"},  # anomaly detection's
    {"causal": True, "sliding_length": 1, "sliding_padding": 0},
    {"causal": True, "sliding_length": 5, "sliding_padding": 7},
    {"sliding_length": 5, "sliding_padding": 7},
    {"sliding_length": 4, "sliding_padding": 3, "encoding_window": 3},
    {"sliding_length": 6, "sliding_padding": 3, "encoding_window": "multiscale"},
]


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return DilatedConvEncoder(3, K=8, hidden=8, depth=4).eval()


def _series(T=40, n=3, seed=0):
    X = np.random.default_rng(seed).standard_normal((n, T, 3)).astype(np.float32)
    X[1, 5:8] = np.nan  # missing inside a series
    return X


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_encode_equals_ts2vec_loop(encoder, options):
    """Equal lengths: per timestamp, and pooled over the series (encoding_window='full_series';
    T = 40 is a multiple of every sliding length here but 6, where TS2Vec pools the last
    window's overhang past the series too, which iars does not)."""
    X = _series()
    np.testing.assert_allclose(encode(encoder, X, None, **options), ts2vec_encode(encoder, X, **options), atol=1e-6)
    pooled = {k: v for k, v in options.items() if k != "encoding_window"}
    if 40 % pooled.get("sliding_length", 1) == 0:
        np.testing.assert_allclose(encode(encoder, X, encoding_window="full_series", **pooled),
                                   ts2vec_encode(encoder, X, encoding_window="full_series", **pooled), atol=1e-6)


@pytest.mark.parametrize("options", OPTIONS[:2] + OPTIONS[3:4] + OPTIONS[6:8] + OPTIONS[10:11],
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_unequal_lengths_each_series_as_ts2vec_encodes_it_alone(encoder, options):
    """In a call of series of unequal lengths (NaN-padded), each series gets what TS2Vec's loop
    gives it encoded alone at its own length, and NaN past its end."""
    X = _series(T=50, n=4)
    lengths = [50, 23, 37, 9]
    for i, n in enumerate(lengths):
        X[i, n:] = np.nan
    together = encode(encoder, X, None, **options)
    for i, n in enumerate(lengths):
        alone = ts2vec_encode(encoder, X[i : i + 1, :n], **options)[0]
        np.testing.assert_allclose(together[i, :n], alone, atol=1e-6)
        assert np.isnan(together[i, n:]).all()


def test_causal_encoding_at_t_ignores_what_follows(encoder):
    X = _series(T=60, n=2)
    changed = X.copy()
    changed[:, 31:] = np.random.default_rng(1).standard_normal(changed[:, 31:].shape)
    options = {"causal": True, "sliding_length": 1, "sliding_padding": 20}
    before, after = encode(encoder, X, None, **options), encode(encoder, changed, None, **options)
    np.testing.assert_array_equal(before[:, :31], after[:, :31])
    assert np.abs(before[:, 31:] - after[:, 31:]).min() > 0  # what follows does change later steps


@pytest.mark.parametrize("T", [1, 2, 5, 64, 201, 300])
@pytest.mark.parametrize("mask", ["all_true", "mask_last"])
def test_forward_last_is_the_last_step_of_forward(T, mask):
    torch.manual_seed(T)
    encoder = DilatedConvEncoder(3, K=16, hidden=8, depth=10).eval()
    x = torch.randn(4, T, 3)
    x[0, :2] = float("nan")
    torch.testing.assert_close(encoder.forward_last(x, mask), encoder(x, mask)[:, -1], atol=1e-6, rtol=0)


def test_fast_causal_path_equals_the_window_by_window_encoding(encoder):
    """The lattice path (forward_last) and plain windows (an encoder without it) agree."""
    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = encoder

        def forward(self, x, mask=None):
            return self.inner(x, mask)

    X = _series(T=70)
    options = {"causal": True, "sliding_length": 1, "sliding_padding": 30}
    np.testing.assert_allclose(encode(encoder, X, None, **options), encode(Plain(), X, None, **options), atol=1e-6)


@pytest.mark.parametrize("options, message", [
    ({"mask": "binomal"}, "mask='binomal': choose one of"),
    ({"encoding_window": "full"}, "encoding_window='full'"),
    ({"encoding_window": 0}, "encoding_window=0"),
    ({"sliding_length": 0}, "sliding_length=0"),
    ({"sliding_length": 2, "sliding_padding": -1}, "sliding_padding=-1"),
    ({"sliding_length": 2, "ts2vec_padding": True}, "drop ts2vec_padding"),
])
def test_bad_options_are_refused_by_name(encoder, options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        encode(encoder, _series(), None, **options)


def test_full_series_contradicting_avg_pooling_is_refused(encoder):
    with pytest.raises(ConfigError, match="contradicts pooling='avg'"):
        encode(encoder, _series(), "avg", encoding_window="full_series")

"""Forecasting, TS2Vec's protocol (``tasks/forecasting.py`` of github:yuezhihan/ts2vec): the
encoder's representation of every timestamp t, computed causally from the window [t − padding, t],
fits one ridge regression per horizon H onto the values at t+1..t+H; α is chosen on the valid
part; MSE and MAE on the test part, scaled (the paper's tables) and on the original scale.

Two controls answer the known doubts (ts2vec #20, #35): the same ridge on an untrained encoder
(the trained one's own initialisation: same class, arguments and seed) and on the raw lagged
window of the series. Settings: ``config["task"]``, e.g. ``{"name": "forecasting",
"padding": 200, "controls": true, "lags": null}`` (:data:`SETTINGS`); horizons: the datamodule's.

With ``config["output_dir"]`` set, the stage also writes ``forecast.npz`` there
(:func:`write_forecast`, :data:`iars.runs.FORECAST_FILE`: a few kB), what the report plots: for
each horizon H the trained encoder's forecast of the first test window and its truth
(``pred_<H>``, ``true_<H>``: the H steps after the test part's first timestamp t0), and the
``context`` before it (the target at t0 − padding..t0, what the encoder saw), all of the target
channel on the original scale; also ``horizons``, ``start`` (t0's step in the series) and ``target``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from torch import nn

from iars.config import build, locate
from iars.data import Split
from iars.data.forecast import ForecastData, ForecastDataModule, check_horizons, default_horizons
from iars.encoding import encode
from iars.errors import ConfigError, DataError
from iars.runs import FORECAST_FILE

ALPHAS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
"""TS2Vec's ridge penalties (``_eval_protocols.fit_ridge``)."""
MAX_SAMPLES = 100_000
"""TS2Vec's cap on the samples the ridge fits and scores (a random subset, random_state 0)."""
SETTINGS = {"padding": None, "controls": True, "lags": None}
"""The task's settings and their defaults: ``padding`` (TS2Vec's 200: each timestamp's window
is [t − padding, t], and the first ``padding`` train timestamps give no ridge sample),
``controls`` (also fit the untrained-encoder and lagged-window controls), ``lags`` (the lagged
control's window; None: :func:`default_lags`)."""
LAGGED_FEATURES = 200
"""The lagged control's cap on lagged values (lags × the series' channels), so that its ridge
costs about what the representation's (K = 320) does."""


# -- TS2Vec's protocol -----------------------------------------------------------------------


def pred_samples(features: np.ndarray, data: np.ndarray, horizon: int, drop: int = 0):
    """TS2Vec's ``generate_pred_samples``: features N×T×K and values N×T×C -> the features at t
    ((N·(T − H − drop))×K) and the values at t+1..t+H flattened step-major ((N·(T − H − drop))×(H·C)),
    for t = drop..T−H−1."""
    n = data.shape[1]
    if n - horizon - drop < 1:
        raise DataError(f"{n} steps give no forecast of horizon {horizon} after dropping the first {drop}")
    ahead = sliding_window_view(data[:, 1:], horizon, axis=1).transpose(0, 1, 3, 2)  # N×(T−H)×H×C, a view
    features, labels = features[:, drop : n - horizon], ahead[:, drop:]
    return features.reshape(-1, features.shape[-1]), labels.reshape(-1, horizon * data.shape[2])


def _subsample(X: np.ndarray, y: np.ndarray, max_samples: int):
    if X.shape[0] <= max_samples:
        return X, y
    X, _, y, _ = train_test_split(X, y, train_size=max_samples, random_state=0)
    return X, y


def fit_ridge(train_X: np.ndarray, train_y: np.ndarray, valid_X: np.ndarray, valid_y: np.ndarray,
              alphas: Sequence[float] = ALPHAS, max_samples: int = MAX_SAMPLES) -> Ridge:
    """TS2Vec's ``fit_ridge``: each α fitted on (at most ``max_samples`` of) the train samples and
    scored by √MSE + MAE on (at most ``max_samples`` of) the valid ones; the best α refitted.
    Returns the fitted :class:`~sklearn.linear_model.Ridge` (its α: ``.alpha``)."""
    train_X, train_y = _subsample(train_X, train_y, max_samples)
    valid_X, valid_y = _subsample(valid_X, valid_y, max_samples)
    scores = []
    for alpha in alphas:
        pred = Ridge(alpha=alpha).fit(train_X, train_y).predict(valid_X)
        scores.append(np.sqrt(((pred - valid_y) ** 2).mean()) + np.abs(pred - valid_y).mean())
    return Ridge(alpha=alphas[int(np.argmin(scores))]).fit(train_X, train_y)


def _errors(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return float((diff**2).mean()), float(np.abs(diff).mean())


def ridge_forecast(features: np.ndarray, fd: ForecastData, horizons: Sequence[int] | None = None,
                   drop: int = 0, windows: dict | None = None) -> dict[str, dict[str, float]]:
    """Features 1×T×F of every timestamp of ``fd`` -> per horizon (keys: the horizon as a string,
    as JSON keeps it) the test ``mse``/``mae`` on the scaled values, ``mse_raw``/``mae_raw`` on the
    original scale, the chosen ``alpha``, its ``valid_score`` (√MSE + MAE on the valid part, what
    chose it) and ``ridge_time_s`` (choosing α and refitting). The first
    ``drop`` train timestamps give no sample (TS2Vec: their windows reach before the series).
    A ``windows`` dict receives, per horizon, the first test window's prediction and truth
    (``(pred, true)``, each H×C' scaled)."""
    out = {}
    for horizon in fd.horizons if horizons is None else horizons:
        train = pred_samples(*fd.part("train", features), horizon, drop)
        valid = pred_samples(*fd.part("valid", features), horizon)
        test_X, test_y = pred_samples(*fd.part("test", features), horizon)
        start = perf_counter()
        ridge = fit_ridge(*train, *valid)
        seconds = perf_counter() - start
        valid_mse, valid_mae = _errors(ridge.predict(valid[0]), valid[1])
        pred = ridge.predict(test_X)
        mse, mae = _errors(pred, test_y)
        shape = (-1, horizon, len(fd.targets))
        if windows is not None:
            windows[str(horizon)] = (pred[0].reshape(shape[1:]), test_y[0].reshape(shape[1:]))
        mse_raw, mae_raw = _errors(fd.to_original(pred.reshape(shape)), fd.to_original(test_y.reshape(shape)))
        out[str(horizon)] = {"mse": mse, "mae": mae, "mse_raw": mse_raw, "mae_raw": mae_raw,
                             "alpha": float(ridge.alpha), "valid_score": float(np.sqrt(valid_mse) + valid_mae),
                             "ridge_time_s": seconds}
    return out


def _stage(results: dict[str, dict[str, float]], **fields: Any) -> dict[str, Any]:
    return {"forecast": results, **fields, "ridge_time_s": sum(r["ridge_time_s"] for r in results.values())}


def forecast(encoder: nn.Module, fd: ForecastData, horizons: Sequence[int] | None = None,
             padding: int = SETTINGS["padding"], windows: dict | None = None) -> dict[str, Any]:
    """TS2Vec's forecasting stage: each timestamp's representation from the window [t − padding, t]
    (causal, sliding length 1) -> :func:`ridge_forecast` dropping the first ``padding`` train
    timestamps (``windows``: its first test windows). Returns ``{"forecast": per horizon,
    "encode_time_s", "ridge_time_s"}``."""
    start = perf_counter()
    features = encode(encoder, fd.data, pooling=None, causal=True, sliding_length=1, sliding_padding=padding)
    seconds = perf_counter() - start
    return _stage(ridge_forecast(features, fd, horizons, drop=padding, windows=windows), encode_time_s=seconds)


def write_forecast(run_dir: str | Path, fd: ForecastData, windows: Mapping[str, tuple], padding: int) -> Path:
    """``forecast.npz`` in ``run_dir`` (see the module's docstring): ``windows`` (from
    :func:`ridge_forecast`) and the context before them, of the target channel (the last),
    on the original scale, float32."""
    t0 = fd.test.start
    series = fd.to_original(fd.data[0, :, fd.n_covariates:])[:, -1]
    arrays = {"horizons": np.array([int(h) for h in windows], dtype=np.int64), "start": np.int64(t0),
              "context": series[max(0, t0 - padding): t0 + 1].astype(np.float32), "target": np.array(fd.targets[-1])}
    for horizon, (pred, true) in windows.items():
        arrays[f"pred_{horizon}"] = fd.to_original(pred)[:, -1].astype(np.float32)
        arrays[f"true_{horizon}"] = fd.to_original(true)[:, -1].astype(np.float32)
    path = Path(run_dir) / FORECAST_FILE
    np.savez_compressed(path, **arrays)
    return path


# -- the controls ----------------------------------------------------------------------------


def untrained_encoder(model: Mapping[str, Any], in_channels: int, seed: int, device=None) -> nn.Module:
    """A fresh encoder of the ``model`` spec (plus ``in_channels``), initialised from ``seed``
    without touching the global random state: with the run's seed, the trained encoder's own
    initial weights (the pipeline seeds, then builds the encoder first)."""
    spec = {k: v for k, v in model.items() if k != "_partial_"}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = build({**spec, "in_channels": in_channels})
    return encoder if device is None else encoder.to(device)


def default_lags(padding: int, n_series: int) -> int:
    """The lagged control's window: the last ``padding`` steps up to t (the encoder's window
    [t − padding, t] less its oldest step), at most :data:`LAGGED_FEATURES` values in all
    (÷ the series' channels), at least 1."""
    return max(1, min(padding, LAGGED_FEATURES // n_series))


def lagged_features(fd: ForecastData, lags: int) -> np.ndarray:
    """The raw lagged window as features: at t, the covariates at t and the series' last ``lags``
    scaled values t − lags + 1..t (0 before the series' start): 1×T×(n_covariates + lags·C')."""
    x = fd.data[0]
    series = x[:, fd.n_covariates:]
    padded = np.concatenate([np.zeros((lags - 1, series.shape[1]), series.dtype), series])
    window = sliding_window_view(padded, lags, axis=0)  # T×C'×lags
    return np.concatenate([x[:, : fd.n_covariates], window.reshape(len(x), -1)], axis=1)[None]


def lagged_forecast(fd: ForecastData, horizons: Sequence[int] | None = None, lags: int = 1,
                    drop: int = 0) -> dict[str, Any]:
    """The lagged-window control: :func:`ridge_forecast` on :func:`lagged_features`."""
    return _stage(ridge_forecast(lagged_features(fd, lags), fd, horizons, drop), lags=lags)


# -- the task seam ---------------------------------------------------------------------------


def settings(config: Mapping) -> dict[str, Any]:
    """The task's settings from ``config["task"]`` (a mapping, or just the task's name), checked."""
    task = config.get("task")
    given = {k: v for k, v in (task.items() if isinstance(task, Mapping) else ()) if k != "name"}
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"task.{unknown[0]} is not a forecasting setting: use {', '.join(SETTINGS)}")
    s = {**SETTINGS, **given}
    if s["padding"] is None:  # the dataset's context (200, TS2Vec's, unless its config says otherwise)
        s["padding"] = config.get("dataset", {}).get("padding", 200)
    if isinstance(s["padding"], bool) or not isinstance(s["padding"], int) or s["padding"] < 0:
        raise ConfigError(f"task.padding={s['padding']!r}: give the steps before t each representation sees (TS2Vec: 200)")
    if not isinstance(s["controls"], bool):
        raise ConfigError(f"task.controls={s['controls']!r}: give true or false")
    lags = s["lags"]
    if lags is not None and (isinstance(lags, bool) or not isinstance(lags, int) or not 1 <= lags <= s["padding"] + 1):
        raise ConfigError(f"task.lags={lags!r}: give a window of 1 to task.padding + 1 = {s['padding'] + 1} steps "
                          "(what the encoder sees), or null for the default")
    return s


def check(config: Mapping, data: Split) -> list[str]:
    """Refuse, before any pretraining, a dataset that is not a forecasting series, bad settings, and
    a train part too short for the horizons after the dropped ``padding`` steps."""
    s = settings(config)
    spec = config["dataset"]
    target = spec.get("_target_")
    cls = locate(target) if isinstance(target, str) else None
    if not (isinstance(cls, type) and issubclass(cls, ForecastDataModule)):
        raise ConfigError(f"task=forecasting needs a forecasting dataset ({ForecastDataModule.__module__}."
                          f"ForecastDataModule: dataset=etth1, etth2, solar or forecast_csv), not {target}")
    path = spec.get("path")
    given = spec.get("horizons")
    horizons = check_horizons(default_horizons(None if path is None else Path(path).name) if given is None else given)
    steps, longest = data.X_train.shape[1], max(horizons)
    if steps - longest - s["padding"] < 1:
        fix = f"set task.padding to at most {steps - longest - 1}, or " if steps - longest > 1 else ""
        raise DataError(f"dataset {spec.get('name') or target!r}: its train part has {steps} steps, too few for horizon "
                        f"{longest} after the first task.padding={s['padding']} (TS2Vec drops them): {fix}give shorter "
                        "dataset.horizons")
    return []


def evaluate(config: Mapping, datamodule: ForecastDataModule, encoder: nn.Module) -> dict[str, Any]:
    """The forecasting stage on ``encoder`` and, with ``controls``, on the untrained encoder and the
    lagged window; returns the record's forecasting fields. With ``output_dir``, also
    ``forecast.npz`` there (:func:`write_forecast`)."""
    s = settings(config)
    fd = datamodule.forecast_data()
    horizons, padding = list(datamodule.horizons), s["padding"]
    windows = {} if config.get("output_dir") else None
    trained = forecast(encoder, fd, horizons, padding, windows)
    if windows is not None:
        write_forecast(config["output_dir"], fd, windows, padding)
    controls = None
    if s["controls"]:
        device = next(encoder.parameters()).device
        fresh = untrained_encoder(config["model"], fd.data.shape[2], config["seed"], device)
        lags = s["lags"] or default_lags(padding, len(fd.targets))
        controls = {"untrained": forecast(fresh, fd, horizons, padding),
                    "lagged": lagged_forecast(fd, horizons, lags, drop=padding)}
    return {
        **trained,
        "controls": controls,
        "horizons": horizons,
        "padding": padding,
        "univariate": fd.univariate,
        "target": fd.targets[-1],
        "columns": fd.targets,
        "length": int(fd.data.shape[1]),
        "channels": len(fd.targets),
        "n_covariates": fd.n_covariates,
        "parts": {p: getattr(fd, p).stop - getattr(fd, p).start for p in ("train", "valid", "test")},
    }


def results(record: Mapping[str, Any]) -> dict[str, float]:
    """The scores the run's logger gets: ``mse/<H>``, ``mae/<H>`` (test, scaled) per horizon, the
    controls' ``untrained/mse/<H>``, ``lagged/mse/<H>``, and ``encode_time_s``."""
    out = {f"{m}/{h}": r[m] for h, r in record["forecast"].items() for m in ("mse", "mae")}
    for name, control in (record.get("controls") or {}).items():
        out.update({f"{name}/mse/{h}": r["mse"] for h, r in control["forecast"].items()})
    return {**out, "encode_time_s": record["encode_time_s"]}


def validation_score(record: Mapping[str, Any]) -> float | None:
    """What a Hydra sweeper maximises: minus the valid part's √MSE + MAE (what chose each α),
    averaged over the horizons; never the test part."""
    scores = [r["valid_score"] for r in record["forecast"].values()]
    return -float(np.mean(scores)) if scores else None


def _mses(results: Mapping[str, Mapping[str, float]]) -> str:
    return "/".join(f"{r['mse']:.3f}" for r in results.values())


def summary(record: Mapping[str, Any]) -> str:
    """The forecasting part of a run's summary line: the test MSE (scaled) per horizon, and the controls'."""
    results = record["forecast"]
    line = f"MSE@{'/'.join(map(str, results))} {_mses(results)}"
    controls = record.get("controls")
    if controls:
        line += f" (untrained {_mses(controls['untrained']['forecast'])}, lagged {_mses(controls['lagged']['forecast'])})"
    return line

"""Forecasting, TS2Vec's protocol: the data (iars.data.forecast: time features, the split rule,
train-only scaling, the data module) and the task (iars.tasks.forecasting: samples and ridge
against the reference's code, the controls, the record and its summary line)."""
import inspect
import json

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from helpers import REPO, compose_cfg, plain
from iars import pipeline
from iars.config import build
from iars.data.forecast import TIME_FEATURES, ForecastDataModule, split_slices, time_features
from iars.encoding import encode
from iars.errors import ConfigError, DataError
from iars.tasks import forecasting
from iars.tasks.forecasting import (
    check,
    default_lags,
    evaluate,
    fit_ridge,
    lagged_features,
    pred_samples,
    ridge_forecast,
    summary,
    untrained_encoder,
)

ETT_DIR = REPO / "../shared/data/ETT"
MODEL = {"_target_": "iars.encoders.DilatedConvEncoder", "K": 8, "hidden": 8, "depth": 2}
HORIZONS = [4, 8]
PADDING = 20


# -- the reference's code, the oracles -------------------------------------------------------
# Copied from github:yuezhihan/ts2vec (checked out at /work/ts2vec): tasks/forecasting.py
# generate_pred_samples and eval_forecasting's metrics, tasks/_eval_protocols.py fit_ridge (its
# MAX_SAMPLES made a parameter), datautils.py load_forecast_csv and _get_time_features (with the
# shims pandas ≥ 2 needs: isocalendar().week for weekofyear, float for np.float; a path argument).


def ref_generate_pred_samples(features, data, pred_len, drop=0):
    n = data.shape[1]
    features = features[:, :-pred_len]
    labels = np.stack([data[:, i:1 + n + i - pred_len] for i in range(pred_len)], axis=2)[:, 1:]
    features = features[:, drop:]
    labels = labels[:, drop:]
    return features.reshape(-1, features.shape[-1]), labels.reshape(-1, labels.shape[2] * labels.shape[3])


def ref_fit_ridge(train_features, train_y, valid_features, valid_y, MAX_SAMPLES=100000):
    if train_features.shape[0] > MAX_SAMPLES:
        split = train_test_split(train_features, train_y, train_size=MAX_SAMPLES, random_state=0)
        train_features = split[0]
        train_y = split[2]
    if valid_features.shape[0] > MAX_SAMPLES:
        split = train_test_split(valid_features, valid_y, train_size=MAX_SAMPLES, random_state=0)
        valid_features = split[0]
        valid_y = split[2]
    alphas = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    valid_results = []
    for alpha in alphas:
        lr = Ridge(alpha=alpha).fit(train_features, train_y)
        valid_pred = lr.predict(valid_features)
        score = np.sqrt(((valid_pred - valid_y) ** 2).mean()) + np.abs(valid_pred - valid_y).mean()
        valid_results.append(score)
    best_alpha = alphas[np.argmin(valid_results)]
    lr = Ridge(alpha=best_alpha)
    lr.fit(train_features, train_y)
    return lr


def ref_cal_metrics(pred, target):
    return {'MSE': ((pred - target) ** 2).mean(), 'MAE': np.abs(pred - target).mean()}


def ref_eval_forecasting(all_repr, data, train_slice, valid_slice, test_slice, scaler, pred_lens, n_covariate_cols,
                         padding=200):
    """eval_forecasting after its model.encode call (``all_repr`` given)."""
    train_repr, valid_repr, test_repr = all_repr[:, train_slice], all_repr[:, valid_slice], all_repr[:, test_slice]
    train_data = data[:, train_slice, n_covariate_cols:]
    valid_data = data[:, valid_slice, n_covariate_cols:]
    test_data = data[:, test_slice, n_covariate_cols:]
    ours_result = {}
    for pred_len in pred_lens:
        train_features, train_labels = ref_generate_pred_samples(train_repr, train_data, pred_len, drop=padding)
        valid_features, valid_labels = ref_generate_pred_samples(valid_repr, valid_data, pred_len)
        test_features, test_labels = ref_generate_pred_samples(test_repr, test_data, pred_len)
        lr = ref_fit_ridge(train_features, train_labels, valid_features, valid_labels)
        test_pred = lr.predict(test_features)
        ori_shape = test_data.shape[0], -1, pred_len, test_data.shape[2]
        test_pred = test_pred.reshape(ori_shape)
        test_labels = test_labels.reshape(ori_shape)
        # scikit-learn ≥ 1.x refuses inverse_transform of 4-D arrays: applied over the last axis
        test_pred_inv = scaler.inverse_transform(test_pred.reshape(-1, test_data.shape[2])).reshape(ori_shape)
        test_labels_inv = scaler.inverse_transform(test_labels.reshape(-1, test_data.shape[2])).reshape(ori_shape)
        ours_result[pred_len] = {'norm': ref_cal_metrics(test_pred, test_labels),
                                 'raw': ref_cal_metrics(test_pred_inv, test_labels_inv), 'alpha': lr.alpha}
    return ours_result


def ref_get_time_features(dt):
    return np.stack([
        dt.minute.to_numpy(), dt.hour.to_numpy(), dt.dayofweek.to_numpy(), dt.day.to_numpy(),
        dt.dayofyear.to_numpy(), dt.month.to_numpy(), dt.isocalendar().week.to_numpy(),
    ], axis=1).astype(float)


def ref_load_forecast_csv(path, name, univar=False):
    data = pd.read_csv(path, index_col='date', parse_dates=True)
    dt_embed = ref_get_time_features(data.index)
    n_covariate_cols = dt_embed.shape[-1]
    if univar:
        data = data[['OT']] if name in ('ETTh1', 'ETTh2', 'ETTm1', 'ETTm2') else data.iloc[:, -1:]
    data = data.to_numpy()
    if name == 'ETTh1' or name == 'ETTh2':
        train_slice, valid_slice, test_slice = slice(None, 12*30*24), slice(12*30*24, 16*30*24), slice(16*30*24, 20*30*24)
    else:
        train_slice = slice(None, int(0.6 * len(data)))
        valid_slice = slice(int(0.6 * len(data)), int(0.8 * len(data)))
        test_slice = slice(int(0.8 * len(data)), None)
    scaler = StandardScaler().fit(data[train_slice])
    data = np.expand_dims(scaler.transform(data), 0)
    dt_scaler = StandardScaler().fit(dt_embed[train_slice])
    dt_embed = np.expand_dims(dt_scaler.transform(dt_embed), 0)
    data = np.concatenate([np.repeat(dt_embed, data.shape[0], axis=0), data], axis=-1)
    return data, train_slice, valid_slice, test_slice, scaler, n_covariate_cols


# -- helpers ---------------------------------------------------------------------------------


def write_csv(path, rows=400, start="2021-03-01", freq="h", columns=("HUFL", "OT", "LULL"), seed=0):
    """A dated CSV: daily cycles, a trend and noise per column."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    frame = pd.DataFrame({"date": pd.date_range(start, periods=rows, freq=freq)})
    for i, c in enumerate(columns):
        frame[c] = (i + 1) * np.sin(2 * np.pi * t / 24 + i) + 0.01 * t * (i + 1) + 0.3 * rng.standard_normal(rows) + 5 * i
    frame.to_csv(path, index=False)
    return path


def small_module(tmp_path, **kwargs):
    args = {"horizons": HORIZONS, "max_train_length": 100, **kwargs}
    return ForecastDataModule(str(write_csv(tmp_path / "load.csv")), **args)


def sliding_encode(encoder, X, pooling=None, causal=True, sliding_length=1, sliding_padding=0):
    """The per-timestamp encoding the task asks ``iars.evaluate.encode`` for, written out: each
    timestamp t of X (1×T×C) encoded from its window [t − padding, t], NaN before the series."""
    assert pooling is None and causal and sliding_length == 1 and X.shape[0] == 1
    x = torch.from_numpy(np.ascontiguousarray(X[0]))
    padded = torch.cat([torch.full((sliding_padding, x.shape[1]), float("nan")), x])
    windows = padded.unfold(0, sliding_padding + 1, 1).transpose(1, 2)  # T×(padding+1)×C
    was = encoder.training
    encoder.eval()
    with torch.no_grad():
        z = encoder(windows.contiguous())[:, -1]
    encoder.train(was)
    return z.numpy()[None]


def config_for(dm, **task):
    return {"task": {"name": "forecasting", "padding": PADDING, **task}, "model": MODEL, "seed": 3,
            "dataset": {"_target_": "iars.data.forecast.ForecastDataModule", "path": str(dm.path),
                        "horizons": list(dm.horizons), "name": dm.name}}


# -- the data --------------------------------------------------------------------------------


def test_time_features_by_hand():
    features = time_features(["2016-07-01 00:00", "2021-01-03 13:30"])
    # 2016-07-01: a Friday (4), day 183 of a leap year, ISO week 26; 2021-01-03: a Sunday (6) in ISO week 53 of 2020
    np.testing.assert_array_equal(features, [[0, 0, 4, 1, 183, 7, 26], [30, 13, 6, 3, 3, 1, 53]])
    assert features.dtype == np.float64 and len(TIME_FEATURES) == 7


def test_split_rule_ts2vec():
    month = 30 * 24
    assert split_slices("ETTh1.csv", 17420) == (slice(0, 12 * month), slice(12 * month, 16 * month),
                                                slice(16 * month, 20 * month))
    assert split_slices("ETTm2.csv", 70000) == (slice(0, 48 * month), slice(48 * month, 64 * month),
                                                slice(64 * month, 80 * month))
    assert split_slices("load.csv", 1000) == (slice(0, 600), slice(600, 800), slice(800, 1000))
    assert split_slices("load.csv", 17) == (slice(0, 10), slice(10, 13), slice(13, 17))  # ⌊0.6·T⌋, ⌊0.8·T⌋


def test_etth_split_on_a_synthetic_dated_csv(tmp_path):
    write_csv(tmp_path / "ETTh1.csv", rows=14500, columns=("OT",))
    dm = ForecastDataModule("ETTh1.csv", data_dir=str(tmp_path))
    fd = dm.forecast_data()
    assert (fd.train, fd.valid, fd.test) == (slice(0, 8640), slice(8640, 11520), slice(11520, 14400))
    assert dm.horizons == (24, 48, 168, 336, 720) and dm.name == "ETTh1"
    assert fd.data.shape == (1, 14500, 8) and dm.pretrain_X.shape == (3, 2880, 8)  # ⌈8640 / 3000⌉ sections


def test_scaler_is_fitted_on_the_train_part_only(tmp_path):
    dm = small_module(tmp_path, univariate=False)
    fd = dm.forecast_data()
    raw = pd.read_csv(dm.path)[["HUFL", "LULL", "OT"]].to_numpy()
    train = fd.data[0, fd.train]
    moving = [i for i in range(fd.data.shape[2]) if train[:, i].std() > 0]  # minute and month stay constant here
    np.testing.assert_allclose(train[:, moving].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(train[:, moving].std(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(fd.mean, raw[fd.train].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(fd.scale, raw[fd.train].std(axis=0), rtol=1e-6)
    assert fd.data[0, fd.test, 7:].mean() > 1  # the trend: later parts are not centred
    np.testing.assert_allclose(fd.to_original(fd.data[0, :, 7:]), raw, rtol=1e-5, atol=1e-4)
    frame = pd.read_csv(dm.path)
    frame.loc[300:, ["HUFL", "OT", "LULL"]] += 100.0  # change the valid and test parts only
    frame.to_csv(dm.path, index=False)
    changed = ForecastDataModule(str(dm.path), horizons=HORIZONS, max_train_length=100, univariate=False).forecast_data()
    np.testing.assert_array_equal(changed.data[:, fd.train], fd.data[:, fd.train])
    np.testing.assert_array_equal(changed.mean, fd.mean)


def test_data_module_round_trip(tmp_path):
    dm = small_module(tmp_path, univariate=False, target="HUFL", batch_size=2)
    X, y, X_test, y_test = dm.raw()
    assert X.shape == (1, 10, 240) and y is None and X_test is None and y_test is None  # aeon's layout 1×C×T
    data = dm.prepare()
    fd = dm.forecast_data()
    assert fd.columns == [*TIME_FEATURES, "OT", "LULL", "HUFL"] and fd.targets[-1] == "HUFL" and not fd.univariate
    assert fd.data.dtype == np.float32 and fd.data.shape == (1, 400, 10) and fd.n_covariates == 7
    np.testing.assert_array_equal(fd.data[:, fd.train], data.X_train)  # the same normaliser as pretraining's
    np.testing.assert_array_equal(fd.mean, dm.normaliser.mean[7:])
    assert dm.pretrain_X.shape == (3, 80, 10)  # 240 train steps in sections of at most 100
    (batch,) = next(iter(dm.train_dataloader()))
    assert batch.shape == (2, 80, 10)
    uni = small_module(tmp_path).forecast_data()
    assert uni.targets == ["OT"] and uni.univariate and uni.data.shape == (1, 400, 8)
    np.testing.assert_array_equal(uni.data[..., 7], fd.data[..., 7])  # OT scales alike either way


def test_real_etth1_matches_the_references_loading():
    path = ETT_DIR / "ETTh1.csv"
    if not path.is_file():
        pytest.skip(f"ETTh1.csv not found in {ETT_DIR.resolve()} (the ETT data lives only on the project's machines)")
    for univariate in (True, False):
        dm = ForecastDataModule("ETTh1.csv", data_dir=str(ETT_DIR), univariate=univariate)
        fd = dm.forecast_data()
        data, train, valid, test, scaler, n_cov = ref_load_forecast_csv(path, "ETTh1", univar=univariate)
        assert fd.data.shape == data.shape == (1, 17420, 8 if univariate else 14) and fd.n_covariates == n_cov
        assert (fd.train, fd.valid, fd.test) == (slice(0, train.stop), valid, test)
        np.testing.assert_allclose(fd.data, data, atol=2e-5)  # float32 here, float64 in the reference
        np.testing.assert_allclose(fd.mean, scaler.mean_, rtol=1e-6)
        np.testing.assert_allclose(fd.scale, scaler.scale_, rtol=1e-6)
    assert fd.targets[-1] == "OT" and dm.horizons == (24, 48, 168, 336, 720)


def test_solar_ships_with_aeon():
    dm = build(plain(compose_cfg("/tmp", "dataset=solar"))["dataset"])
    fd = dm.forecast_data()
    assert fd.data.shape == (1, 289, 8) and fd.targets == ["solar_gen"] and dm.horizons == (6, 12, 24)
    assert (fd.train, fd.valid, fd.test) == (slice(0, 173), slice(173, 231), slice(231, 289))
    assert dm.pretrain_X.shape == (3, 58, 8)


def test_the_dataset_configs_compose(tmp_path):
    for name in ("etth1", "etth2"):
        cfg = plain(compose_cfg(tmp_path, f"dataset={name}", f"dataset.data_dir={ETT_DIR}"))
        dm = build(cfg["dataset"])
        assert dm.path == ETT_DIR / f"{name.replace('etth', 'ETTh')}.csv" and dm.horizons == (24, 48, 168, 336, 720)
        assert dm.max_train_length == 3000 and dm.batch_size == 8 and dm.seed == cfg["seed"] and dm.univariate
    cfg = plain(compose_cfg(tmp_path, "dataset=forecast_csv"))
    assert cfg["dataset"]["path"] == "???"  # required: iars-train names it
    dm = build({**cfg["dataset"], "path": str(write_csv(tmp_path / "load.csv"))})
    assert dm.name == "load" and dm.horizons == (24, 48, 96, 288, 672)


def test_clear_errors_for_unusable_series(tmp_path):
    path = write_csv(tmp_path / "load.csv")
    with pytest.raises(DataError, match="no target column 'power'.*HUFL, OT, LULL.*dataset.target="):
        ForecastDataModule(str(path), target="power", horizons=HORIZONS).prepare()
    with pytest.raises(DataError, match="no date column 'time'.*dataset.date_column="):
        ForecastDataModule(str(path), date_column="time", horizons=HORIZONS).prepare()
    frame = pd.read_csv(path)
    frame["site"] = "north"
    frame["HUFL"] = frame["HUFL"].astype(object)
    frame.loc[3, "HUFL"] = "broken"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="column.s. HUFL, site are not numeric .e.g. 'broken' at 2021-03-01 03:00"):
        ForecastDataModule(str(path), univariate=False, horizons=HORIZONS).prepare()
    assert ForecastDataModule(str(path), horizons=HORIZONS, max_train_length=100).prepare()  # OT alone is numeric
    with pytest.raises(DataError, match="its valid part has 80 steps .400 in all.*too few for horizon 672.*below 80"):
        ForecastDataModule(str(write_csv(tmp_path / "short.csv"))).prepare()  # TS2Vec's 24 … 672
    with pytest.raises(DataError, match="one pretraining section.*max_train_length=3000.*below 240 .e.g. 120"):
        ForecastDataModule(str(tmp_path / "short.csv"), horizons=HORIZONS).prepare()
    frame = pd.read_csv(tmp_path / "short.csv")
    frame.loc[[5, 9], "OT"] = np.nan
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    with pytest.raises(DataError, match="column 'OT' has 2 missing values .the first at 2021-03-01 05:00"):
        ForecastDataModule(str(tmp_path / "gaps.csv"), horizons=HORIZONS).prepare()
    with pytest.raises(DataError, match="forecasting CSV .*nowhere.csv' not found.*dataset.data_dir"):
        ForecastDataModule("nowhere.csv", data_dir=str(tmp_path)).prepare()
    with pytest.raises(DataError, match="dataset.horizons=.0, 24.: give a list of positive"):
        ForecastDataModule(str(path), horizons=[0, 24])


# -- TS2Vec's protocol, against its code -----------------------------------------------------


def test_pred_samples_are_the_references():
    rng = np.random.default_rng(0)
    features, data = rng.standard_normal((2, 50, 5)), rng.standard_normal((2, 50, 3))
    for horizon in (1, 4, 7):
        for drop in (0, 10):
            got, want = pred_samples(features, data, horizon, drop), ref_generate_pred_samples(features, data, horizon, drop)
            for g, w in zip(got, want):
                assert g.shape == w.shape
                np.testing.assert_array_equal(g, w)
    with pytest.raises(DataError, match="50 steps give no forecast of horizon 40 after dropping the first 10"):
        pred_samples(features, data, 40, drop=10)


@pytest.mark.parametrize("max_samples", [100_000, 150])  # the subsampling path too
def test_fit_ridge_is_the_references(max_samples):
    rng = np.random.default_rng(1)
    alphas = set()
    for noise in (0.1, 30.0):  # a small α wins, then a large one
        X = rng.standard_normal((400, 6)).astype(np.float32)
        y = (X @ rng.standard_normal((6, 3)) + noise * rng.standard_normal((400, 3))).astype(np.float32)
        ours = fit_ridge(X[:300], y[:300], X[300:], y[300:], max_samples=max_samples)
        ref = ref_fit_ridge(X[:300], y[:300], X[300:], y[300:], MAX_SAMPLES=max_samples)
        assert ours.alpha == ref.alpha
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
        alphas.add(ours.alpha)
    assert len(alphas) == 2


def test_ridge_forecast_is_the_references(tmp_path):
    fd = small_module(tmp_path, univariate=False).forecast_data()
    features = np.random.default_rng(2).standard_normal((1, 400, 12)).astype(np.float32)
    features[..., :10] += fd.data  # a little signal
    ours = ridge_forecast(features, fd, HORIZONS, drop=PADDING)
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_, scaler.n_features_in_ = fd.mean, fd.scale, 3
    ref = ref_eval_forecasting(features, fd.data, fd.train, fd.valid, fd.test, scaler, HORIZONS, 7, padding=PADDING)
    for h in HORIZONS:
        got, want = ours[str(h)], ref[h]
        assert got["alpha"] == want["alpha"] and got["ridge_time_s"] >= 0
        np.testing.assert_allclose([got["mse"], got["mae"]], [want["norm"]["MSE"], want["norm"]["MAE"]], rtol=1e-5)
        np.testing.assert_allclose([got["mse_raw"], got["mae_raw"]], [want["raw"]["MSE"], want["raw"]["MAE"]], rtol=1e-5)


# -- the task: stage, controls, record -------------------------------------------------------


def test_lagged_features_by_hand(tmp_path):
    fd = small_module(tmp_path).forecast_data()
    lagged = lagged_features(fd, 3)
    series = fd.data[0, :, 7]
    assert lagged.shape == (1, 400, 7 + 3)
    np.testing.assert_array_equal(lagged[0, :, :7], fd.data[0, :, :7])  # the covariates at t
    np.testing.assert_array_equal(lagged[0, 10, 7:], series[8:11])  # t−2, t−1, t
    np.testing.assert_array_equal(lagged[0, 1, 7:], [0, series[0], series[1]])  # before the series: 0
    assert default_lags(200, 1) == 200 and default_lags(200, 7) == 28 and default_lags(0, 7) == 1


def test_untrained_control_is_the_trained_encoders_initialisation(tmp_path):
    dm = small_module(tmp_path)
    config = {**config_for(dm), "lr": 1e-3, "averaged": True, "loss": {"mode": "hier"}}
    pl.seed_everything(config["seed"], verbose=False)
    module = pipeline.build_module(config, dm)
    state = torch.get_rng_state()
    fresh = untrained_encoder(MODEL, 8, config["seed"])
    assert torch.equal(torch.get_rng_state(), state)  # the global random state is untouched
    trained_init = module.encoder.state_dict()
    assert all(torch.equal(v, trained_init[k]) for k, v in fresh.state_dict().items())


def test_evaluate_gives_the_record_and_its_summary(tmp_path, monkeypatch):
    monkeypatch.setattr(forecasting, "encode", sliding_encode)
    dm = small_module(tmp_path)
    config = config_for(dm)
    assert check(config, dm.prepare()) == []
    encoder = untrained_encoder(MODEL, 8, seed=11)  # stands in for a trained one
    record = json.loads(json.dumps(evaluate(config, dm, encoder)))  # as metrics.json keeps it
    assert set(record["forecast"]) == {"4", "8"} and record["horizons"] == HORIZONS and record["padding"] == PADDING
    assert set(record["forecast"]["4"]) == {"mse", "mae", "mse_raw", "mae_raw", "alpha", "valid_score", "ridge_time_s"}
    assert forecasting.validation_score(record) == -np.mean([r["valid_score"] for r in record["forecast"].values()])
    assert record["encode_time_s"] >= 0 and record["ridge_time_s"] >= 0
    assert (record["length"], record["channels"], record["n_covariates"], record["univariate"]) == (400, 1, 7, True)
    assert record["target"] == "OT" and record["parts"] == {"train": 240, "valid": 80, "test": 80}
    untrained, lagged = record["controls"]["untrained"], record["controls"]["lagged"]
    assert set(untrained) == {"forecast", "encode_time_s", "ridge_time_s"} and lagged["lags"] == PADDING
    fd = dm.forecast_data()
    direct = ridge_forecast(sliding_encode(untrained_encoder(MODEL, 8, 3), fd.data, sliding_padding=PADDING), fd,
                            HORIZONS, drop=PADDING)
    assert [untrained["forecast"][h]["mse"] for h in ("4", "8")] == [direct[h]["mse"] for h in ("4", "8")]
    assert record["forecast"]["4"]["mse"] != untrained["forecast"]["4"]["mse"]
    line = summary(record)
    assert line.startswith("MSE@4/8 ") and "(untrained " in line and ", lagged " in line
    mse = record["forecast"]["8"]["mse"]
    assert f"/{mse:.3f} (untrained" in line
    without = evaluate(config_for(dm, controls=False), dm, encoder)
    assert without["controls"] is None and summary(without) == line.split(" (")[0]
    assert without["forecast"]["4"]["mse"] == record["forecast"]["4"]["mse"]


def test_evaluate_writes_the_first_test_window_per_horizon_for_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(forecasting, "encode", sliding_encode)
    dm = small_module(tmp_path)
    encoder = untrained_encoder(MODEL, 8, seed=11)
    assert not (tmp_path / "forecast.npz").exists()
    evaluate(config_for(dm), dm, encoder)
    assert not (tmp_path / "forecast.npz").exists()  # no output_dir: nothing written
    evaluate({**config_for(dm, controls=False), "output_dir": str(tmp_path)}, dm, encoder)
    fd = dm.forecast_data()
    raw = pd.read_csv(tmp_path / "load.csv").OT.to_numpy()
    t0 = fd.test.start  # the first test window: the H steps after the test part's first timestamp
    with np.load(tmp_path / "forecast.npz") as saved:
        assert saved["horizons"].tolist() == HORIZONS and int(saved["start"]) == t0 and str(saved["target"]) == "OT"
        np.testing.assert_allclose(saved["context"], raw[t0 - PADDING: t0 + 1], rtol=1e-5)  # what the encoder saw
        features = sliding_encode(encoder, fd.data, sliding_padding=PADDING)
        for h in HORIZONS:
            np.testing.assert_allclose(saved[f"true_{h}"], raw[t0 + 1: t0 + 1 + h], rtol=1e-5)
            ridge = fit_ridge(*pred_samples(*fd.part("train", features), h, PADDING),
                              *pred_samples(*fd.part("valid", features), h))
            pred = ridge.predict(features[0, t0: t0 + 1]) * fd.scale + fd.mean  # the original scale
            np.testing.assert_allclose(saved[f"pred_{h}"], pred[0], rtol=1e-4)
        assert saved["pred_4"].dtype == np.float32 and set(saved.files) == {
            "horizons", "start", "context", "target", "pred_4", "true_4", "pred_8", "true_8"}
    assert (tmp_path / "forecast.npz").stat().st_size < 4000


def test_check_refuses_what_would_fail(tmp_path):
    dm = small_module(tmp_path)
    data = dm.prepare()
    config = config_for(dm)
    assert check({**config, "task": "forecasting"}, data) == []  # the task's name alone: the defaults (padding 200)
    with pytest.raises(DataError, match="train part has 240 steps.*horizon 8 after the first task.padding=240.*at most 231"):
        check(config_for(dm, padding=240), data)
    with pytest.raises(ConfigError, match="task=forecasting needs a forecasting dataset.*not iars.data.SyntheticDataModule"):
        check({**config, "dataset": {"_target_": "iars.data.SyntheticDataModule"}}, data)
    with pytest.raises(ConfigError, match="task.pading is not a forecasting setting: use padding, controls, lags"):
        check(config_for(dm, pading=3), data)
    with pytest.raises(ConfigError, match="task.padding=-1"):
        check(config_for(dm, padding=-1), data)
    with pytest.raises(ConfigError, match="task.lags=22: give a window of 1 to task.padding . 1 = 21"):
        check(config_for(dm, lags=22), data)
    with pytest.raises(ConfigError, match="task.controls='yes'"):
        check(config_for(dm, controls="yes"), data)


@pytest.mark.skipif("sliding_padding" not in inspect.signature(encode).parameters,
                    reason="iars.evaluate.encode has no causal sliding encoding yet")
def test_the_real_encoding_is_the_written_out_one(tmp_path):
    fd = small_module(tmp_path).forecast_data()
    encoder = untrained_encoder(MODEL, 8, seed=5)
    got = encode(encoder, fd.data, pooling=None, causal=True, sliding_length=1, sliding_padding=PADDING)
    np.testing.assert_allclose(got, sliding_encode(encoder, fd.data, sliding_padding=PADDING), atol=1e-5)

"""Anomaly detection (iars.data.anomaly, iars.tasks.anomaly): TS2Vec's protocol against hand-computed
cases and against a re-implementation of its reference code, the series readers (aeon's, NAB's)
and the DataModule, the stage on a stand-in encoder, and the errors for bad input."""
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import REPO, compose_cfg
from iars.data import Split
from iars.data.anomaly import (
    NAB_PROBATION_CAP,
    AnomalyDataModule,
    AnomalySeries,
    nab_probation,
    read_aeon,
    read_nab,
    standardise,
)
from iars.errors import ConfigError, DataError
from iars.tasks import anomaly

NAB_DIR = REPO / ".." / "shared" / "data" / "NAB"


@pytest.fixture
def nab_dir():
    """NAB beside the repo (../shared/data/NAB); skips when absent."""
    if not (NAB_DIR / "labels" / "combined_windows.json").is_file():
        pytest.skip(f"NAB not found at {NAB_DIR.resolve()} (only present on the project's machines)")
    return NAB_DIR


# -- the oracle: TS2Vec's reference (github:yuezhihan/ts2vec, tasks/anomaly_detection.py, MIT) -------
# get_range_proba, np_shift and the post-processing of eval_anomaly_detection as written there;
# bottleneck's move_mean (not installed) written out as a loop with its semantics (min_count = window).


def ref_get_range_proba(predict, label, delay=7):
    splits = np.where(label[1:] != label[:-1])[0] + 1
    is_anomaly = label[0] == 1
    new_predict = np.array(predict)
    pos = 0
    for sp in splits:
        if is_anomaly:
            if 1 in predict[pos:min(pos + delay + 1, sp)]:
                new_predict[pos: sp] = 1
            else:
                new_predict[pos: sp] = 0
        is_anomaly = not is_anomaly
        pos = sp
    sp = len(label)
    if is_anomaly:  # anomaly in the end
        if 1 in predict[pos: min(pos + delay + 1, sp)]:
            new_predict[pos: sp] = 1
        else:
            new_predict[pos: sp] = 0
    return new_predict


def ref_move_mean(a, window):
    """bottleneck.move_mean(a, window): the mean of a[i − window + 1 : i + 1], NaN unless all
    ``window`` values are there and not NaN."""
    out = np.full(len(a), np.nan)
    for i in range(window - 1, len(a)):
        values = a[i - window + 1: i + 1]
        if not np.isnan(values).any():
            out[i] = values.sum() / window
    return out


def ref_np_shift(arr, num, fill_value=np.nan):
    result = np.empty_like(arr)
    if num > 0:
        result[:num] = fill_value
        result[num:] = arr[:-num]
    elif num < 0:
        result[num:] = fill_value
        result[:num] = arr[-num:]
    else:
        result[:] = arr
    return result


def ref_post_process(train_err, test_err, delay):
    ma = ref_np_shift(ref_move_mean(np.concatenate([train_err, test_err]), 21), 1)
    train_err_adj = (train_err - ma[:len(train_err)]) / ma[:len(train_err)]
    test_err_adj = (test_err - ma[len(train_err):]) / ma[len(train_err):]
    train_err_adj = train_err_adj[22:]
    thr = np.mean(train_err_adj) + 4 * np.std(train_err_adj)
    test_res = (test_err_adj > thr) * 1
    return test_err_adj, thr, ref_suppress(test_res, delay)


def ref_suppress(test_res, delay):
    test_res = np.array(test_res)
    for i in range(len(test_res)):
        if i >= delay and test_res[i-delay:i].sum() >= 1:
            test_res[i] = 0
    return test_res


# -- point adjustment and the pooled F1, by hand --------------------------------------------------


@pytest.mark.parametrize("pred, label, delay, adjusted", [
    ([0, 0, 0, 1, 0, 0], [0, 1, 1, 1, 1, 0], 2, [0, 1, 1, 1, 1, 0]),  # found at step 2 of the segment
    ([0, 0, 0, 1, 0, 0], [0, 1, 1, 1, 1, 0], 1, [0, 0, 0, 0, 0, 0]),  # too late for delay 1: dropped
    ([0, 0, 0, 1], [0, 0, 1, 1], 1, [0, 0, 1, 1]),                    # a segment at the series' end
    ([0, 0, 0, 1], [0, 0, 1, 1], 0, [0, 0, 0, 0]),
    ([0, 1, 1], [1, 1, 0], 0, [0, 0, 1]),                             # at its start; the false alarm stays
    ([1, 0, 1, 0, 1], [0, 0, 0, 0, 0], 7, [1, 0, 1, 0, 1]),           # no segment: nothing changes
])
def test_point_adjustment_by_hand(pred, label, delay, adjusted):
    out = anomaly.adjust_predictions(np.array(pred), np.array(label), delay)
    assert out.tolist() == adjusted == ref_get_range_proba(np.array(pred), np.array(label), delay).tolist()


def test_point_adjustment_equals_the_reference_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 60))
        label = (rng.random(n) < rng.uniform(0.05, 0.6)).astype(int)
        pred = (rng.random(n) < rng.uniform(0.0, 0.4)).astype(int)
        delay = int(rng.integers(0, 8))
        assert np.array_equal(anomaly.adjust_predictions(pred, label, delay), ref_get_range_proba(pred, label, delay))


def test_adjusted_f1_pools_the_series():
    # A: segment 1..3 found at step 2 (delay 1): TP 3, and one false alarm at 5.
    # B: segment 3..4 missed: FN 2, and one false alarm at 0. Pooled: TP 3, FP 2, FN 2.
    preds = [np.array([0, 0, 1, 0, 0, 1]), np.array([1, 0, 0, 0, 0])]
    labels = [np.array([0, 1, 1, 1, 0, 0]), np.array([0, 0, 0, 1, 1])]
    assert anomaly.adjusted_f1(preds, labels, delay=1) == pytest.approx({"f1": 0.6, "precision": 0.6, "recall": 0.6})
    # point-wise, nothing adjusted: TP 1, FP 2, FN 4
    assert anomaly.point_f1(preds, labels) == pytest.approx({"f1": 0.25, "precision": 1 / 3, "recall": 0.2})
    with pytest.raises(DataError, match="series 1: predictions"):
        anomaly.adjusted_f1(preds, [labels[0], labels[1][:3]])


def test_reconstruct_label_fills_missing_steps_with_0():
    assert anomaly.reconstruct_label([0, 60, 180], [1, 0, 1]).tolist() == [1, 0, 0, 1]
    assert anomaly.reconstruct_label([180, 0, 60], [1, 1, 0]).tolist() == [1, 0, 0, 1]  # sorted first
    preds, labels = [np.array([0, 1, 0])], [np.array([1, 1, 0])]
    # a gap splits the segment: step 0 alone (missed at delay 0), step 2 found
    assert anomaly.adjusted_f1(preds, labels, 0, timestamps_list=[[0, 2, 3]]) == pytest.approx(
        {"f1": 2 / 3, "precision": 1.0, "recall": 0.5})
    with pytest.raises(DataError, match="timestamps repeat"):
        anomaly.reconstruct_label([0, 0, 60], [0, 1, 0])


# -- the scores, threshold and predictions against the reference --------------------------------------


def test_adjustment_threshold_and_predictions_equal_the_reference():
    rng = np.random.default_rng(1)
    for delay in (0, 3, 7):
        err = rng.lognormal(0, 0.3, 900)
        err[rng.choice(np.arange(300, 900), 25, replace=False)] *= rng.uniform(3, 8, 25)  # spikes to detect
        train, test = err[:300], err[300:]
        ref_adj, ref_thr, ref_pred = ref_post_process(train, test, delay)
        adjusted, pred, thr = anomaly.protocol(err, 300, delay)
        np.testing.assert_allclose(adjusted, ref_adj, rtol=1e-12)
        assert thr == pytest.approx(ref_thr, rel=1e-12)
        assert np.array_equal(pred, ref_pred) and pred.sum() > 0


def test_the_baselines_raw_scores_take_the_same_threshold_rule():
    err = np.random.default_rng(6).lognormal(0, 0.3, 400)
    err[350] = 10
    scores, pred, thr = anomaly.protocol(err, 300, 3, adjust=False)
    assert thr == pytest.approx(err[22:300].mean() + 4 * err[22:300].std()) and np.array_equal(scores, err[300:])
    assert pred[50] == 1 and np.array_equal(pred, ref_suppress((err[300:] > thr) * 1, 3))


def test_the_moving_mean_equals_bottlenecks_shifted():
    x = np.random.default_rng(2).random(80)
    x[40] = np.nan
    ma = anomaly.previous_mean(x)
    np.testing.assert_allclose(ma, ref_np_shift(ref_move_mean(x, 21), 1), rtol=1e-12)
    assert np.isnan(ma[:21]).all() and np.isnan(ma[41:62]).all() and not np.isnan(ma[[21, 40, 62]]).any()


def test_suppression_keeps_the_first_of_close_positives():
    pred = np.array([1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1])
    assert anomaly.suppress(pred, 2).tolist() == [1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]  # i < delay is never dropped
    assert anomaly.suppress(pred, 0).tolist() == pred.tolist()
    rng = np.random.default_rng(5)
    for delay in range(8):
        pred = (rng.random(100) < 0.3).astype(int)
        assert np.array_equal(anomaly.suppress(pred, delay), ref_suppress(pred, delay))


def test_threshold_free_scores_reward_a_score_that_marks_the_anomaly():
    labels = np.zeros(500, dtype=int)
    labels[300:310] = 1
    good = labels + np.random.default_rng(3).random(500) * 0.1
    noise = np.random.default_rng(4).random(500)
    scored, chance = anomaly.threshold_free(labels, good), anomaly.threshold_free(labels, noise)
    assert scored["range_pr_auc"] > 0.7 > 0.3 > chance["range_pr_auc"] and scored["pr_auc"] == pytest.approx(1.0)
    good[:25] = np.nan  # the moving mean's start: scored as the lowest
    assert anomaly.threshold_free(labels, good, vus_pr_max_buffer=4)["vus_pr"] > 0.9


# -- the stage on a stand-in encoder ------------------------------------------------------------------


def _series(name="toy", length=600, train=200, at=(400,), channels=1, seed=0):
    """A sine with noise; at each index of ``at`` a 5-step anomaly (a jump of 4)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    values = np.sin(t / 8)[:, None] + 0.1 * rng.standard_normal((length, channels))
    labels = np.zeros(length, dtype=int)
    for a in at:
        values[a: a + 5] += 4
        labels[a: a + 5] = 1
    return AnomalySeries(name, values, labels, train)


def _fake_encode(calls):
    """A stand-in for iars.evaluate.encode's per-timestamp causal encoding: the representation of t
    is (x_t, x_t − x_{t−1}); masked (``mask_last``), x_t is replaced by x_{t−1}."""
    def encode(encoder, X, pooling, causal, sliding_length, sliding_padding, mask):
        calls.append(dict(pooling=pooling, causal=causal, sliding_length=sliding_length, padding=sliding_padding, mask=mask))
        x = X[0]
        prev = np.vstack([x[:1], x[:-1]])
        last = prev if mask == "mask_last" else x
        return np.concatenate([last, last - prev], axis=1)[None].astype(np.float32)
    return encode


def test_scores_are_the_l1_distance_of_the_unmasked_and_masked_representations(monkeypatch):
    calls = []
    monkeypatch.setattr(anomaly, "encode", _fake_encode(calls))
    values = np.array([[0.0], [1.0], [3.0], [2.0]])
    assert anomaly.representation_scores(None, values, padding=5).tolist() == [0, 2, 4, 2]  # 2·|x_t − x_{t−1}|
    assert [c["mask"] for c in calls] == ["all_true", "mask_last"]
    assert all(c == {**c, "pooling": None, "causal": True, "sliding_length": 1, "padding": 5} for c in calls)


def test_scores_of_a_real_encoder_are_causal():
    """iars.encoding.encode as the stage calls it: the score at t does not change with what follows t."""
    from iars.encoders import DilatedConvEncoder

    encoder = DilatedConvEncoder(in_channels=1, K=8, hidden=8, depth=2)
    series = _series(length=160, train=60, at=(120,))
    scores = anomaly.representation_scores(encoder, series.values, padding=20)
    assert scores.shape == (160,) and np.isfinite(scores).all() and scores.min() >= 0
    np.testing.assert_allclose(anomaly.representation_scores(encoder, series.values[:100], padding=20), scores[:100],
                               rtol=1e-5, atol=1e-6)


def test_detect_finds_the_anomalies_and_records_per_series_and_pooled(monkeypatch):
    monkeypatch.setattr(anomaly, "encode", _fake_encode([]))
    series = [_series("a", at=(400,)), _series("b", at=(300, 500), seed=1), _series("quiet", at=(), seed=2)]
    result = anomaly.detect(None, series, padding=50, delay=3)
    assert set(result) == {"anomaly", "per_series", "encode_time_s"}
    pooled, per = result["anomaly"], result["per_series"]
    assert list(per) == ["a", "b", "quiet"] and pooled["n_scored"] == 2
    assert pooled["recall"] == 1.0 and pooled["f1"] > 0.5
    assert pooled["range_pr_auc"] > 0.2  # chance: the anomalous fraction, ~0.02
    assert per["b"]["n_segments"] == 2 and per["b"]["n_anomalous"] == 10 and per["b"]["n_test"] == 400
    assert per["quiet"]["f1"] is None and per["quiet"]["range_pr_auc"] is None and per["quiet"]["n_anomalous"] == 0
    assert set(pooled) == {"f1", "precision", "recall", "point_f1", "point_precision", "point_recall",
                           "range_pr_auc", "pr_auc", "n_scored"}


def test_evaluate_records_the_encoder_and_the_baseline_alike(monkeypatch):
    monkeypatch.setattr(anomaly, "encode", _fake_encode([]))
    datamodule = AnomalyDataModule.__new__(AnomalyDataModule)  # a stand-in holding two series
    datamodule.anomaly_series = lambda: [_series("a", at=(400,)), _series("b", at=(450,), seed=1)]
    config = {"task": {"name": "anomaly", "padding": 50, "delay": 5}, "seed": 0}
    record = anomaly.evaluate(config, datamodule, None)
    assert {"n_series", "padding", "delay", "anomaly", "per_series", "encode_time_s", "baseline"} <= set(record)
    assert record["n_series"] == 2 and record["delay"] == 5
    base = record["baseline"]
    assert base["detector"].startswith("KMeansAD") and not base["adjusted"] and set(base["per_series"]) == {"a", "b"}
    assert set(record["anomaly"]) <= set(base) and base["range_pr_auc"] > 0.5  # chance: ~0.02
    json.dumps(record)  # the record is JSON as it is
    line = anomaly.summary(record)
    assert line.startswith("anomaly F1 ") and "KMeansAD F1" in line and line.endswith("(2 series)")
    assert "baseline" not in anomaly.evaluate({"task": {"baseline": None}}, datamodule, None)


def test_evaluate_writes_each_series_test_scores_for_the_report(monkeypatch, tmp_path):
    monkeypatch.setattr(anomaly, "encode", _fake_encode([]))
    series = [_series("a", at=(400,)), _series("quiet", at=(), seed=2)]
    datamodule = AnomalyDataModule.__new__(AnomalyDataModule)
    datamodule.anomaly_series = lambda: series
    config = {"task": {"name": "anomaly", "padding": 50, "delay": 5, "baseline": None}, "seed": 0}
    anomaly.evaluate(config, datamodule, None)
    assert not (tmp_path / "anomaly_scores.npz").exists()  # no output_dir: nothing written
    record = anomaly.evaluate({**config, "output_dir": str(tmp_path)}, datamodule, None)
    with np.load(tmp_path / "anomaly_scores.npz") as saved:
        assert saved["names"].tolist() == ["a", "quiet"] and int(saved["delay"]) == 5
        for i, s in enumerate(series):
            raw = anomaly.representation_scores(None, s.values, 50)
            adjusted, pred, thr = anomaly.protocol(raw, s.train_length, delay=5)
            np.testing.assert_allclose(saved[f"scores_{i}"], adjusted, rtol=1e-6)
            assert saved["thresholds"][i] == pytest.approx(thr) == record["per_series"][s.name]["threshold"]
            assert saved[f"labels_{i}"].tolist() == s.test_labels.tolist() and saved[f"labels_{i}"].dtype == np.int8
            assert saved[f"predictions_{i}"].tolist() == pred.tolist()
            assert int(saved[f"predictions_{i}"].sum()) == record["per_series"][s.name]["n_predicted"]
    assert (tmp_path / "anomaly_scores.npz").stat().st_size < 6 * 2 * 400 + 2000  # ~6 bytes per test step at most


def test_summary_says_na_without_anomalies():
    record = {"delay": 7, "n_series": 1, "anomaly": dict.fromkeys(["f1", "point_f1", "range_pr_auc"])}
    assert anomaly.summary(record) == "anomaly F1 n/a (delay 7; point-wise n/a), range PR-AUC n/a (1 series)"


def test_check_refuses_what_the_protocol_cannot_score_and_warns_about_the_rest():
    config = {"task": "anomaly"}
    with pytest.raises(ConfigError, match="dataset=anomaly_aeon"):
        anomaly.check(config, Split(np.zeros((2, 5, 1), np.float32)))
    split = SimpleNamespace(series=[_series("short", train=20)])  # what AnomalySplit carries
    with pytest.raises(DataError, match="series short: the threshold uses"):
        anomaly.check(config, split)
    split.series = [_series("a"), _series("quiet", at=())]
    assert anomaly.check(config, split) == [
        "1 series have no labelled anomaly in their test part (quiet): they add only false alarms to the pooled F1, "
        "and have no F1 or PR-AUC of their own"]
    split.series = [_series("quiet", at=())]
    assert "undefined" in anomaly.check(config, split)[0]


@pytest.mark.parametrize("task, message", [
    ({"delay": -1}, "task.delay=-1"),
    ({"padding": 2.5}, "task.padding=2.5"),
    ({"baseline": "iforest"}, "task.baseline='iforest': choose kmeans"),
    ({"vus_pr_max_buffer": True}, "task.vus_pr_max_buffer=True"),
    ({"windows": 3}, r"unknown keys \['windows'\]"),
])
def test_bad_task_settings_are_named(task, message):
    with pytest.raises(ConfigError, match=message):
        anomaly.settings({"task": {"name": "anomaly", **task}})


# -- the series: aeon's, NAB, the DataModule -----------------------------------------------------------


def test_aeons_series_load_with_their_labels_and_training_parts():
    kdd, daphnet = read_aeon(["KDD-TSAD_135", "Daphnet_S06R02E0"])
    assert kdd.values.shape == (7501, 1) and kdd.train_length == 1200 and kdd.labels.sum() == 12
    assert kdd.labels[:1200].sum() == 0 and kdd.values.dtype == np.float32
    assert daphnet.values.shape == (7040, 9) and daphnet.labels.sum() == 0 and daphnet.train_length == 750
    assert [s.name for s in read_aeon()] == ["KDD-TSAD_135"]


def test_the_datamodule_pretrains_on_the_training_parts_scaled_as_the_whole_series():
    dm = AnomalyDataModule()
    assert dm.name == "KDD-TSAD_135" and dm.pretrain_X.shape == (1, 1200, 1)
    (series,) = dm.anomaly_series()
    np.testing.assert_array_equal(series.values[:1200], dm.pretrain_X[0])
    train = series.values[:1200]
    assert abs(train.mean()) < 1e-5 and abs(train.std() - 1) < 1e-5  # TS2Vec: z-normalised by its training part
    raw = read_aeon()[0].values
    np.testing.assert_allclose(series.values, (raw - raw[:1200].mean()) / raw[:1200].std(), atol=1e-4)
    assert dm.prepare().n_channels == 1 and dm.prepare().y_train is None


def test_standardise_keeps_a_constant_channel_at_scale_1():
    values = np.stack([np.full(100, 5.0), np.arange(100.0)], axis=1)
    out = standardise(AnomalySeries("c", values, np.zeros(100, int), 50)).values
    assert np.all(out[:, 0] == 0) and out[:50, 1].mean() == pytest.approx(0, abs=1e-6)


def test_the_dataset_configs_match_the_datamodule():
    for name, source in (("anomaly_aeon", "aeon"), ("nab", "nab")):
        cfg = compose_cfg("/tmp", f"dataset={name}").dataset
        assert cfg._target_ == "iars.data.AnomalyDataModule" and cfg.source == source
        kwargs = {k: v for k, v in cfg.items() if k not in ("_target_", "seed")}
        AnomalyDataModule(**kwargs, seed=0)  # every key is a constructor argument


def test_nab_reads_a_subset_by_name_with_windows_or_points(nab_dir):
    taxi, temp = read_nab(nab_dir, ["nyc_taxi", "realKnownCause/ambient_temperature_system_failure.csv"])
    assert taxi.name == "nyc_taxi" and taxi.values.shape == (10320, 1) and taxi.train_length == NAB_PROBATION_CAP
    assert len(anomaly.segments(taxi.labels)[0]) == 5 and 0.09 < taxi.labels.mean() < 0.11  # NAB's windows: 10%
    assert temp.train_length == 750 and temp.values.shape == (7267, 1)
    (points,) = read_nab(nab_dir, ["realKnownCause/nyc_taxi"], labels="points")
    assert points.labels.sum() == 5 and np.all(points.labels <= taxi.labels)  # each timestamp inside its window


def test_all_of_nab_loads_and_no_window_falls_in_a_training_part(nab_dir):
    series = read_nab(nab_dir)
    assert len(series) == 58 and all(s.values.shape[1] == 1 for s in series)
    assert all(s.train_length == min(math.floor(0.15 * len(s.values)), 750) == nab_probation(len(s.values))
               for s in series)
    assert not any(s.labels[: s.train_length].any() for s in series)
    assert sum(not s.labels.any() for s in series) == 6  # artificialNoAnomaly's 5 and one AWS series
    dm = AnomalyDataModule("nab", nab_dir, series=["speed_7578", "nyc_taxi"])
    assert dm.name == "NAB" and dm.pretrain_X.shape == (2, 750, 1)
    assert [s.name for s in dm.anomaly_series()] == ["speed_7578", "nyc_taxi"]


# -- errors for bad input ------------------------------------------------------------------------------


def test_an_unknown_series_is_named_with_a_close_match(nab_dir):
    with pytest.raises(DataError, match=r"unknown series 'nyc_taxy' \(did you mean 'nyc_taxi'\?\) in NAB"):
        read_nab(nab_dir, ["nyc_taxy"])


def test_nab_without_its_files_says_what_to_fix(tmp_path):
    with pytest.raises(DataError, match="dataset.data_dir=../shared/data/NAB"):
        read_nab(None)
    with pytest.raises(DataError, match="has no data/ folder"):
        read_nab(tmp_path)
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match="labels file .*combined_windows.json not found"):
        read_nab(tmp_path)
    with pytest.raises(DataError, match="dataset.labels='ranges': choose one of windows, points"):
        read_nab(tmp_path, labels="ranges")


def test_bad_series_and_sources_are_refused():
    with pytest.raises(DataError, match="unknown series 'KDD' in aeon's anomaly series; choose from KDD-TSAD_135"):
        AnomalyDataModule(series=["KDD"]).prepare()
    with pytest.raises(DataError, match=r"unknown series 'KDD-TSAD_136' \(did you mean 'KDD-TSAD_135'\?\) in aeon's"):
        read_aeon(["KDD-TSAD_136"])
    with pytest.raises(DataError, match="different channel counts"):
        AnomalyDataModule(series=["KDD-TSAD_135", "Daphnet_S06R02E0"]).prepare()
    with pytest.raises(DataError, match="dataset.source='yahoo'"):
        AnomalyDataModule("yahoo")
    with pytest.raises(DataError, match="labels must be 0"):
        AnomalySeries("x", np.zeros(10), np.full(10, 2), 5)
    with pytest.raises(DataError, match="train_length 10 must leave"):
        AnomalySeries("x", np.zeros(10), np.zeros(10, int), 10)

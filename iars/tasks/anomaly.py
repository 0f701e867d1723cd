"""Anomaly detection, TS2Vec's protocol (``tasks/anomaly_detection.py`` of github:yuezhihan/ts2vec).

Per series (train + test parts together): each timestamp's representation from the window of
``padding`` steps before it, causally, once unmasked and once with that timestamp masked; its
score is the L1 norm of the difference. The adjusted score (score − MA) / MA, MA the mean of
the 21 scores before, is thresholded at mean + 4·std of the training part's adjusted scores
(after its first 22); a positive within ``delay`` steps after another is dropped. Evaluation
point-adjusts (a labelled segment counts as found when a positive falls in its first
``delay`` + 1 steps) and pools F1/precision/recall over all series' test parts.

Point adjustment inflates F1 (Kim et al., AAAI 2022), so beside it: the point-wise F1 of the
same predictions, and threshold-free scores of the adjusted scores (aeon's range PR-AUC of
Paparrizos et al., VLDB 2022; the plain PR-AUC; VUS-PR on request); and a baseline detector
(aeon's KMeansAD) whose own scores go through the same threshold rule, suppression and metrics.

With ``config["output_dir"]`` set, the stage also writes ``anomaly_scores.npz`` there
(:func:`write_scores`, :data:`iars.runs.ANOMALY_SCORES_FILE`), what the report plots: the
series' ``names``, their ``thresholds``, the ``delay``, and for the i-th series its test part's
adjusted scores ``scores_<i>`` (float32), labels ``labels_<i>`` and predictions
``predictions_<i>`` (int8, after suppression): about 6 bytes per test step.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, precision_score, recall_score
from threadpoolctl import threadpool_limits
from torch import nn

from iars.data.anomaly import AnomalySeries
from iars.encoding import encode
from iars.errors import ConfigError, DataError
from iars.runs import ANOMALY_SCORES_FILE

PADDING = 200
"""Steps before each timestamp its representation sees (TS2Vec's ``sliding_padding``)."""
DELAY = 7
"""Steps after a segment's start within which a detection counts (TS2Vec: 7 for KPI, 3 for Yahoo)."""
MA_WINDOW = 21
"""The adjusted score divides by the mean of this many scores before."""
SKIP = 22
"""The threshold ignores the first adjusted scores of the training part (no moving mean yet)."""
SIGMAS = 4
"""Threshold = mean + SIGMAS · std of the training part's adjusted scores."""
BASELINES = ("kmeans",)
"""Baseline detectors: ``kmeans`` = aeon's KMeansAD (windows of 20 steps, 20 clusters, fitted on
the training part); semi-supervised like the protocol, multivariate, seconds per series on CPU."""
SETTINGS = {"name": "anomaly", "padding": PADDING, "delay": DELAY, "baseline": "kmeans", "vus_pr_max_buffer": None}
"""``config["task"]``'s keys and defaults (``task: anomaly`` alone takes them all)."""


# -- TS2Vec's evaluation: point adjustment and pooled F1 ------------------------------------


def segments(label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the runs of 1 in ``label`` (T 0/1)."""
    edges = np.diff(np.concatenate([[0], np.asarray(label) == 1, [0]]).astype(np.int8))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def adjust_predictions(predict, label, delay: int = DELAY) -> np.ndarray:
    """TS2Vec's point adjustment (``get_range_proba``): within each labelled anomaly segment,
    all 1 when a positive falls in its first ``delay`` + 1 steps, else all 0; outside the
    segments the predictions stay. predict, label: T 0/1 -> T."""
    predict, out = np.asarray(predict), np.array(predict)
    for start, end in zip(*segments(label)):
        out[start:end] = 1 if (predict[start: min(start + delay + 1, end)] == 1).any() else 0
    return out


def reconstruct_label(timestamp, label) -> np.ndarray:
    """TS2Vec's ``reconstruct_label``: ``label`` (T) placed on the regular grid of the smallest
    interval between the sorted ``timestamp`` (T ints), 0 at the missing steps."""
    timestamp = np.asarray(timestamp, np.int64)
    order = np.argsort(timestamp)
    stamps = timestamp[order]
    interval = np.min(np.diff(stamps)) if len(stamps) > 1 else 1
    if interval <= 0:
        raise DataError("timestamps repeat: reconstruct_label needs distinct timestamps (evaluate on the steps instead)")
    out = np.zeros((stamps[-1] - stamps[0]) // interval + 1, dtype=np.int64)
    out[(stamps - stamps[0]) // interval] = np.asarray(label, np.int64)[order]
    return out


def _scores(labels: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"f1": float(f1_score(labels, pred, zero_division=0)),
            "precision": float(precision_score(labels, pred, zero_division=0)),
            "recall": float(recall_score(labels, pred, zero_division=0))}


def _pairs(pred_list, label_list):
    for i, (pred, label) in enumerate(zip(pred_list, label_list, strict=True)):
        pred, label = np.asarray(pred), np.asarray(label)
        if pred.shape != label.shape or pred.ndim != 1:
            raise DataError(f"series {i}: predictions {pred.shape} and labels {label.shape} must be two arrays of length T")
        yield pred, label


def adjusted_f1(pred_list: Sequence, label_list: Sequence, delay: int = DELAY, timestamps_list=None) -> dict[str, float]:
    """TS2Vec's ``eval_ad_result``: F1, precision and recall of the point-adjusted predictions
    (:func:`adjust_predictions`) over all series pooled. Each pair is T_i 0/1; with
    ``timestamps_list`` both are first put on their timestamps' grid (:func:`reconstruct_label`)."""
    labels, preds = [], []
    for i, (pred, label) in enumerate(_pairs(pred_list, label_list)):
        if timestamps_list is not None:
            label, pred = reconstruct_label(timestamps_list[i], label), reconstruct_label(timestamps_list[i], pred)
        labels.append(label)
        preds.append(adjust_predictions(pred, label, delay))
    return _scores(np.concatenate(labels), np.concatenate(preds))


def point_f1(pred_list: Sequence, label_list: Sequence) -> dict[str, float]:
    """F1, precision and recall of the predictions as they are (no point adjustment), pooled."""
    pairs = list(_pairs(pred_list, label_list))
    return _scores(np.concatenate([label for _, label in pairs]), np.concatenate([pred for pred, _ in pairs]))


# -- TS2Vec's scores, threshold and predictions ----------------------------------------------


def previous_mean(scores, window: int = MA_WINDOW) -> np.ndarray:
    """MA_t = mean of ``scores[t − window : t]``, NaN while fewer than ``window`` (or any NaN among
    them): TS2Vec's ``np_shift(bn.move_mean(scores, window), 1)``. scores: T -> T float64."""
    return pd.Series(np.asarray(scores, dtype=np.float64)).rolling(window, min_periods=window).mean().shift(1).to_numpy()


def adjusted_scores(scores) -> np.ndarray:
    """(score − MA) / MA, MA = :func:`previous_mean`: T -> T (NaN for the first 21 steps)."""
    scores = np.asarray(scores, dtype=np.float64)
    ma = previous_mean(scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (scores - ma) / ma


def threshold(adjusted_train) -> float:
    """mean + 4·std of the training part's adjusted scores after its first 22 (NaN propagates,
    as in TS2Vec: then nothing is predicted)."""
    kept = np.asarray(adjusted_train, dtype=np.float64)[SKIP:]
    return float(np.mean(kept) + SIGMAS * np.std(kept))


def suppress(predictions, delay: int = DELAY) -> np.ndarray:
    """TS2Vec's rule, in time order: a positive at step i ≥ ``delay`` becomes 0 when a positive
    remains in the ``delay`` steps before it. T 0/1 -> a new T array."""
    out = np.array(predictions)
    for i in np.flatnonzero(out):
        if i >= delay and out[i - delay: i].sum() >= 1:
            out[i] = 0
    return out


def protocol(scores, train_length: int, delay: int = DELAY, adjust: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """One series' raw scores (T, train part first) -> the test part's adjusted scores and
    predictions (T − train_length each) and the threshold; ``adjust=False`` thresholds the raw
    scores by the same rule."""
    adjusted = adjusted_scores(scores) if adjust else np.asarray(scores, dtype=np.float64)
    thr = threshold(adjusted[:train_length])
    test = adjusted[train_length:]
    return test, suppress((test > thr).astype(np.int64), delay), thr


# -- threshold-free scores ------------------------------------------------------------------


def _finite(scores: np.ndarray) -> np.ndarray:
    """NaN and −inf as the lowest finite score, +inf as the highest (aeon's metrics need finite)."""
    finite = scores[np.isfinite(scores)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    return np.nan_to_num(scores.astype(np.float64), nan=low, posinf=high, neginf=low)


def threshold_free(labels: np.ndarray, scores: np.ndarray, vus_pr_max_buffer: int | None = None) -> dict[str, float]:
    """aeon's range PR-AUC (buffer = the median anomaly length), point-wise PR-AUC and, with
    ``vus_pr_max_buffer``, VUS-PR (slow: ~8 s for 6000 steps at aeon's default 500) of one
    series' scores (T) against its labels (T 0/1, with at least one anomaly)."""
    from aeon.benchmarking.metrics.anomaly_detection import pr_auc_score, range_pr_auc_score, range_pr_vus_score

    scores = _finite(np.asarray(scores))
    out = {"range_pr_auc": float(range_pr_auc_score(labels, scores)), "pr_auc": float(pr_auc_score(labels, scores))}
    if vus_pr_max_buffer is not None:
        out["vus_pr"] = float(range_pr_vus_score(labels, scores, max_buffer_size=vus_pr_max_buffer))
    return out


# -- scoring series: per series and pooled -----------------------------------------------------


def _f1_scores(preds: list, labels: list, delay: int) -> dict[str, float | None]:
    """Point-adjusted and point-wise F1/precision/recall, pooled; None without a labelled anomaly."""
    if not any(label.any() for label in labels):
        return dict.fromkeys(["f1", "precision", "recall", "point_f1", "point_precision", "point_recall"])
    point = point_f1(preds, labels)
    return {**adjusted_f1(preds, labels, delay), **{f"point_{k}": v for k, v in point.items()}}


def evaluate_scores(series: Sequence[AnomalySeries], scores: Sequence, delay: int = DELAY,
                    vus_pr_max_buffer: int | None = None, adjust: bool = True,
                    arrays: dict | None = None) -> tuple[dict, dict]:
    """Each series' raw scores (T_i, train part first) through :func:`protocol`; returns the pooled
    scores (point-adjusted and point-wise F1/precision/recall over all test parts; the mean
    threshold-free scores of the ``n_scored`` series with a labelled anomaly in their test part)
    and the per-series ones. A score without a labelled anomaly to find is None. An ``arrays``
    dict receives, per series name, its test part's ``(adjusted scores, threshold, labels,
    predictions)``."""
    keys = ["range_pr_auc", "pr_auc"] + (["vus_pr"] if vus_pr_max_buffer is not None else [])
    per_series, preds, labels, free = {}, [], [], []
    for s, raw in zip(series, scores, strict=True):
        adjusted, pred, thr = protocol(raw, s.train_length, delay, adjust)
        label = s.test_labels
        scored = threshold_free(label, adjusted, vus_pr_max_buffer) if label.any() else dict.fromkeys(keys)
        per_series[s.name] = {
            **_f1_scores([pred], [label], delay), **scored, "threshold": thr if np.isfinite(thr) else None,
            "n_test": len(label), "n_anomalous": int(label.sum()), "n_segments": len(segments(label)[0]),
            "n_predicted": int(pred.sum()),
        }
        free += [scored] if label.any() else []
        if arrays is not None:
            arrays[s.name] = (adjusted, thr, label, pred)
        preds.append(pred)
        labels.append(label)
    pooled = {**_f1_scores(preds, labels, delay),
              **{k: float(np.mean([f[k] for f in free])) if free else None for k in keys}, "n_scored": len(free)}
    return pooled, per_series


# -- the stage: the encoder's scores, the baseline's ---------------------------------------------


def representation_scores(encoder: nn.Module, values: np.ndarray, padding: int = PADDING) -> np.ndarray:
    """Score_t = ‖r_t − r̃_t‖₁: r_t the representation of timestamp t from the window
    [t − padding, t], r̃_t the same with t masked (``mask_last``). values: T×C -> T."""
    options = dict(pooling=None, causal=True, sliding_length=1, sliding_padding=padding)
    X = np.asarray(values, dtype=np.float32)[None]
    unmasked = encode(encoder, X, mask="all_true", **options)[0]  # T×K
    masked = encode(encoder, X, mask="mask_last", **options)[0]
    return np.abs(unmasked - masked).sum(axis=1)


def detect(encoder: nn.Module, series: Sequence[AnomalySeries], padding: int = PADDING, delay: int = DELAY,
           vus_pr_max_buffer: int | None = None, arrays: dict | None = None) -> dict[str, Any]:
    """TS2Vec's anomaly detection with ``encoder`` on ``series`` (whole, scaled as pretraining saw
    them): ``{"anomaly": pooled, "per_series": {name: ...}, "encode_time_s"}`` (:func:`evaluate_scores`,
    which fills ``arrays``)."""
    start = time.perf_counter()
    scores = [representation_scores(encoder, s.values, padding) for s in series]
    seconds = time.perf_counter() - start
    pooled, per_series = evaluate_scores(series, scores, delay, vus_pr_max_buffer, arrays=arrays)
    return {"anomaly": pooled, "per_series": per_series, "encode_time_s": seconds}


def write_scores(run_dir: str | Path, arrays: Mapping[str, tuple], delay: int = DELAY) -> Path:
    """``anomaly_scores.npz`` in ``run_dir`` (see the module's docstring) from the ``arrays`` that
    :func:`evaluate_scores` filled."""
    out: dict[str, np.ndarray] = {"names": np.array(list(arrays)), "delay": np.int64(delay),
                                  "thresholds": np.array([thr for _, thr, _, _ in arrays.values()], dtype=np.float64)}
    for i, (scores, _, labels, predictions) in enumerate(arrays.values()):
        out[f"scores_{i}"] = np.asarray(scores, dtype=np.float32)
        out[f"labels_{i}"] = np.asarray(labels, dtype=np.int8)
        out[f"predictions_{i}"] = np.asarray(predictions, dtype=np.int8)
    path = Path(run_dir) / ANOMALY_SCORES_FILE
    np.savez_compressed(path, **out)
    return path


def kmeans_scores(series: AnomalySeries, seed: int = 0, window_size: int = 20, n_clusters: int = 20) -> np.ndarray:
    """aeon's KMeansAD fitted on the training part, scoring every step of the series (T). Its
    score of a step averages the windows holding it, later steps too: not causal."""
    from aeon.anomaly_detection.series.distance_based import KMeansAD

    values = series.values.astype(np.float64)
    values = values[:, 0] if values.shape[1] == 1 else values  # aeon takes one channel as a 1-D series
    detector = KMeansAD(n_clusters=n_clusters, window_size=window_size, random_state=seed)
    with threadpool_limits(1):  # k-means on a few hundred windows: one thread is ~5x faster than a pool
        detector.fit(values[: series.train_length], axis=0)
        return np.asarray(detector.predict(values, axis=0), dtype=np.float64)


def baseline(series: Sequence[AnomalySeries], delay: int = DELAY, seed: int = 0,
             vus_pr_max_buffer: int | None = None) -> dict[str, Any]:
    """The baseline detector's own scores through the same threshold rule (mean + 4·std of the
    training part's scores after its first 22), suppression and metrics as the encoder's, not
    MA-adjusted (the adjustment, part of TS2Vec's score, flattens KMeansAD's smooth scores: on
    KDD-TSAD_135 its range PR-AUC falls from 0.84 to 0.01):
    ``{"detector", "adjusted": False, pooled scores..., "per_series", "time_s"}``."""
    start = time.perf_counter()
    scores = [kmeans_scores(s, seed) for s in series]
    seconds = time.perf_counter() - start
    pooled, per_series = evaluate_scores(series, scores, delay, vus_pr_max_buffer, adjust=False)
    return {"detector": "KMeansAD(n_clusters=20, window_size=20)", "adjusted": False, **pooled,
            "per_series": per_series, "time_s": seconds}


# -- the task seam ------------------------------------------------------------------------------


def settings(config: Mapping) -> dict[str, Any]:
    """The task's settings: ``config["task"]`` (a mapping, or the name alone) over :data:`SETTINGS`."""
    given = config.get("task")
    given = dict(given) if isinstance(given, Mapping) else {}
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"task has unknown keys {unknown}; the anomaly task takes {', '.join(SETTINGS)}")
    out = {**SETTINGS, **given}
    for key in ("padding", "delay"):
        if isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < 0:
            raise ConfigError(f"task.{key}={out[key]!r}: give a whole number of steps, 0 or more")
    if out["baseline"] not in (None, *BASELINES):
        raise ConfigError(f"task.baseline={out['baseline']!r}: choose {', '.join(BASELINES)}, or null for none")
    vus = out["vus_pr_max_buffer"]
    if vus is not None and (isinstance(vus, bool) or not isinstance(vus, int) or vus < 0):
        raise ConfigError(f"task.vus_pr_max_buffer={vus!r}: give a whole number of steps (aeon's default 500), "
                          "or null to skip VUS-PR")
    return out


def _series(source) -> list[AnomalySeries]:
    series = getattr(source, "series", None) if not hasattr(source, "anomaly_series") else source.anomaly_series()
    if series is None:
        raise ConfigError("task=anomaly needs anomaly series: dataset=anomaly_aeon (aeon's, no files) or "
                          "dataset=nab dataset.data_dir=../shared/data/NAB")
    return series


def _named(series: Sequence[AnomalySeries]) -> str:
    names = [s.name for s in series]
    return ", ".join(names[:5]) + (f", ... ({len(names)} in all)" if len(names) > 5 else "")


def check(config: Mapping, data) -> list[str]:
    """Refuse, before pretraining, settings and series the protocol cannot score (a training part
    too short for the threshold); warn about series it scores only in part."""
    settings(config)
    series = _series(data)
    short = [s for s in series if s.train_length <= SKIP]
    if short:
        raise DataError(f"series {_named(short)}: the threshold uses the training part's adjusted scores after its "
                        f"first {SKIP} steps, and their training parts have {SKIP} or fewer; choose other series")
    notes = []
    quiet = [s for s in series if not s.test_labels.any()]
    if len(quiet) == len(series):
        notes.append("no series has a labelled anomaly in its test part: the anomaly scores are undefined (null)")
    elif quiet:
        notes.append(f"{len(quiet)} series have no labelled anomaly in their test part ({_named(quiet)}): they add "
                     "only false alarms to the pooled F1, and have no F1 or PR-AUC of their own")
    early = [s for s in series if s.labels[: s.train_length].any()]
    if early:
        notes.append(f"{len(early)} series have labelled anomalies in their training part ({_named(early)}), which "
                     "pretraining and the threshold take as normal")
    return notes


def evaluate(config: Mapping, datamodule, encoder: nn.Module) -> dict[str, Any]:
    """The anomaly stage on ``encoder`` and, unless ``task.baseline`` is null, the baseline
    detector; returns the record's anomaly fields. With ``output_dir``, also ``anomaly_scores.npz``
    there (:func:`write_scores`: the encoder's, not the baseline's)."""
    options = settings(config)
    series = _series(datamodule)
    vus = options["vus_pr_max_buffer"]
    arrays = {} if config.get("output_dir") else None
    out = {"n_series": len(series), "padding": options["padding"], "delay": options["delay"],
           **detect(encoder, series, options["padding"], options["delay"], vus, arrays)}
    if arrays is not None:
        write_scores(config["output_dir"], arrays, options["delay"])
    if options["baseline"]:
        with warnings.catch_warnings():  # k-means on a flat series finds fewer distinct clusters
            warnings.simplefilter("ignore", ConvergenceWarning)
            out["baseline"] = baseline(series, options["delay"], config.get("seed") or 0, vus)
    return out


def _f(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def results(record: Mapping[str, Any]) -> dict[str, float]:
    """The scores the run's logger gets: ``anomaly/<score>`` and ``baseline/<score>`` for the
    delay-adjusted and point-wise F1 and the range PR-AUC (those defined), and ``encode_time_s``."""
    out = {}
    for prefix, scores in (("anomaly", record.get("anomaly")), ("baseline", record.get("baseline"))):
        out.update({f"{prefix}/{k}": scores[k] for k in ("f1", "point_f1", "range_pr_auc")
                    if scores and scores.get(k) is not None})
    return {**out, "encode_time_s": record["encode_time_s"]}


def validation_score(record: Mapping[str, Any]) -> None:
    """None: the protocol's only labels are the test part's (the training part is assumed normal),
    so there is no score a sweeper could tune on without seeing the test labels."""
    return None


def summary(record: Mapping[str, Any]) -> str:
    """The anomaly part of a run's summary line."""
    a = record["anomaly"]
    line = (f"anomaly F1 {_f(a['f1'])} (delay {record['delay']}; point-wise {_f(a['point_f1'])}), "
            f"range PR-AUC {_f(a['range_pr_auc'])}")
    b = record.get("baseline")
    if b:
        line += f" | {b['detector'].split('(')[0]} F1 {_f(b['f1'])}, range PR-AUC {_f(b['range_pr_auc'])}"
    return line + f" ({record['n_series']} series)"

"""The downstream tasks' report: forecasting and anomaly-detection runs (``config.task.name``,
:mod:`iars.tasks`) as frames, their markdown tables, paired comparisons and figures.

Forecasting: per dataset × horizon, each variant's test MSE and MAE (on the scaled values, as
TS2Vec's tables) and the controls' (the same ridge on the untrained encoder and on the lagged
window: the same for every variant of a seed, so averaged over seeds only). Anomaly detection:
per series (and all series pooled), each variant's delay-adjusted F1, point-wise F1 and range
PR-AUC, and the baseline detector's (a control too). Every cell: mean ± std over seeds. Both
tasks: pretraining seconds per variant, and where two variants (:data:`~records.PAIRS`) share
seeds, the paired differences (first minus second, over dataset × seed pairs; a two-sided
Wilcoxon signed-rank p as :mod:`iars.reporting.study`) and the pretraining time saved
(1 − first/second, the mean over the pairs). Figures: a variant's forecast of the first test
window against the truth (from ``forecast.npz``) and its anomaly scores with their threshold
and the labelled anomalies shaded (from ``anomaly_scores.npz``), of one run per variant (the
largest K, then the smallest seed).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from iars.reporting.records import ANOMALY, FORECASTING, PAIRS, ordered_variants, variant_label
from iars.reporting.study import signed_rank_p
from iars.reporting.tables import Metric, bold_best, markdown_table, stats, to_markdown
from iars.runs import ANOMALY_SCORES_FILE, FORECAST_FILE

TASKS = (FORECASTING, ANOMALY)
"""The tasks this module reports (classification is the rest of :mod:`iars.reporting`)."""
TRAINED = "trained"
"""The ``source`` of a trained encoder's scores; the others are controls."""
CONTROLS = ("untrained", "lagged")
"""The forecasting controls, in the record's ``controls``."""
MSE, MAE = Metric("mse", 3, False), Metric("mae", 3, False)
ANOMALY_METRICS = {"f1": "delay-adjusted F1", "point_f1": "point-wise F1", "range_pr_auc": "range PR-AUC"}
ALL = "all"
"""The ``series`` of an anomaly run's pooled scores (F1 over all test parts; PR-AUC: their mean)."""
MAX_SERIES = 3
"""Series per dataset in the anomaly figure (those with a labelled anomaly first)."""


# -- frames ---------------------------------------------------------------------------------


def run_frame(runs: list[dict]) -> pd.DataFrame:
    """A row per run: dataset, variant, K, seed, pretrain_time_s, run_dir."""
    rows = [{"dataset": r["dataset"], "variant": variant_label(r), "K": r["K"], "seed": r["seed"],
             "pretrain_time_s": r["pretrain_time_s"], "run_dir": r.get("run_dir")} for r in runs]
    return pd.DataFrame(rows, columns=["dataset", "variant", "K", "seed", "pretrain_time_s", "run_dir"])


def forecast_frame(runs: list[dict]) -> pd.DataFrame:
    """A row per run × source (``trained``, then the controls the run has) × horizon: dataset,
    variant, K, seed, horizon, source, mse, mae (scaled), mse_raw, mae_raw (original scale)."""
    rows = []
    for r in runs:
        sources = {TRAINED: r["forecast"], **{name: c["forecast"] for name, c in (r.get("controls") or {}).items()}}
        for source, results in sources.items():
            for horizon, m in results.items():
                rows.append({"dataset": r["dataset"], "variant": variant_label(r), "K": r["K"], "seed": r["seed"],
                             "horizon": int(horizon), "source": source,
                             **{k: m.get(k) for k in ("mse", "mae", "mse_raw", "mae_raw")}})
    df = pd.DataFrame(rows, columns=["dataset", "variant", "K", "seed", "horizon", "source",
                                     "mse", "mae", "mse_raw", "mae_raw"])
    return df.astype({k: float for k in ("mse", "mae", "mse_raw", "mae_raw")})


def anomaly_frame(runs: list[dict]) -> pd.DataFrame:
    """A row per run × source (``trained``; the baseline detector by name, e.g. ``KMeansAD``) ×
    series (:data:`ALL` for the pooled scores, then each series): dataset, variant, K, seed,
    series, source and :data:`ANOMALY_METRICS` (NaN where a series has no labelled anomaly)."""
    rows = []
    for r in runs:
        sources = {TRAINED: (r["anomaly"], r.get("per_series") or {})}
        base = r.get("baseline")
        if base:
            sources[base.get("detector", "baseline").split("(")[0]] = (base, base.get("per_series") or {})
        for source, (pooled, per_series) in sources.items():
            for series, m in [(ALL, pooled), *per_series.items()]:
                rows.append({"dataset": r["dataset"], "variant": variant_label(r), "K": r["K"], "seed": r["seed"],
                             "series": series, "source": source, **{k: m.get(k) for k in ANOMALY_METRICS}})
    df = pd.DataFrame(rows, columns=["dataset", "variant", "K", "seed", "series", "source", *ANOMALY_METRICS])
    return df.astype({k: float for k in ANOMALY_METRICS})


# -- aggregation ----------------------------------------------------------------------------


def column_stats(df: pd.DataFrame, keys: list[str], value: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``keys`` × column: the mean and std over seeds of ``value``; a column per variant (the
    trained rows) and per control (the other sources: the same for every variant of a seed, so
    first averaged over the variants of each seed)."""
    trained, controls = df[df.source == TRAINED], df[df.source != TRAINED]
    parts = [stats(trained.rename(columns={"variant": "column"}), [*keys, "column"], value)]
    if len(controls):
        per_seed = controls.groupby([*keys, "source", "seed"])[value].mean().reset_index()
        parts.append(stats(per_seed.rename(columns={"source": "column"}), [*keys, "column"], value))
    table = pd.concat(parts)
    return table["mean"].unstack("column"), table["std"].unstack("column")


def _get(table: pd.DataFrame, row, column) -> float:
    return table.at[row, column] if row in table.index and column in table.columns else float("nan")


def _datasets(df: pd.DataFrame) -> list[str]:
    return sorted(set(df.dataset))


def _columns(df: pd.DataFrame, controls: list[str]) -> list[str]:
    """The variants (:func:`ordered_variants`), then the controls present."""
    present = set(df.source)
    return ordered_variants(df[df.source == TRAINED].variant) + [c for c in controls if c in present]


def _k_title(title: str, ks: list, k) -> str:
    return title + (f", K = {k}" if len(ks) > 1 else "")


# -- tables ---------------------------------------------------------------------------------


def forecast_tables(df: pd.DataFrame) -> str:
    """Per K (a block each when several), a row per dataset × horizon: each variant's and
    control's test MSE and MAE (scaled), lowest in bold per metric (the controls included)."""
    columns = _columns(df, list(CONTROLS))
    header = ["dataset", "H"] + [f"{c} {m}" for c in columns for m in ("MSE", "MAE")]
    ks = sorted(set(df.K.tolist()))
    blocks = []
    for k in ks:
        sub = df[df.K == k]
        (mse, mse_std), (mae, mae_std) = (column_stats(sub, ["dataset", "horizon"], m.key) for m in (MSE, MAE))
        rows = []
        for dataset in _datasets(sub):
            for h in sorted(set(sub[sub.dataset == dataset].horizon.tolist())):
                key = (dataset, h)
                cells = [bold_best([_get(means, key, c) for c in columns], [_get(std, key, c) for c in columns], m)[0]
                         for means, std, m in ((mse, mse_std, MSE), (mae, mae_std, MAE))]
                rows.append([dataset, str(h)] + [c for pair in zip(*cells) for c in pair])
        blocks.append(_k_title("### Forecasting: test MSE and MAE (scaled values)", ks, k) + "\n\n"
                      + markdown_table(header, rows))
    return "\n\n".join(blocks)


def _series_rows(df: pd.DataFrame) -> list[tuple[str, tuple[str, str]]]:
    """(row label, (dataset, series)) of the anomaly table: per dataset its pooled row, then its
    series when it has several (one series: its one row, labelled by the series)."""
    rows = []
    for dataset in _datasets(df):
        series = list(dict.fromkeys(s for s in df[df.dataset == dataset].series if s != ALL))
        if len(series) <= 1:
            name = series[0] if series else dataset
            rows.append((dataset if name == dataset else f"{dataset}: {name}", (dataset, ALL)))
        else:
            rows.append((f"{dataset}: all ({len(series)} series)", (dataset, ALL)))
            rows += [(f"{dataset}: {s}", (dataset, s)) for s in sorted(series)]
    return rows


def anomaly_tables(df: pd.DataFrame) -> str:
    """Per metric of :data:`ANOMALY_METRICS` (and per K when several), a row per series and the
    pooled one: each variant's and the baseline's score, highest in bold."""
    columns = _columns(df, sorted(set(df.source) - {TRAINED}))
    ks = sorted(set(df.K.tolist()))
    blocks = []
    for k in ks:
        sub = df[df.K == k]
        labels = _series_rows(sub)
        for metric, title in ANOMALY_METRICS.items():
            means, std = column_stats(sub, ["dataset", "series"], metric)
            rows = [[label] + bold_best([_get(means, key, c) for c in columns], [_get(std, key, c) for c in columns],
                                        Metric(metric, 3, True))[0] for label, key in labels]
            blocks.append(_k_title(f"### Anomaly detection: {title}", ks, k) + "\n\n"
                          + markdown_table(["series"] + columns, rows))
    return "\n\n".join(blocks)


def time_table(runs: pd.DataFrame) -> str:
    """Pretraining seconds per dataset (× K when several) and variant, fastest in bold."""
    variants = ordered_variants(runs.variant)
    several = runs.K.nunique() > 1
    table = stats(runs, ("dataset", "K", "variant"), "pretrain_time_s")
    means, std = table["mean"].unstack("variant"), table["std"].unstack("variant")
    rows = []
    for key in sorted(means.index):
        cells = bold_best([_get(means, key, v) for v in variants], [_get(std, key, v) for v in variants],
                          Metric("pretrain_time_s", 2, False))[0]
        rows.append([key[0]] + ([str(key[1])] if several else []) + cells)
    header = ["dataset"] + (["K"] if several else []) + [f"{v} time (s)" for v in variants]
    return "Pretraining seconds:\n\n" + markdown_table(header, rows)


# -- paired comparisons ---------------------------------------------------------------------


def paired(values: pd.DataFrame, what: str, higher: bool, digits: int = 3, pairs=PAIRS) -> list[dict]:
    """For each pair of :data:`~records.PAIRS` both in ``values`` (pairing keys × variants):
    the pairs with both, the mean difference (first minus second), how often the first is
    better / ties / worse (``higher``: higher is better) and the Wilcoxon signed-rank p."""
    rows = []
    for a, b in pairs:
        if a not in values or b not in values:
            continue
        diff = (values[a] - values[b]).dropna()
        if diff.empty:
            continue
        better, worse = (diff > 0, diff < 0) if higher else (diff < 0, diff > 0)
        rows.append({"order": PAIRS.index((a, b)), "pair": f"{a} vs {b}", "metric": what, "pairs": len(diff),
                     "datasets": diff.index.get_level_values("dataset").nunique(),
                     "mean diff": f"{diff.mean():+.{digits}f}",
                     "better/ties/worse": f"{better.sum()}/{(diff == 0).sum()}/{worse.sum()}",
                     "p": signed_rank_p(diff)})
    return rows


def time_savings(runs: pd.DataFrame, pairs=PAIRS) -> pd.DataFrame:
    """For each pair of variants that share dataset, K and seed: the mean seconds of each, the
    time saved by the first (1 − first/second, the mean over the pairs) and the Wilcoxon
    signed-rank p of the paired seconds."""
    seconds = runs.pivot_table(index=["dataset", "K", "seed"], columns="variant", values="pretrain_time_s",
                               aggfunc="mean")
    rows = []
    for a, b in pairs:
        if a not in seconds or b not in seconds:
            continue
        both = seconds[[a, b]].dropna()
        if both.empty:
            continue
        rows.append({"pair": f"{a} vs {b}", "pairs": len(both), "first (s)": both[a].mean(), "second (s)": both[b].mean(),
                     "saving 1 − first/second": (1 - both[a] / both[b]).mean(), "p": signed_rank_p(both[a] - both[b])})
    return pd.DataFrame(rows)


def _paired_section(rows: list[dict], savings: pd.DataFrame, what: str, better: str) -> list[str]:
    out = []
    if rows:
        by_series = any(r["metric"].endswith(" by series") for r in rows)
        out.append("Paired differences, first minus second, over the (dataset, K, seed) both ran"
                   + (" (by series: the (dataset, series, K, seed))" if by_series else "")
                   + f" ({what}; two-sided Wilcoxon signed-rank p; better: {better}):\n\n"
                   + to_markdown(pd.DataFrame(rows).drop(columns="order"), 3, index=False))
    if len(savings):
        out.append("Pretraining time saved, paired by dataset, K and seed (1 − first/second, the mean over the "
                   "pairs; p: Wilcoxon signed-rank of the paired seconds):\n\n" + to_markdown(savings, 3, index=False))
    return out


def forecasting_markdown(runs: list[dict]) -> str:
    """The forecasting section: MSE/MAE tables, pretraining seconds, paired MSE per horizon and time."""
    df, rf = forecast_frame(runs), run_frame(runs)
    trained = df[df.source == TRAINED]
    rows = []
    for h in sorted(set(trained.horizon.tolist())):
        values = trained[trained.horizon == h].pivot_table(index=["dataset", "K", "seed"], columns="variant",
                                                           values="mse", aggfunc="mean")
        rows += paired(values, f"MSE@{h}", higher=False)
    rows.sort(key=lambda r: r["order"])  # pair by pair (stable: each pair's metrics in turn)
    sections = [f"## Forecasting\n\n{len(runs)} runs. The controls: the same ridge on the untrained encoder "
                "(the trained one's initialisation) and on the raw lagged window.",
                forecast_tables(df), time_table(rf)]
    sections += _paired_section(rows, time_savings(rf), "MSE at each horizon", "lower")
    shown = plotted(rf, FORECAST_FILE)
    if shown:
        sections.append(f"Forecast of the first test window (forecast.png; original scale): {shown}.")
    return "\n\n".join(sections)


def anomaly_markdown(runs: list[dict]) -> str:
    """The anomaly section: F1, point-wise F1 and range PR-AUC tables, pretraining seconds,
    paired F1 and range PR-AUC (pooled per run; per series too where a run has several) and time."""
    df, rf = anomaly_frame(runs), run_frame(runs)
    trained = df[df.source == TRAINED]
    rows = []
    for metric in ("f1", "range_pr_auc"):
        pooled = trained[trained.series == ALL].pivot_table(index=["dataset", "K", "seed"], columns="variant",
                                                            values=metric, aggfunc="mean")
        rows += paired(pooled, ANOMALY_METRICS[metric], higher=True)
        each = trained[trained.series != ALL]
        if each.groupby(["dataset", "K", "seed", "variant"]).size().max() > 1:  # runs of several series
            by_series = each.pivot_table(index=["dataset", "series", "K", "seed"], columns="variant", values=metric,
                                         aggfunc="mean")
            rows += paired(by_series, f"{ANOMALY_METRICS[metric]} by series", higher=True)
    rows.sort(key=lambda r: r["order"])  # pair by pair (stable: each pair's metrics in turn)
    baselines = sorted(set(df.source) - {TRAINED})
    sections = [f"## Anomaly detection\n\n{len(runs)} runs. Pooled rows: F1 over all series' test parts, "
                "PR-AUC the mean over the series with a labelled anomaly"
                + (f"; the baseline: {', '.join(baselines)} (the same threshold rule and metrics)" if baselines else "")
                + ".", anomaly_tables(df), time_table(rf)]
    sections += _paired_section(rows, time_savings(rf), "F1 and range PR-AUC", "higher")
    shown = plotted(rf, ANOMALY_SCORES_FILE)
    if shown:
        sections.append(f"Anomaly scores of the test parts (anomaly_scores.png; symlog scale): {shown}.")
    return "\n\n".join(sections)


# -- figures --------------------------------------------------------------------------------


def picks(runs: pd.DataFrame, file: str) -> dict[tuple[str, str], tuple[Path, int, int]]:
    """(dataset, variant) -> (the saved ``file``, K, seed) of the run with the largest K, then the
    smallest seed, among those that saved it."""
    saved = runs[runs.run_dir.map(lambda d: d is not None and (Path(d) / file).is_file())]
    out = {}
    for run in saved.assign(minus_k=-saved.K).sort_values(["minus_k", "seed"], kind="stable").itertuples():
        out.setdefault((run.dataset, run.variant), (Path(run.run_dir) / file, run.K, run.seed))
    return out


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as saved:
        return {k: saved[k] for k in saved.files}


def forecast_figure(runs: pd.DataFrame) -> Figure | None:
    """Per dataset (a row) and horizon (a column): the first test window's truth, the context
    before it (its last max(2H, 24) steps) and each variant's forecast, on the original scale
    (None without ``forecast.npz``)."""
    chosen = picks(runs, FORECAST_FILE)
    if not chosen:
        return None
    datasets = sorted({d for d, _ in chosen})
    saved = {key: _load(path) for key, (path, _, _) in chosen.items()}
    variants = {d: ordered_variants(v for ds, v in chosen if ds == d) for d in datasets}
    horizons = {d: saved[(d, variants[d][0])]["horizons"].tolist() for d in datasets}
    cols = max(len(h) for h in horizons.values())
    fig = Figure(figsize=(3.6 * cols, 2.9 * len(datasets) + 0.5), layout="constrained")
    axes = np.array(fig.subplots(len(datasets), cols, squeeze=False))
    everyone = ordered_variants(v for _, v in chosen)
    for row, dataset in enumerate(datasets):
        first = saved[(dataset, variants[dataset][0])]
        for col in range(cols):
            ax = axes[row, col]
            if col >= len(horizons[dataset]):
                ax.set_axis_off()
                continue
            h = horizons[dataset][col]
            context = first["context"][-max(2 * h, 24):]
            ax.plot(np.arange(1 - len(context), 1), context, color="0.55", lw=1, label="context")
            ax.plot(np.arange(1, h + 1), first[f"true_{h}"], color="k", lw=1.3, label="truth")
            for variant in variants[dataset]:
                ax.plot(np.arange(1, h + 1), saved[(dataset, variant)][f"pred_{h}"], lw=1.1,
                        color=f"C{everyone.index(variant)}", label=variant)
            ax.axvline(0.5, color="0.8", lw=0.8, ls=":")
            ax.set_title(f"{dataset}, H = {h}", fontsize=9)
            ax.set(xlabel="steps after the test part's first step", ylabel=str(first["target"]) if col == 0 else None)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=len(labels), fontsize=8)
    return fig


def plotted(runs: pd.DataFrame, file: str) -> str:
    """Which run of each dataset and variant a figure from ``file`` shows, or "" when none saved it."""
    chosen = picks(runs, file)
    return "; ".join(f"{d} {v}: K = {k}, seed {s}" for (d, v), (_, k, s) in sorted(chosen.items()))


def anomaly_figure(runs: pd.DataFrame) -> Figure | None:
    """Per series (a row; per dataset at most :data:`MAX_SERIES`, those with a labelled anomaly
    first) and variant (a column): the test part's adjusted score (symlog scale), its threshold,
    the predicted anomalies and the labelled ones shaded (None without ``anomaly_scores.npz``)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from iars.tasks import anomaly  # the task's own segments of a label series (imported when plotting)

    chosen = picks(runs, ANOMALY_SCORES_FILE)
    if not chosen:
        return None
    saved = {key: _load(path) for key, (path, _, _) in chosen.items()}
    everyone = ordered_variants(v for _, v in chosen)
    panels = []  # (dataset, series, index in the file) per row
    for dataset in sorted({d for d, _ in chosen}):
        first = saved[(dataset, next(v for v in everyone if (dataset, v) in saved))]
        names = first["names"].tolist()
        flagged = sorted(range(len(names)), key=lambda i: (not first[f"labels_{i}"].any(), names[i]))
        panels += [(dataset, names[i], i) for i in flagged[:MAX_SERIES]]
    fig = Figure(figsize=(5.0 * len(everyone), 2.6 * len(panels) + 0.5), layout="constrained")
    axes = np.array(fig.subplots(len(panels), len(everyone), squeeze=False))
    for row, (dataset, series, _) in enumerate(panels):
        for col, variant in enumerate(everyone):
            ax = axes[row, col]
            data = saved.get((dataset, variant))
            names = data["names"].tolist() if data is not None else []
            if series not in names:
                ax.set_axis_off()
                continue
            i = names.index(series)
            scores = data[f"scores_{i}"].astype(np.float64)
            scores[~np.isfinite(scores)] = np.nan
            threshold = float(data["thresholds"][i])
            for start, end in zip(*anomaly.segments(data[f"labels_{i}"])):
                ax.axvspan(start - 0.5, end - 0.5, color="tab:red", alpha=0.3, lw=1.5, ec="tab:red")
            ax.plot(np.arange(len(scores)), scores, color=f"C{col}", lw=0.6)
            if np.isfinite(threshold):
                ax.axhline(threshold, color="k", ls="--", lw=1)
            hits = np.flatnonzero(data[f"predictions_{i}"])
            ax.plot(hits, np.nan_to_num(scores[hits], nan=threshold), "v", color="k", ms=5)
            ax.set_yscale("symlog", linthresh=1.0)
            _, k, seed = chosen[(dataset, variant)]
            ax.set_title(f"{series}: {variant} (K = {k}, seed {seed})", fontsize=9)
            ax.set(xlabel="test step", ylabel="adjusted score" if col == 0 else None)
    fig.legend([Line2D([], [], color="0.4", lw=1), Line2D([], [], color="k", ls="--"), Patch(color="tab:red", alpha=0.3),
                Line2D([], [], marker="v", color="k", ls="")], ["score", "threshold", "labelled anomaly", "predicted"],
               loc="outside upper center", ncol=4, fontsize=8)
    return fig


# -- the report's part ----------------------------------------------------------------------


def sections(runs: dict[str, list[dict]]) -> tuple[list[str], dict[str, Figure]]:
    """The markdown sections and the figures (name -> figure) of the task runs, ``runs`` by task."""
    out, figures = [], {}
    if runs.get(FORECASTING):
        out.append(forecasting_markdown(runs[FORECASTING]))
        figures["forecast"] = forecast_figure(run_frame(runs[FORECASTING]))
    if runs.get(ANOMALY):
        out.append(anomaly_markdown(runs[ANOMALY]))
        figures["anomaly_scores"] = anomaly_figure(run_frame(runs[ANOMALY]))
    return out, {name: fig for name, fig in figures.items() if fig is not None}


"""The report's figures: hier vs iars scatter (Fig. 5), the proposed variant vs each
competitor (Fig. 6), time curves, the resolution IARS selected per epoch, and a t-SNE of
test embeddings (Fig. 7). Drawn on ``matplotlib.figure.Figure`` (no pyplot, no global
backend); the selection study's figures are in :mod:`iars.reporting.study`.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from iars.reporting.records import ordered_datasets, ordered_variants
from iars.reporting.tables import ACC, SCALING_AXES, TIME, accuracies, grid, stats
from iars.runs import EMBEDDINGS_FILE


def _diagonal(ax, values, better: str) -> None:
    """y = x over the range of ``values``, and the side where the ordinate's method is
    better shaded (``above`` or ``below``)."""
    lo, hi = min(values), max(values)
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.fill_between([lo, hi], [lo, hi], hi if better == "above" else lo, color="tab:green", alpha=0.08)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")


def scatter_figure(df: pd.DataFrame, x: str = "hier", y: str = "iars") -> Figure:
    """Fig. 5: per dataset and K, the mean time and accuracy of ``x`` (abscissa) against
    ``y`` (ordinate); the shaded side is where ``y`` is better."""
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    for ax, metric, title in zip(fig.subplots(1, 2), (TIME, ACC), ("pretraining time (s)", "test accuracy")):
        means = stats(df, ("dataset", "K", "variant"), metric.key)["mean"].unstack("variant")
        both = means[[x, y]].dropna() if {x, y} <= set(means.columns) else means.iloc[:0, :0]
        for k in sorted(set(df.K.tolist())):
            pairs = [tuple(both.loc[(d, k)]) for d in ordered_datasets(df) if (d, k) in both.index]
            if pairs:
                ax.scatter(*zip(*pairs), label=f"K = {k}", s=30)
        shown = means[[v for v in (x, y) if v in means.columns]].stack()
        _diagonal(ax, shown.tolist(), "above" if metric.higher else "below")
        ax.set(xlabel=f"{x}", ylabel=f"{y}", title=title)
        ax.legend(fontsize=8)
    return fig


def baseline_figure(df: pd.DataFrame, baselines: pd.DataFrame, k: int, proposed: str = "iars") -> Figure:
    """Fig. 6: per dataset, the accuracy of ``proposed`` (ordinate) against each other SSL
    variant and 1-NN baseline (abscissa), at embedding size ``k``."""
    means = accuracies(df[df.K == k], baselines)[0]
    others = [c for c in ordered_variants(means.columns) if c != proposed]
    fig = Figure(figsize=(3.6 * max(len(others), 1), 3.8), layout="constrained")
    for ax, other in zip(np.atleast_1d(fig.subplots(1, max(len(others), 1))), others):
        both = means[[other, proposed]].dropna() if proposed in means else means.iloc[:0]
        if len(both):
            xs, ys = both[other].tolist(), both[proposed].tolist()
            ax.scatter(xs, ys, s=30)
            for px, py, name in zip(xs, ys, both.index):
                ax.annotate(name, (px, py), fontsize=6, xytext=(2, 2), textcoords="offset points")
            _diagonal(ax, xs + ys, "above")
        ax.set(xlabel=f"{other} accuracy", ylabel=f"{proposed} accuracy")
    return fig


def scaling_figure(df: pd.DataFrame, axis: str) -> Figure:
    """Pretraining time (mean ± std over seeds) against ``axis``, a line per variant."""
    time, time_std = grid(df, axis, TIME.key)
    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.subplots()
    for loss in ordered_variants(time.columns):
        points = time[loss].dropna().index
        ax.errorbar(points.tolist(), time.loc[points, loss].tolist(), yerr=time_std.loc[points, loss].fillna(0.0).tolist(),
                    marker="o", capsize=3, label=loss)
    ax.set(xlabel=SCALING_AXES[axis], ylabel="pretraining time (s)", title=f"time against {SCALING_AXES[axis]}")
    ax.legend()
    return fig


def resolutions_figure(df: pd.DataFrame) -> Figure | None:
    """The resolution each IARS run trained per epoch, a panel per dataset (None when no run
    recorded a selection)."""
    selecting = df[(df.loss == "iars") & df.selected_resolutions.map(bool)]
    if selecting.empty:
        return None
    datasets = ordered_datasets(selecting)
    fig = Figure(figsize=(4.5 * len(datasets), 3.5), layout="constrained")
    for ax, dataset in zip(np.atleast_1d(fig.subplots(1, len(datasets))), datasets):
        for run in selecting[selecting.dataset == dataset].itertuples():
            chosen = run.selected_resolutions
            ax.plot(range(1, len(chosen) + 1), chosen, "o-", drawstyle="steps-post", alpha=0.6, ms=3,
                    label=f"K={run.K} seed {run.seed}")
        ax.set(xlabel="epoch", ylabel="resolution r (0 = length 1)", title=f"{dataset}: IARS selection")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=6, ncol=2)
    return fig


def tsne_picks(df: pd.DataFrame, losses=("iars", "hier")) -> list[tuple[str, str, Path]]:
    """(dataset, title, embeddings path) for each dataset and variant with saved embeddings:
    the run with the largest K, then the smallest seed."""
    saved = df[df.run_dir.map(lambda run_dir: run_dir is not None and (Path(run_dir) / EMBEDDINGS_FILE).is_file())]
    picks = []
    for dataset in ordered_datasets(df):
        for loss in losses:
            mine = saved[(saved.dataset == dataset) & (saved.variant == loss)]
            if len(mine):
                run = mine.assign(minus_k=-mine.K).sort_values(["minus_k", "seed"], kind="stable").iloc[0]
                picks.append((dataset, f"{loss} (K={run.K}, seed {run.seed})", Path(run.run_dir) / EMBEDDINGS_FILE))
    return picks


def tsne_figure(picks: list[tuple[str, str, Path]], seed: int = 0) -> Figure:
    """Fig. 7: t-SNE of each pick's test embeddings, coloured by class; a column per dataset."""
    from sklearn.manifold import TSNE

    datasets = list(dict.fromkeys(d for d, _, _ in picks))
    n_rows = max(sum(d == dataset for d, _, _ in picks) for dataset in datasets)
    fig = Figure(figsize=(3.6 * len(datasets), 3.4 * n_rows), layout="constrained")
    axes = np.array(fig.subplots(n_rows, len(datasets), squeeze=False))
    for ax in axes.flat:
        ax.set_axis_off()
    row = defaultdict(int)
    for dataset, title, path in picks:
        with np.load(path) as saved:
            z, y = saved["test"], saved["y_test"]
        points = TSNE(2, perplexity=min(30.0, max(2.0, (len(z) - 1) / 3)), init="pca", random_state=seed).fit_transform(z)
        ax = axes[row[dataset], datasets.index(dataset)]
        row[dataset] += 1
        ax.scatter(points[:, 0], points[:, 1], c=y, cmap="tab10", s=10)
        ax.set_title(f"{dataset}: {title}", fontsize=9)
    return fig

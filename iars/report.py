"""Sweep reports: the runs' ``metrics.json`` → the paper's tables (markdown) and figures (PNG).

Reads run records only (never W&B), so it works offline. Tables: per embedding size K, each
dataset's pretraining time and accuracy per loss (Table II, mean ± std over seeds, best in
bold, a "# of best" row, the hier/iars speed-up); SSL accuracy beside the 1-NN baselines
(Table III); time against series length or train size (Tables IV, V). Figures: hier vs
iars scatter (Fig. 5), the proposed loss vs each competitor (Fig. 6), time curves, the
resolution IARS selected per epoch, and a t-SNE of test embeddings (Fig. 7). Figures are
drawn on ``matplotlib.figure.Figure`` (no pyplot, no global backend).
"""
from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from iars import study
from iars.errors import ReportError
from iars.runs import EMBEDDINGS_FILE, FAILURE_FILE, METRICS_FILE, read_metrics

BASELINES = "baselines"  # the ``loss`` of a scripts/baselines.py record
REQUIRED_KEYS = {False: {"dataset", "loss", "K", "seed", "pretrain_time_s", "acc"}, True: {"dataset", "loss", "acc"}}
"""The keys the report reads, of an SSL record (False) and of a 1-NN baseline record (True)."""
LOSS_ORDER = ("hier", "iars", "iars-relative", "random")
SCALING_AXES = {"length": "series length", "n_train": "train size"}


# -- run records ----------------------------------------------------------------------------


def load_runs(dirs: list[str | Path]) -> tuple[list[dict], list[Path]]:
    """Every ``metrics.json`` under ``dirs`` (each record gets ``run_dir``), and the job dirs
    (those with a ``.hydra`` folder) that hold none: failed or unfinished runs."""
    runs, missing = [], []
    for root in map(Path, dirs):
        if not root.is_dir():
            raise ReportError(f"{root} is not a directory: pass a sweep dir (outputs/multirun/...)")
        found = sorted(root.rglob(METRICS_FILE))
        if not found:
            raise ReportError(f"no {METRICS_FILE} under {root}: is this a sweep dir, and did any run finish?")
        for path in found:
            try:
                run = read_metrics(path.parent)
            except (OSError, ValueError) as exc:
                raise ReportError(f"{path} is not a readable run record ({exc})") from exc
            lacking = sorted(REQUIRED_KEYS[run.get("loss") == BASELINES] - set(run))
            if lacking:
                raise ReportError(f"{path} lacks {', '.join(lacking)}: not a record of iars-train or iars-baselines "
                                  "(move it out of the sweep dir, or rerun that job)")
            runs.append({**run, "run_dir": str(path.parent)})
        missing += [d.parent for d in sorted(root.rglob(".hydra")) if not (d.parent / METRICS_FILE).exists()]
    return runs, missing


def _failure(job: Path) -> str:
    """The one-line error a failed job recorded, or that it recorded none."""
    try:
        return json.loads((job / FAILURE_FILE).read_text())["error"]
    except (OSError, ValueError, KeyError, TypeError):
        return "no error recorded (killed, still running, or crashed)"


def loss_label(run: dict) -> str:
    """The loss a run trained: its mode, with the resolution of ``fixed`` and a per-step ``random``."""
    loss = run.get("config", {}).get("loss", {})
    if run["loss"] == "fixed":
        resolution = loss.get("resolution")
        return f"fixed r={loss.get('level') if resolution is None else resolution}"
    if run["loss"] == "random" and loss.get("granularity") == "step":
        return "random/step"
    rule = loss.get("selection", {}).get("rule", "importance")
    if run["loss"] == "iars" and rule != "importance":
        return f"iars-{rule}"
    return run["loss"]


def _ordered(labels) -> list[str]:
    rank = {name: i for i, name in enumerate(LOSS_ORDER)}
    return sorted(set(labels), key=lambda s: (rank.get(s, len(rank)), s))


def _datasets(runs: list[dict]) -> list[str]:
    """Dataset names in the paper's order: by series length, then name."""
    length = {}
    for run in runs:
        length.setdefault(run["dataset"], run.get("length", math.inf))
    return sorted(length, key=lambda d: (length[d], d))


# -- aggregation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation over seeds (``std`` None for a single run)."""

    mean: float
    std: float | None
    n: int

    @classmethod
    def of(cls, values) -> Stat:
        values = [float(v) for v in values]
        return cls(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None, len(values))

    def format(self, digits: int) -> str:
        return f"{self.mean:.{digits}f}" + ("" if self.std is None else f" ± {self.std:.{digits}f}")


def aggregate(runs: list[dict], by: tuple[str, ...], value: str) -> dict[tuple, Stat]:
    """``value`` of the runs grouped by the keys ``by`` (``loss`` is :func:`loss_label`)."""
    groups = defaultdict(list)
    for run in runs:
        if run.get(value) is not None:
            groups[tuple(loss_label(run) if k == "loss" else run[k] for k in by)].append(run[value])
    return {key: Stat.of(values) for key, values in groups.items()}


class Metric(NamedTuple):
    key: str
    digits: int   # shown
    higher: bool  # higher is better


TIME, ACC = Metric("pretrain_time_s", 2, False), Metric("acc", 3, True)


def best(stats: list[Stat | None], metric: Metric) -> list[bool]:
    """Which cells are best (ties on the shown value are all best)."""
    shown = [None if s is None else round(s.mean, metric.digits) for s in stats]
    present = [v for v in shown if v is not None]
    if not present:
        return [False] * len(stats)
    top = max(present) if metric.higher else min(present)
    return [v == top for v in shown]


def _cell(stat: Stat | None, digits: int, bold: bool = False) -> str:
    if stat is None:
        return "–"
    return f"**{stat.format(digits)}**" if bold else stat.format(digits)


def bold_best(stats: list[Stat | None], metric: Metric) -> tuple[list[str], list[bool]]:
    """The cells of one metric, the best in bold, and which are best."""
    flags = best(stats, metric)
    return [_cell(s, metric.digits, f) for s, f in zip(stats, flags)], flags


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


# -- tables ---------------------------------------------------------------------------------


def _speedup(time: dict[tuple, Stat], *key) -> str:
    """Mean hier time over mean iars time of the group ``key``."""
    hier, iars = time.get((*key, "hier")), time.get((*key, "iars"))
    return "–" if hier is None or iars is None else f"{hier.mean / iars.mean:.2f}×"


def comparison_tables(runs: list[dict]) -> str:
    """Table II: one block per K; a row per dataset; time and accuracy per loss; best in
    bold per row and metric; a "# of best" row per block and a total over the blocks."""
    losses, datasets = _ordered(map(loss_label, runs)), _datasets(runs)
    time, acc = (aggregate(runs, ("dataset", "K", "loss"), m.key) for m in (TIME, ACC))
    header = ["dataset"] + [f"{loss} {what}" for loss in losses for what in ("time (s)", "acc")]
    with_speedup = {"hier", "iars"} <= set(losses)
    header += ["speed-up hier/iars"] if with_speedup else []
    blocks, total = [], [0] * 2 * len(losses)
    for k in sorted({run["K"] for run in runs}):
        rows, counts = [], [0] * 2 * len(losses)
        for dataset in datasets:
            times, accs = ([stats.get((dataset, k, loss)) for loss in losses] for stats in (time, acc))
            if not any(times + accs):
                continue
            (time_cells, time_best), (acc_cells, acc_best) = bold_best(times, TIME), bold_best(accs, ACC)
            cells = [c for pair in zip(time_cells, acc_cells) for c in pair]
            counts = [n + f for n, f in zip(counts, (f for pair in zip(time_best, acc_best) for f in pair))]
            rows.append([dataset] + cells + ([_speedup(time, dataset, k)] if with_speedup else []))
        total = [t + c for t, c in zip(total, counts)]
        rows.append(["# of best"] + [str(c) for c in counts] + ([""] if with_speedup else []))
        blocks.append(f"### K = {k}\n\n" + markdown_table(header, rows))
    if len(blocks) > 1:
        blocks.append("### All K\n\n" + markdown_table(
            header, [["Total # of best"] + [str(c) for c in total] + ([""] if with_speedup else [])]))
    return "\n\n".join(blocks)


def _baseline_accs(baselines: list[dict]) -> dict[tuple, Stat]:
    """(dataset, method) → accuracy of the 1-NN records; a method is suffixed by its
    normalisation when not the raw series."""
    groups = defaultdict(list)
    for run in baselines:
        suffix = "" if run.get("normalise", "none") == "none" else f" ({run['normalise']})"
        for method, acc in run["acc"].items():
            if acc is not None:
                groups[(run["dataset"], method + suffix)].append(acc)
    return {key: Stat.of(values) for key, values in groups.items()}


def table_k(runs: list[dict], k: int | None) -> int:
    """The K of Table III: ``k`` when given (it must be in the runs), else the largest."""
    ks = sorted({run["K"] for run in runs})
    if k is not None and k not in ks:
        raise ReportError(f"no SSL run with K={k}; the runs have K in {ks}")
    return ks[-1] if k is None else k


def baseline_table(runs: list[dict], baselines: list[dict], k: int) -> str:
    """Table III: test accuracy per dataset of the SSL losses at embedding size ``k`` and of
    the 1-NN baselines; best in bold, second underlined, an average and a "# of best" row."""
    runs = [run for run in runs if run["K"] == k]
    ssl = aggregate(runs, ("dataset", "loss"), "acc")
    nn = _baseline_accs(baselines)
    columns = _ordered(map(loss_label, runs)) + sorted({method for _, method in nn})
    stats = {**ssl, **nn}
    datasets = _datasets(runs) + sorted({d for d, _ in nn} - {run["dataset"] for run in runs})
    rows, counts = [], [0] * len(columns)
    for dataset in datasets:
        cells = [stats.get((dataset, c)) for c in columns]
        first = best(cells, ACC)
        second = best([None if f else c for c, f in zip(cells, first)], ACC)
        counts = [n + f for n, f in zip(counts, first)]
        rows.append([dataset] + [
            f"<u>{_cell(c, 3)}</u>" if s and not f else _cell(c, 3, f) for c, f, s in zip(cells, first, second)])
    averages = [Stat(statistics.fmean(stats[(d, c)].mean for d in datasets), None, len(datasets))
                if all((d, c) in stats for d in datasets) else None for c in columns]  # columns with every dataset
    rows.append(["Average"] + bold_best(averages, ACC)[0])
    rows.append(["# of best"] + [str(c) for c in counts])
    return f"### Accuracy, K = {k}\n\n" + markdown_table(["dataset"] + columns, rows)


def scaling_axes(runs: list[dict]) -> list[str]:
    """The axes (``length``, ``n_train``) that vary within a dataset: a scaling sweep."""
    return [axis for axis in SCALING_AXES if any(
        len({run[axis] for run in runs if run["dataset"] == d}) > 1 for d in _datasets(runs))]


def scaling_table(runs: list[dict], axis: str) -> str:
    """Tables IV and V: pretraining time per loss against ``axis``, fastest in bold."""
    losses = _ordered(map(loss_label, runs))
    time = aggregate(runs, (axis, "loss"), "pretrain_time_s")
    with_speedup = {"hier", "iars"} <= set(losses)
    rows = []
    for value in sorted({run[axis] for run in runs}):
        row = [str(value)] + bold_best([time.get((value, loss)) for loss in losses], TIME)[0]
        rows.append(row + ([_speedup(time, value)] if with_speedup else []))
    header = [SCALING_AXES[axis]] + [f"{loss} time (s)" for loss in losses]
    header += ["speed-up hier/iars"] if with_speedup else []
    return f"### Pretraining time against {SCALING_AXES[axis]}\n\n" + markdown_table(header, rows)


# -- figures --------------------------------------------------------------------------------


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


def scatter_figure(runs: list[dict], x: str = "hier", y: str = "iars") -> Figure:
    """Fig. 5: per dataset and K, the mean time and accuracy of ``x`` (abscissa) against
    ``y`` (ordinate); the shaded side is where ``y`` is better."""
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    for ax, metric, title in zip(fig.subplots(1, 2), (TIME, ACC), ("pretraining time (s)", "test accuracy")):
        stats = aggregate(runs, ("dataset", "K", "loss"), metric.key)
        for k in sorted({run["K"] for run in runs}):
            pairs = [(stats[(d, k, x)].mean, stats[(d, k, y)].mean) for d in _datasets(runs)
                     if (d, k, x) in stats and (d, k, y) in stats]
            if pairs:
                ax.scatter(*zip(*pairs), label=f"K = {k}", s=30)
        _diagonal(ax, [s.mean for (_, _, loss), s in stats.items() if loss in (x, y)], "above" if metric.higher else "below")
        ax.set(xlabel=f"{x}", ylabel=f"{y}", title=title)
        ax.legend(fontsize=8)
    return fig


def baseline_figure(runs: list[dict], baselines: list[dict], k: int, proposed: str = "iars") -> Figure:
    """Fig. 6: per dataset, the accuracy of ``proposed`` (ordinate) against each other SSL
    loss and 1-NN baseline (abscissa), at embedding size ``k``."""
    stats = {**aggregate([r for r in runs if r["K"] == k], ("dataset", "loss"), "acc"), **_baseline_accs(baselines)}
    others = [c for c in _ordered(label for _, label in stats) if c != proposed]
    fig = Figure(figsize=(3.6 * max(len(others), 1), 3.8), layout="constrained")
    for ax, other in zip(np.atleast_1d(fig.subplots(1, max(len(others), 1))), others):
        pairs = [(stats[(d, other)].mean, stats[(d, proposed)].mean, d) for d, label in stats
                 if label == other and (d, proposed) in stats]
        if pairs:
            xs, ys, names = zip(*pairs)
            ax.scatter(xs, ys, s=30)
            for px, py, name in pairs:
                ax.annotate(name, (px, py), fontsize=6, xytext=(2, 2), textcoords="offset points")
            _diagonal(ax, xs + ys, "above")
        ax.set(xlabel=f"{other} accuracy", ylabel=f"{proposed} accuracy")
    return fig


def scaling_figure(runs: list[dict], axis: str) -> Figure:
    """Pretraining time (mean ± std over seeds) against ``axis``, a line per loss."""
    time = aggregate(runs, (axis, "loss"), "pretrain_time_s")
    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.subplots()
    for loss in _ordered(loss for _, loss in time):
        points = sorted((v, s) for (v, label), s in time.items() if label == loss)
        ax.errorbar([v for v, _ in points], [s.mean for _, s in points], yerr=[s.std or 0.0 for _, s in points],
                    marker="o", capsize=3, label=loss)
    ax.set(xlabel=SCALING_AXES[axis], ylabel="pretraining time (s)", title=f"time against {SCALING_AXES[axis]}")
    ax.legend()
    return fig


def resolutions_figure(runs: list[dict]) -> Figure | None:
    """The resolution each IARS run trained per epoch, a panel per dataset (None when no run
    recorded a selection)."""
    selecting = [r for r in runs if r["loss"] == "iars" and r.get("selected_resolutions")]
    if not selecting:
        return None
    datasets = _datasets(selecting)
    fig = Figure(figsize=(4.5 * len(datasets), 3.5), layout="constrained")
    for ax, dataset in zip(np.atleast_1d(fig.subplots(1, len(datasets))), datasets):
        for run in (r for r in selecting if r["dataset"] == dataset):
            chosen = run["selected_resolutions"]
            ax.plot(range(1, len(chosen) + 1), chosen, "o-", drawstyle="steps-post", alpha=0.6, ms=3,
                    label=f"K={run['K']} seed {run['seed']}")
        ax.set(xlabel="epoch", ylabel="resolution r (0 = length 1)", title=f"{dataset}: IARS selection")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=6, ncol=2)
    return fig


def tsne_picks(runs: list[dict], losses=("iars", "hier")) -> list[tuple[str, str, Path]]:
    """(dataset, loss, embeddings path) for each dataset and loss with saved embeddings:
    the run with the largest K, then the smallest seed."""
    picks = []
    for dataset in _datasets(runs):
        for loss in losses:
            saved = [r for r in runs if r["dataset"] == dataset and loss_label(r) == loss
                     and (Path(r.get("run_dir", "")) / EMBEDDINGS_FILE).is_file()]
            if saved:
                run = min(saved, key=lambda r: (-r["K"], r["seed"]))
                picks.append((dataset, f"{loss} (K={run['K']}, seed {run['seed']})", Path(run["run_dir"]) / EMBEDDINGS_FILE))
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


# -- the report -----------------------------------------------------------------------------


def write_report(dirs: list[str | Path], out_dir: str | Path | None = None, k: int | None = None,
                 proposed: str = "iars") -> tuple[Path, list[Path]]:
    """Read the runs under ``dirs`` (SSL sweeps and 1-NN baseline sweeps alike) and write
    ``report.md`` and the figures (PNG) into ``out_dir`` (default: the first dir).

    The tables follow the runs: a scaling sweep (length or train size varies) gets Tables
    IV/V and time curves; other SSL sweeps Table II and, with hier and iars, the Fig. 5
    scatter; 1-NN records Table III (at ``k``, default the largest K) and Fig. 6; a
    selection study (random beside iars) its statistics (:mod:`iars.study`). IARS runs
    add the selection plot, runs with ``embeddings.npz`` the t-SNE. Returns the report's
    path and the figures' paths.
    """
    runs, missing = load_runs(dirs)
    ssl = [r for r in runs if r["loss"] != BASELINES]
    nn = [r for r in runs if r["loss"] == BASELINES]
    out = Path(out_dir or dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    sections = [f"# Report: {', '.join(map(str, dirs))}",
                f"{len(ssl)} SSL runs, {len(nn)} 1-NN baseline runs; mean ± std over seeds."]
    if missing:
        sections.append(f"**{len(missing)} job(s) without {METRICS_FILE}** (failed or unfinished):\n\n"
                        + "\n".join(f"- {m}: {_failure(m)}" for m in missing))
    figures = {}
    axes = scaling_axes(ssl)
    labels = set(map(loss_label, ssl))
    for axis in axes:
        sections.append(scaling_table(ssl, axis))
        figures[f"scaling_{axis}"] = scaling_figure(ssl, axis)
    if ssl and not axes:
        sections.append(comparison_tables(ssl))
        if {"hier", "iars"} <= labels:
            figures["scatter"] = scatter_figure(ssl)
    if nn:
        k = table_k(ssl, k) if ssl else None
        sections.append(baseline_table(ssl, nn, k))
        if ssl:
            figures["baselines"] = baseline_figure(ssl, nn, k, proposed if proposed in labels else _ordered(labels)[0])
    if ssl:
        table = study.frame(ssl, loss_label)
        if study.is_study(table):
            sections.append(study.markdown(table, LOSS_ORDER))
            figures.update(study.figures(table, LOSS_ORDER))
    chosen = resolutions_figure(ssl)
    if chosen is not None:
        figures["selected_resolutions"] = chosen
    picks = tsne_picks(ssl)
    if picks:
        figures["tsne"] = tsne_figure(picks)
    paths = []
    for name, fig in figures.items():
        paths.append(out / f"{name}.png")
        fig.savefig(paths[-1], dpi=110)
        sections.append(f"![{name}]({name}.png)")
    report = out / "report.md"
    report.write_text("\n\n".join(sections) + "\n")
    return report, paths

"""Aggregation over seeds (pandas) and the report's markdown tables: per embedding size K,
each dataset's pretraining time and accuracy per variant (Table II, mean ± std over seeds,
best in bold, a "# of best" row, the hier/iars speed-up); SSL accuracy and seconds beside the
baselines' (Table III); time against series length or train size (Tables IV, V).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from iars.errors import ReportError
from iars.reporting.records import ordered_datasets, ordered_variants

SCALING_AXES = {"length": "series length", "n_train": "train size"}


class Metric(NamedTuple):
    key: str
    digits: int   # shown
    higher: bool  # higher is better


TIME, ACC = Metric("pretrain_time_s", 2, False), Metric("acc", 3, True)


# -- aggregation ----------------------------------------------------------------------------


def stats(df: pd.DataFrame, by: tuple[str, ...] | list[str], value: str) -> pd.DataFrame:
    """The groups ``by`` of the rows of ``df`` that hold ``value``: its mean, sample standard
    deviation (NaN for a single row) and count."""
    return df.dropna(subset=[value]).groupby(list(by))[value].agg(["mean", "std", "count"])


def grid(df: pd.DataFrame, index: str, value: str, columns: str = "variant") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``index`` × ``columns``: the mean and the std of ``value`` (NaN where no row holds it)."""
    table = stats(df, (index, columns), value)
    return table["mean"].unstack(columns), table["std"].unstack(columns)


def _at(table: pd.DataFrame, row, column) -> float:
    """``table``'s cell, NaN where it has no such row or column."""
    return table.at[row, column] if row in table.index and column in table.columns else math.nan


# -- cells ----------------------------------------------------------------------------------


def fmt(mean: float, std: float, digits: int) -> str:
    """``mean ± std`` to ``digits`` decimals, the mean alone where std is missing (one seed)."""
    return f"{mean:.{digits}f}" + ("" if pd.isna(std) else f" ± {std:.{digits}f}")


def best(means: list[float | None], metric: Metric) -> list[bool]:
    """Which cells are best (ties on the shown value are all best; missing ones never)."""
    shown = [None if m is None or pd.isna(m) else round(float(m), metric.digits) for m in means]
    present = [v for v in shown if v is not None]
    if not present:
        return [False] * len(means)
    top = max(present) if metric.higher else min(present)
    return [v == top for v in shown]


def cell(mean: float, std: float, digits: int, bold: bool = False) -> str:
    if pd.isna(mean):
        return "–"
    return f"**{fmt(mean, std, digits)}**" if bold else fmt(mean, std, digits)


def bold_best(means: list[float], stds: list[float], metric: Metric) -> tuple[list[str], list[bool]]:
    """The cells of one metric, the best in bold, and which are best."""
    flags = best(means, metric)
    return [cell(m, s, metric.digits, f) for m, s, f in zip(means, stds, flags)], flags


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def to_markdown(table: pd.DataFrame, digits: int = 3, index: bool = True) -> str:
    """A markdown table of ``table`` (floats to ``digits`` decimals, missing cells "–")."""

    def shown(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "–" if np.isnan(v) else f"{v:.{digits}f}"
        return "–" if v is None or v is pd.NA else str(v)

    table = table.reset_index() if index else table
    return markdown_table([str(c) for c in table.columns],
                          [[shown(v) for v in row] for row in table.itertuples(index=False)])


# -- tables ---------------------------------------------------------------------------------


def _speedup(time: pd.DataFrame, row) -> str:
    """Mean hier time over mean iars time of ``row``."""
    hier, iars = _at(time, row, "hier"), _at(time, row, "iars")
    return "–" if math.isnan(hier) or math.isnan(iars) else f"{hier / iars:.2f}×"


def comparison_tables(df: pd.DataFrame) -> str:
    """Table II: one block per K; a row per dataset; time and accuracy per variant; best in
    bold per row and metric; a "# of best" row per block and a total over the blocks."""
    losses, datasets = ordered_variants(df.variant), ordered_datasets(df)
    header = ["dataset"] + [f"{loss} {what}" for loss in losses for what in ("time (s)", "acc")]
    with_speedup = {"hier", "iars"} <= set(losses)
    header += ["speed-up hier/iars"] if with_speedup else []
    blocks, total = [], [0] * 2 * len(losses)
    for k in sorted(set(df.K.tolist())):
        (time, time_std), (acc, acc_std) = (grid(df[df.K == k], "dataset", m.key) for m in (TIME, ACC))
        rows, counts = [], [0] * 2 * len(losses)
        for dataset in datasets:
            times, accs = ([_at(means, dataset, loss) for loss in losses] for means in (time, acc))
            if all(math.isnan(v) for v in times + accs):
                continue
            time_cells, time_best = bold_best(times, [_at(time_std, dataset, loss) for loss in losses], TIME)
            acc_cells, acc_best = bold_best(accs, [_at(acc_std, dataset, loss) for loss in losses], ACC)
            cells = [c for pair in zip(time_cells, acc_cells) for c in pair]
            counts = [n + f for n, f in zip(counts, (f for pair in zip(time_best, acc_best) for f in pair))]
            rows.append([dataset] + cells + ([_speedup(time, dataset)] if with_speedup else []))
        total = [t + c for t, c in zip(total, counts)]
        rows.append(["# of best"] + [str(c) for c in counts] + ([""] if with_speedup else []))
        blocks.append(f"### K = {k}\n\n" + markdown_table(header, rows))
    if len(blocks) > 1:
        blocks.append("### All K\n\n" + markdown_table(
            header, [["Total # of best"] + [str(c) for c in total] + ([""] if with_speedup else [])]))
    return "\n\n".join(blocks)


def table_k(df: pd.DataFrame, k: int | None) -> int:
    """The K of Table III: ``k`` when given (it must be in the runs), else the largest."""
    ks = sorted(set(df.K.tolist()))
    if k is not None and k not in ks:
        raise ReportError(f"no SSL run with K={k}; the runs have K in {ks}")
    return ks[-1] if k is None else k


def accuracies(df: pd.DataFrame, baselines: pd.DataFrame, value: str = "acc",
               baseline_value: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """dataset × variant: the mean and the std of ``value`` of the SSL runs ``df`` and of
    ``baseline_value`` (default the same) of the baselines
    (:func:`iars.reporting.records.baseline_frame`)."""
    rows = pd.concat([stats(df, ("dataset", "variant"), value),
                      stats(baselines, ("dataset", "variant"), baseline_value or value)])
    rows = rows[~rows.index.duplicated(keep="last")]
    return rows["mean"].unstack("variant"), rows["std"].unstack("variant")


def _baseline_axes(df: pd.DataFrame, baselines: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The columns (SSL variants, then the baselines by name) and the rows (the SSL runs'
    datasets in their order, then the baselines' others by name) of Table III."""
    columns = ordered_variants(df.variant) + sorted(set(baselines.variant))
    return columns, (ordered_datasets(df) if len(df) else []) + sorted(set(baselines.dataset) - set(df.dataset))


def baseline_table(df: pd.DataFrame, baselines: pd.DataFrame, k: int) -> str:
    """Table III: test accuracy per dataset of the SSL variants at embedding size ``k`` and of
    the baselines (1-NN, MiniRocket, Catch22); best in bold, second underlined, an average and
    a "# of best" row."""
    df = df[df.K == k]
    columns, datasets = _baseline_axes(df, baselines)
    means, stds = (t.reindex(index=datasets, columns=columns) for t in accuracies(df, baselines))
    rows, counts = [], [0] * len(columns)
    for dataset in datasets:
        cells, spread = means.loc[dataset].tolist(), stds.loc[dataset].tolist()
        first = best(cells, ACC)
        second = best([None if f else c for c, f in zip(cells, first)], ACC)
        counts = [n + f for n, f in zip(counts, first)]
        rows.append([dataset] + [f"<u>{cell(c, d, 3)}</u>" if s and not f else cell(c, d, 3, f)
                                 for c, d, f, s in zip(cells, spread, first, second)])
    averages = means.mean().where(means.notna().all()).tolist()  # columns with every dataset
    rows.append(["Average"] + bold_best(averages, [math.nan] * len(columns), ACC)[0])
    rows.append(["# of best"] + [str(c) for c in counts])
    return f"### Accuracy, K = {k}\n\n" + markdown_table(["dataset"] + columns, rows)


def baseline_time_table(df: pd.DataFrame, baselines: pd.DataFrame, k: int) -> str:
    """Table III's seconds: per dataset, the SSL variants' pretraining seconds at embedding
    size ``k`` (the classifier stage not included) and the baselines' fit + predict seconds;
    fastest in bold."""
    df = df[df.K == k]
    columns, datasets = _baseline_axes(df, baselines)
    means, stds = (t.reindex(index=datasets, columns=columns)
                   for t in accuracies(df, baselines, TIME.key, "time_s"))
    rows = [[dataset] + bold_best(means.loc[dataset].tolist(), stds.loc[dataset].tolist(), TIME)[0]
            for dataset in datasets]
    return (f"### Seconds, K = {k}\n\nSSL variants: pretraining (the classifier stage not timed); "
            "baselines: fit + predict.\n\n" + markdown_table(["dataset"] + columns, rows))


def scaling_axes(df: pd.DataFrame) -> list[str]:
    """The axes (``length``, ``n_train``) that vary within a dataset: a scaling sweep."""
    return [axis for axis in SCALING_AXES if (df.groupby("dataset")[axis].nunique() > 1).any()]


def scaling_table(df: pd.DataFrame, axis: str) -> str:
    """Tables IV and V: pretraining time per variant against ``axis``, fastest in bold."""
    losses = ordered_variants(df.variant)
    values = sorted(set(df[axis].tolist()))
    time, time_std = (t.reindex(index=values, columns=losses) for t in grid(df, axis, TIME.key))
    with_speedup = {"hier", "iars"} <= set(losses)
    rows = []
    for value in values:
        row = [str(value)] + bold_best(time.loc[value].tolist(), time_std.loc[value].tolist(), TIME)[0]
        rows.append(row + ([_speedup(time, value)] if with_speedup else []))
    header = [SCALING_AXES[axis]] + [f"{loss} time (s)" for loss in losses]
    header += ["speed-up hier/iars"] if with_speedup else []
    return f"### Pretraining time against {SCALING_AXES[axis]}\n\n" + markdown_table(header, rows)

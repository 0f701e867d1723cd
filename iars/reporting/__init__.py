"""Sweep reports: the runs' ``metrics.json`` → the paper's tables (markdown) and figures (PNG).

Reads run records only (never W&B), so it works offline. One concern per module, imported
one way: :mod:`~iars.reporting.records` (finding and reading the run records, the runs as a
pandas frame, the order of datasets and variants) → :mod:`~iars.reporting.tables`
(aggregation over seeds, the markdown tables) → :mod:`~iars.reporting.figures` (the
paper's figures) and :mod:`~iars.reporting.study` (the selection study's statistics and
figures) → :mod:`~iars.reporting.tasks` (the forecasting and anomaly-detection runs' tables,
paired comparisons and figures) → here, :func:`write_report`, which picks the tables and
figures that the runs call for.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from iars.errors import ReportError
from iars.reporting import study, tasks
from iars.reporting.figures import (
    baseline_figure,
    resolutions_figure,
    scaling_figure,
    scatter_figure,
    tsne_figure,
    tsne_picks,
)
from iars.reporting.records import (
    BASELINES,
    CLASSIFICATION,
    PAIRS,
    RULES,
    VARIANT_ORDER,
    baseline_frame,
    frame,
    kind,
    load_runs,
    ordered_datasets,
    ordered_variants,
    variant_label,
)
from iars.reporting.tables import (
    ACC,
    TIME,
    baseline_table,
    baseline_time_table,
    best,
    comparison_tables,
    fmt,
    markdown_table,
    scaling_axes,
    scaling_table,
    stats,
    table_k,
    to_markdown,
)
from iars.runs import METRICS_FILE

__all__ = [
    "ACC", "BASELINES", "PAIRS", "RULES", "TIME", "VARIANT_ORDER", "baseline_figure", "baseline_frame",
    "baseline_table", "baseline_time_table", "best", "comparison_tables", "fmt", "frame", "incomplete", "load_runs",
    "markdown_table", "ordered_datasets", "ordered_variants", "resolutions_figure", "scaling_axes", "scaling_figure",
    "scaling_table", "scatter_figure", "stats", "study", "table_k", "tasks", "to_markdown", "tsne_figure",
    "tsne_picks", "variant_label", "write_report",
]


def incomplete(missing: list[dict]) -> str:
    """The report's note on the jobs without a record (:func:`~iars.reporting.records.load_runs`):
    how many, failed or never started, then one line each (folder, overrides, error)."""
    counts = Counter(job["state"] for job in missing)
    kinds = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    lines = [f"- {job['job']}" + (f" [{' '.join(job['overrides'])}]" if job["overrides"] else "") + f": {job['error']}"
             for job in missing]
    return (f"**Incomplete: {len(missing)} job(s) without {METRICS_FILE}** ({kinds}); the tables and figures "
            "leave them out:\n\n" + "\n".join(lines))


def write_report(dirs: list[str | Path], out_dir: str | Path | None = None, k: int | None = None,
                 proposed: str = "iars") -> tuple[Path, list[Path]]:
    """Read the runs under ``dirs`` (SSL sweeps of any task and baseline sweeps alike) and
    write ``report.md`` and the figures (PNG) into ``out_dir`` (default: the first dir).

    The tables follow the runs: a scaling sweep (length or train size varies) gets Tables
    IV/V and time curves; other SSL sweeps Table II and, with hier and iars, the Fig. 5
    scatter; baseline records Table III (accuracy and seconds, at ``k``, default the largest
    K) and Fig. 6; a selection study (random beside iars) its statistics
    (:mod:`iars.reporting.study`). IARS
    runs add the selection plot, runs with ``embeddings.npz`` the t-SNE. Forecasting and
    anomaly-detection runs (``config.task.name``) get their own sections and figures
    (:mod:`iars.reporting.tasks`). Returns the report's path and the figures' paths.
    """
    runs, missing = load_runs(dirs)
    nn_runs = [r for r in runs if r["loss"] == BASELINES]
    ssl, nn = frame([r for r in runs if kind(r) == CLASSIFICATION]), baseline_frame(nn_runs)
    task_runs = {name: [r for r in runs if kind(r) == name] for name in tasks.TASKS}
    counted = [f"{len(v)} {name} runs" for name, v in task_runs.items() if v]
    if len(ssl) or nn_runs or not counted:
        counted.insert(0, f"{len(ssl)} SSL runs, {len(nn_runs)} baseline runs")
    out = Path(out_dir or dirs[0])
    _writable(out)
    sections = [f"# Report: {', '.join(map(str, dirs))}", f"{', '.join(counted)}; mean ± std over seeds."]
    if missing:
        sections.append(incomplete(missing))
    figures = {}
    axes = scaling_axes(ssl) if len(ssl) else []
    labels = set(ssl.variant)
    for axis in axes:
        sections.append(scaling_table(ssl, axis))
        figures[f"scaling_{axis}"] = scaling_figure(ssl, axis)
    if len(ssl) and not axes:
        sections.append(comparison_tables(ssl))
        if {"hier", "iars"} <= labels:
            figures["scatter"] = scatter_figure(ssl)
    if nn_runs:
        k = table_k(ssl, k) if len(ssl) else None
        sections += [baseline_table(ssl, nn, k), baseline_time_table(ssl, nn, k)]
        if len(ssl):
            figures["baselines"] = baseline_figure(ssl, nn, k, proposed if proposed in labels else ordered_variants(labels)[0])
    if len(ssl) and study.is_study(ssl):
        sections.append(study.markdown(ssl))
        figures.update(study.figures(ssl))
    if len(ssl):
        chosen = resolutions_figure(ssl)
        if chosen is not None:
            figures["selected_resolutions"] = chosen
        picks = tsne_picks(ssl)
        if picks:
            figures["tsne"] = tsne_figure(picks)
    task_sections, task_figures = tasks.sections(task_runs)
    sections += task_sections
    figures.update(task_figures)
    paths = []
    try:
        for name, fig in figures.items():
            paths.append(out / f"{name}.png")
            fig.savefig(paths[-1], dpi=110)
            sections.append(f"![{name}]({name}.png)")
        report = out / "report.md"
        report.write_text("\n\n".join(sections) + "\n")
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out} ({exc.strerror or exc}): give --out a folder you can "
                          "write to") from exc
    return report, paths


def _writable(out: Path) -> None:
    """Make the report's folder ``out``, or refuse it in one line (a file, or not writable)."""
    if out.exists() and not out.is_dir():
        raise ReportError(f"the report folder {out} is a file: give --out a folder for report.md and the figures "
                          "(made if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        in_the_way = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        why = f"{in_the_way} is a file" if in_the_way else exc.strerror or str(exc)
        raise ReportError(f"cannot make the report folder {out} ({why}): give --out a folder you can write to") from exc

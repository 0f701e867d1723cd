"""The selection study: does choosing the resolution by importance beat choosing at random?

From the SSL runs' frame (:func:`iars.reporting.records.frame`, a row per run), the study's
statistics: per dataset × variant mean ± std of accuracy and pretraining seconds, average
ranks with a critical-difference diagram (aeon, Wilcoxon–Holm), paired Wilcoxon signed-rank
tests with Holm's adjustment, accuracy against time, how far the selection probabilities
stray from uniform (KL divergence per epoch, a heatmap), and how often a rule's draw differs
from ``random``'s under the same seed (the rules share one stream of draws, so they draw
alike wherever their probabilities agree: a paired comparison).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import wilcoxon

from iars.reporting.records import PAIRS, RULES, VARIANT_ORDER, ordered_datasets, ordered_variants
from iars.reporting.tables import fmt, stats, to_markdown

PROGRESS_BINS = 5


def is_study(df: pd.DataFrame) -> bool:
    """Whether the runs hold a selection study: random and a selecting rule."""
    return "random" in set(df.variant) and bool(set(RULES) & set(df.variant))


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of accuracy and pretraining seconds, per dataset × variant."""
    return pd.concat([stats(df, ("dataset", "variant"), metric).add_prefix(f"{metric}_")
                      for metric in ("acc", "pretrain_time_s")], axis=1)


def dataset_means(df: pd.DataFrame, value: str = "acc") -> pd.DataFrame:
    """datasets × variants: ``value`` averaged over seeds (only datasets every variant ran)."""
    return df.pivot_table(index="dataset", columns="variant", values=value, aggfunc="mean").dropna()


def average_ranks(df: pd.DataFrame) -> pd.Series:
    """Each variant's accuracy rank (1 = best, ties share the mean rank) averaged over the
    datasets, from the dataset means over seeds; best first."""
    return dataset_means(df).rank(axis=1, ascending=False).mean().sort_values()


def overall_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per variant, over the datasets every variant ran: mean accuracy, mean seconds, the
    mean ratio of its seconds to hier's, the number of runs and the average rank."""
    complete = df[df.dataset.isin(dataset_means(df).index)]
    out = complete.groupby("variant")[["acc", "pretrain_time_s"]].mean()
    out.columns = ["mean acc", "mean seconds"]
    seconds = dataset_means(complete, "pretrain_time_s")
    if "hier" in seconds:
        out["time vs hier"] = seconds.div(seconds["hier"], axis=0).mean()
    out["runs"] = complete.groupby("variant").size()
    out["average rank"] = average_ranks(df)
    return out


def paired_tests(df: pd.DataFrame, pairs=PAIRS) -> pd.DataFrame:
    """Two-sided Wilcoxon signed-rank tests of accuracy, first variant against second, paired
    by dataset and seed (every run; also Holm-adjusted over the pairs) and by dataset (means
    over seeds). Pairs with no nonzero difference get p = 1 (no evidence of any difference).
    Also the mean difference and the wins/ties/losses over the run pairs."""
    by_run = df.pivot_table(index=["dataset", "seed"], columns="variant", values="acc", aggfunc="mean")
    by_dataset = dataset_means(df)
    rows = []
    for a, b in pairs:
        if a not in by_run or b not in by_run:
            continue
        runs = (by_run[a] - by_run[b]).dropna()
        means = (by_dataset[a] - by_dataset[b]).dropna() if a in by_dataset and b in by_dataset else pd.Series()
        rows.append({
            "pair": f"{a} vs {b}", "runs": len(runs), "mean diff (pts)": 100 * runs.mean(),
            "wins/ties/losses": f"{(runs > 0).sum()}/{(runs == 0).sum()}/{(runs < 0).sum()}",
            "p (runs)": signed_rank_p(runs), "datasets": len(means), "p (dataset means)": signed_rank_p(means),
        })
    tests = pd.DataFrame(rows)
    if len(tests):
        tests.insert(tests.columns.get_loc("p (runs)") + 1, "p Holm (runs)", holm(tests["p (runs)"]))
    return tests


def holm(p: pd.Series) -> pd.Series:
    """Holm's step-down adjustment of the p-values ``p`` for testing them all (NaN kept)."""
    valid = p.dropna().sort_values()
    m = len(valid)
    adjusted = (valid * np.arange(m, 0, -1)).cummax().clip(upper=1.0)
    return adjusted.reindex(p.index)


def signed_rank_p(diff: pd.Series) -> float:
    """The two-sided Wilcoxon signed-rank p of paired differences ``diff`` (NaN for none; 1 when
    none is nonzero: no evidence of any difference)."""
    if len(diff) == 0:
        return float("nan")
    if (diff == 0).all():
        return 1.0
    return float(wilcoxon(diff.to_numpy(), zero_method="wilcox", alternative="two-sided").pvalue)


def kl_from_uniform(probs) -> np.ndarray:
    """KL(p ‖ uniform) in nats of each row of ``probs`` (epochs × R): log R − H(p)."""
    p = np.asarray(probs, float)
    R = p.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    return np.log(R) + plogp.sum(-1)


def kl_table(df: pd.DataFrame) -> pd.DataFrame:
    """datasets × rules: the mean over epochs and seeds of KL(probabilities ‖ uniform)."""
    rows = df[df.variant.isin(RULES) & df.selection_probs.notna()]
    kl = rows.assign(kl=[float(np.mean(kl_from_uniform(p))) if len(p) else np.nan for p in rows.selection_probs])
    table = kl.pivot_table(index="dataset", columns="variant", values="kl", aggfunc="mean")
    return table.reindex([d for d in ordered_datasets(df) if d in table.index])


def differing_draws(df: pd.DataFrame) -> pd.DataFrame:
    """datasets × rules: the share of epochs whose trained resolution differs from the one
    ``random`` trained under the same dataset, seed and K (epochs compared up to the
    shorter history), pooled over seeds."""
    base = df[df.variant == "random"].set_index(["dataset", "seed", "K"]).selected_resolutions
    rows = []
    for run in df[df.variant.isin(RULES)].itertuples():
        other = base.get((run.dataset, run.seed, run.K))
        if run.selected_resolutions is None or other is None:
            continue
        n = min(len(run.selected_resolutions), len(other))
        differ = int(np.sum(np.asarray(run.selected_resolutions[:n]) != np.asarray(other[:n])))
        rows.append({"dataset": run.dataset, "variant": run.variant, "differ": differ, "epochs": n})
    if not rows:
        return pd.DataFrame()
    counts = pd.DataFrame(rows).groupby(["dataset", "variant"])[["differ", "epochs"]].sum()
    table = (counts.differ / counts.epochs).unstack("variant")
    return table.reindex([d for d in ordered_datasets(df) if d in table.index])


# -- figures --------------------------------------------------------------------------------


def critical_difference_figure(df: pd.DataFrame):
    """Average ranks and Wilcoxon–Holm cliques (aeon); None with fewer than two datasets."""
    from aeon.visualisation import plot_critical_difference

    means = dataset_means(df)
    if len(means) < 2 or means.shape[1] < 2:
        return None
    fig, _ = plot_critical_difference(means.to_numpy(), list(means.columns), test="wilcoxon", correction="holm",
                                      width=8, textspace=2.5)
    import matplotlib.pyplot as plt

    plt.close(fig)  # aeon draws with pyplot: detach the figure from it (it still saves)
    return fig


def accuracy_time_figure(df: pd.DataFrame, order: tuple[str, ...] = VARIANT_ORDER) -> Figure:
    """Mean accuracy against mean pretraining seconds, one point per dataset × variant (mean
    over seeds, bars: std), a panel per dataset so that each keeps its own scale."""
    points = summary(df).reset_index()
    names, variants = ordered_datasets(df), ordered_variants(df.variant, order)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows + 0.6), layout="constrained")
    axes = np.array(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes[len(names):]:
        ax.set_axis_off()
    for ax, dataset in zip(axes, names):
        for i, variant in enumerate(variants):
            pt = points[(points.dataset == dataset) & (points.variant == variant)]
            if len(pt):
                ax.errorbar(pt.pretrain_time_s_mean, pt.acc_mean, xerr=pt.pretrain_time_s_std.fillna(0),
                            yerr=pt.acc_std.fillna(0), fmt="osD^v<>p"[i % 8], color=f"C{i}", label=variant,
                            capsize=2, alpha=0.85)
        ax.set(title=dataset, xlabel="pretraining time (s)", ylabel="test accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=len(labels))
    return fig


def _progress_kl(probs) -> np.ndarray:
    """Mean KL from uniform in each fifth of a run's epochs (NaN where a fifth has none)."""
    kl = kl_from_uniform(probs)
    where = (np.arange(len(kl)) * PROGRESS_BINS) // max(len(kl), 1)
    return np.array([kl[where == b].mean() if (where == b).any() else np.nan for b in range(PROGRESS_BINS)])


def kl_by_progress(rows: pd.DataFrame) -> pd.DataFrame:
    """dataset × fifth of the epochs: mean over seeds of :func:`_progress_kl`."""
    bins = pd.DataFrame([_progress_kl(p) for p in rows.selection_probs], index=rows.dataset.to_numpy())
    means = bins.groupby(level=0).mean()
    return means.loc[[d for d in ordered_datasets(rows) if d in means.index]]


def selection_heatmap(df: pd.DataFrame) -> Figure | None:
    """For each rule: the probabilities of one run over epochs (resolution × epoch; the run
    with the most epochs) above the KL divergence from uniform over training
    (dataset × fifth of the epochs, mean over seeds), on one colour scale for all rules.
    None without selection records."""
    rows = df[df.variant.isin(RULES) & df.selection_probs.notna()]
    rows = rows[[len(p) > 0 for p in rows.selection_probs]]
    if rows.empty:
        return None
    rules = ordered_variants(rows.variant, RULES)
    kl = {rule: kl_by_progress(rows[rows.variant == rule]) for rule in rules}
    top_kl = max(float(np.nanmax(k.to_numpy())) for k in kl.values()) or 1.0
    top_p = max(float(np.max(p)) for p in rows.selection_probs)
    fig = Figure(figsize=(6 * len(rules), 8), layout="constrained")
    axes = np.array(fig.subplots(2, len(rules), squeeze=False))
    for (top, bottom), rule in zip(axes.T, rules):
        mine = rows[rows.variant == rule]
        run = mine.loc[mine.selection_probs.map(len).sort_values(ascending=False, kind="stable").index].iloc[0]
        image = top.imshow(np.asarray(run.selection_probs, float).T, aspect="auto", origin="lower", cmap="viridis",
                           vmin=0, vmax=top_p, interpolation="nearest")
        top.set(xlabel="epoch", ylabel="resolution r", title=f"{rule}: P(r) per epoch, {run.dataset} seed {run.seed}")
        fig.colorbar(image, ax=top, label="probability")
        image = bottom.imshow(kl[rule].to_numpy(), aspect="auto", cmap="magma", vmin=0, vmax=top_kl,
                              interpolation="nearest")
        bottom.set(yticks=range(len(kl[rule])), yticklabels=kl[rule].index, xlabel="fifth of the run's epochs",
                   title=f"{rule}: KL(P ‖ uniform), nats, mean over seeds")
        fig.colorbar(image, ax=bottom, label="nats")
    return fig


# -- the report section ---------------------------------------------------------------------


def markdown(df: pd.DataFrame, order: tuple[str, ...] = VARIANT_ORDER) -> str:
    """The study's tables: accuracy and seconds per dataset × variant, the overall means,
    average ranks, the paired tests, KL from uniform and the differing draws."""
    variants = ordered_variants(df.variant, order)
    summ = summary(df)
    table = pd.DataFrame({
        v: {d: (fmt(summ.loc[(d, v), "acc_mean"], summ.loc[(d, v), "acc_std"], 3) + " / "
                + fmt(summ.loc[(d, v), "pretrain_time_s_mean"], summ.loc[(d, v), "pretrain_time_s_std"], 1))
            for d in ordered_datasets(df) if (d, v) in summ.index}
        for v in variants}).reindex(ordered_datasets(df))
    overall = overall_table(df).loc[variants]
    sections = [
        "## Selection study\n\nAccuracy / pretraining seconds, mean ± std over seeds:\n\n"
        + to_markdown(table.rename_axis("dataset")),
        f"Per variant, over the {len(dataset_means(df))} datasets that every variant ran (the rank from "
        "dataset means, 1 = best; time against hier's: the mean over datasets of the ratio of mean "
        "seconds):\n\n" + to_markdown(overall.rename_axis("variant")),
        "Two-sided Wilcoxon signed-rank tests of accuracy (differences in points, first minus second):\n\n"
        + to_markdown(paired_tests(df), 3, index=False),
    ]
    kl = kl_table(df)
    if not kl.empty:
        sections.append("Mean KL divergence of the selection probabilities from uniform (nats; "
                        "the most peaked possible over R resolutions is log R):\n\n" + to_markdown(kl, 4))
    differ = differing_draws(df)
    if not differ.empty:
        sections.append("Share of epochs whose draw differs from random's under the same seed:\n\n"
                        + to_markdown(differ, 2))
    return "\n\n".join(sections)


def figures(df: pd.DataFrame, order: tuple[str, ...] = VARIANT_ORDER) -> dict:
    """name → figure: the CD diagram, accuracy against time and the selection heatmap."""
    out = {"critical_difference": critical_difference_figure(df), "accuracy_time": accuracy_time_figure(df, order),
           "selection_heatmap": selection_heatmap(df)}
    return {name: fig for name, fig in out.items() if fig is not None}

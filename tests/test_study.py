"""The selection study's statistics on hand-made run records, and the relative rule."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from iars.reporting import study
from iars.reporting.records import frame, ordered_datasets, variant_label
from iars.selection import ResolutionSelector, importance_scores


def _run(dataset, variant, seed, acc, time=1.0, chosen=None, probs=None, length=None):
    loss = {"iars-relative": "iars"}.get(variant, variant)
    rule = {"iars-relative": "relative", "random": "uniform"}.get(variant, "importance")
    length = length or {"A": 100, "B": 50}.get(dataset, 10)
    return {"dataset": dataset, "length": length, "loss": loss, "K": 320, "seed": seed, "acc": acc, "pretrain_time_s": time,
            "selected_resolutions": chosen, "selection_probs": probs, "config": {"loss": {"selection": {"rule": rule}}}}


def _frame(runs):
    return frame(runs)


# A: iars beats random in every seed; B: they tie; hier is best on A and worst on B.
RUNS = [
    *(_run("A", "iars", s, 0.80 + 0.01 * s, 2.0) for s in range(3)),
    *(_run("A", "random", s, 0.70 + 0.01 * s, 2.5) for s in range(3)),
    *(_run("A", "hier", s, 0.90, 6.0) for s in range(3)),
    *(_run("B", "iars", s, 0.50, 3.0) for s in range(3)),
    *(_run("B", "random", s, 0.50, 3.0) for s in range(3)),
    *(_run("B", "hier", s, 0.40, 9.0) for s in range(3)),
]


def test_relative_scores_are_a_softmax_of_relative_changes_and_scale_free():
    cur, prev = np.array([1.1, 2.0, 0.45]), np.array([1.0, 2.5, 0.5])
    p = importance_scores(cur, prev, softmaxes=1, temperature=0.05, relative=True)
    z = np.exp(((cur - prev) / prev) / 0.05)
    np.testing.assert_allclose(p, z / z.sum())
    # the same relative changes at ten times the loss scale: the same probabilities (not so for eq. 9)
    np.testing.assert_allclose(importance_scores(10 * cur, 10 * prev, 1, 0.05, relative=True), p)
    assert not np.allclose(importance_scores(10 * cur, 10 * prev, 1, 0.05), importance_scores(cur, prev, 1, 0.05))
    # a previous loss that is not positive has no relative change: probability 0, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warnings (x/0, 0/0) escape
        assert importance_scores([1.0, 1.0], [0.0, 1.0], 1, 0.05, relative=True)[0] == 0
        assert importance_scores([0.0, 1.0], [0.0, 1.0], 1, 0.05, relative=True)[0] == 0


def test_the_paper_rule_stays_near_uniform_where_the_relative_rule_does_not():
    cur, prev = [0.9, 1.0, 1.2, 1.0], [1.0, 1.0, 1.0, 1.0]  # one loss fell 10%, one rose 20%
    paper = importance_scores(cur, prev)
    relative = importance_scores(cur, prev, 1, 0.05, relative=True)
    assert paper.max() / paper.min() < math.e and relative.max() / relative.min() > 100
    assert np.argmax(relative) == 2


def test_rules_share_one_stream_of_draws():
    """Under one seed, rules draw alike wherever their probabilities agree: before two epochs
    are observed (uniform), every rule's draws equal uniform's."""
    draws = {}
    for rule in ResolutionSelector.RULES:
        selector = ResolutionSelector(5, rule=rule, softmaxes=1 if rule == "relative" else 2, seed=3)
        draws[rule] = [selector.sample() for _ in range(20)]
    assert draws["importance"] == draws["relative"] == draws["uniform"]
    with pytest.raises(Exception, match="relative"):
        ResolutionSelector(5, rule="relativ")


def test_variant_labels_tell_the_relative_rule_from_the_papers():
    assert variant_label(_run("A", "iars-relative", 0, 0.5)) == "iars-relative"
    assert variant_label(_run("A", "iars", 0, 0.5)) == "iars" and variant_label(_run("A", "random", 0, 0.5)) == "random"


def test_summary_and_dataset_means():
    df = _frame(RUNS + [_run("C", "iars", 0, 0.3)])  # C lacks random and hier
    stats = study.summary(df)
    assert stats.loc[("A", "iars"), "acc_mean"] == pytest.approx(0.81)
    assert stats.loc[("A", "iars"), "acc_std"] == pytest.approx(0.01)
    assert stats.loc[("B", "hier"), "pretrain_time_s_mean"] == 9.0 and stats.loc[("C", "iars"), "acc_count"] == 1
    assert list(study.dataset_means(df).index) == ["A", "B"]  # only datasets every variant ran


def test_overall_table_covers_the_datasets_every_variant_ran():
    out = study.overall_table(_frame(RUNS + [_run("C", "iars", 0, 0.0, 100.0)]))  # C: iars only, left out
    assert out.loc["iars", "mean acc"] == pytest.approx((0.81 + 0.50) / 2) and out.loc["iars", "runs"] == 6
    assert out.loc["iars", "mean seconds"] == pytest.approx(2.5)
    assert out["time vs hier"].to_dict() == pytest.approx({"hier": 1.0, "iars": 1 / 3, "random": (2.5 / 6 + 1 / 3) / 2})


def test_average_ranks_from_dataset_means_with_shared_ties():
    ranks = study.average_ranks(_frame(RUNS))
    # A: hier 1, iars 2, random 3; B: iars and random tie for 1.5, hier 3
    assert ranks.to_dict() == {"iars": 1.75, "hier": 2.0, "random": 2.25}
    assert list(ranks.index) == ["iars", "hier", "random"]


def test_paired_tests_pair_runs_by_dataset_and_seed():
    tests = study.paired_tests(_frame(RUNS)).set_index("pair")
    row = tests.loc["iars vs random"]
    assert (row["runs"], row["wins/ties/losses"], row["datasets"]) == (6, "3/3/0", 2)
    assert row["mean diff (pts)"] == pytest.approx(5.0)
    assert row["p (runs)"] == pytest.approx(wilcoxon([0.1, 0.1, 0.1]).pvalue)
    hier = tests.loc["iars vs hier"]
    assert hier["wins/ties/losses"] == "3/0/3"
    assert hier["p (runs)"] == pytest.approx(wilcoxon([-0.1, -0.09, -0.08, 0.1, 0.1, 0.1]).pvalue)
    assert "iars-relative vs random" not in tests.index  # no such runs


def test_holm_adjustment():
    p = pd.Series([0.01, 0.04, np.nan, 0.03, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1 = 0.04, 0.09, 0.08, 0.5; running max
    np.testing.assert_allclose(study.holm(p), [0.04, 0.09, np.nan, 0.09, 0.5])
    assert study.holm(pd.Series([0.6, 0.7])).tolist() == [1.0, 1.0]


def test_no_difference_at_all_is_p_1():
    same = [_run("A", v, s, 0.5) for v in ("iars", "random") for s in range(3)]
    assert study.paired_tests(_frame(same)).set_index("pair").loc["iars vs random", "p (runs)"] == 1.0


def test_kl_from_uniform():
    np.testing.assert_allclose(study.kl_from_uniform([[0.25] * 4, [1, 0, 0, 0], [0.5, 0.5, 0, 0]]),
                               [0.0, math.log(4), math.log(2)], atol=1e-12)


def test_kl_table_and_differing_draws():
    uniform, peaked = [[0.5, 0.5]] * 4, [[1.0, 0.0]] * 4
    runs = [_run("A", "random", 0, 0.5, chosen=[0, 1, 1, 0], probs=uniform),
            _run("A", "iars", 0, 0.5, chosen=[0, 1, 1, 0], probs=uniform),
            _run("A", "iars-relative", 0, 0.5, chosen=[0, 0, 0, 0], probs=peaked),
            _run("A", "random", 1, 0.5, chosen=[1, 1], probs=uniform[:2]),
            _run("A", "iars-relative", 1, 0.5, chosen=[1, 0, 0], probs=peaked[:3])]  # compared over 2 epochs
    df = _frame(runs)
    kl = study.kl_table(df)
    assert kl.loc["A", "iars"] == pytest.approx(0) and kl.loc["A", "iars-relative"] == pytest.approx(math.log(2))
    differ = study.differing_draws(df)
    assert differ.loc["A", "iars"] == 0 and differ.loc["A", "iars-relative"] == pytest.approx(3 / 6)
    bins = study.kl_by_progress(df[df.variant == "iars-relative"])
    assert bins.shape == (1, study.PROGRESS_BINS) and np.nanmax(bins.to_numpy()) == pytest.approx(math.log(2))


def test_is_study_needs_random_and_a_rule():
    assert study.is_study(_frame(RUNS))
    assert not study.is_study(_frame([r for r in RUNS if r["loss"] != "random"]))


def test_markdown_and_figures_of_a_study():
    runs = RUNS + [_run(d, "iars-relative", s, 0.6, 2.0, [0, 1], [[0.9, 0.1], [0.2, 0.8]])
                   for d in ("A", "B") for s in range(3)]
    df = _frame(runs)
    text = study.markdown(df, ("hier", "iars", "iars-relative", "random"))
    assert "| A | 0.900 ± 0.000 / 6.0 ± 0.0 | 0.810 ± 0.010 / 2.0 ± 0.0 |" in text
    assert "| iars vs random | 6 | 5.000 | 3/3/0 |" in text and "p Holm (runs)" in text
    assert ordered_datasets(df) == ["B", "A"]  # by series length
    assert text.index("| B |") < text.index("| A |")
    assert "| C | – | 0.300 / 1.0 |" in study.markdown(_frame(RUNS + [_run("C", "iars", 0, 0.3)]), ("hier", "iars"))
    figs = study.figures(df, ("hier", "iars"))
    assert set(figs) == {"critical_difference", "accuracy_time", "selection_heatmap"}
    one = study.figures(df[df.dataset == "A"], ("hier",))
    assert "critical_difference" not in one  # needs two datasets

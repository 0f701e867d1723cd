"""The report (iars.reporting): records, aggregation and tables on hand-made run records,
figures, the report, and the CLI."""
import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

import iars.reporting
from helpers import REPO
from iars.errors import ReportError
from iars.reporting import write_report
from iars.reporting.records import baseline_frame, frame, load_runs, ordered_datasets, ordered_variants, variant_label
from iars.reporting.tables import (
    ACC,
    TIME,
    baseline_table,
    baseline_time_table,
    best,
    comparison_tables,
    fmt,
    scaling_axes,
    scaling_table,
    stats,
)
from iars.scripts import report as report_script


def _run(dataset, loss, K, seed, time, acc, length=100, **extra):
    return {"dataset": dataset, "loss": loss, "K": K, "seed": seed, "pretrain_time_s": time, "acc": acc,
            "length": length, "n_train": 40, **extra}


def _rows(table: str) -> dict[str, list[str]]:
    """A markdown table's body rows by their first cell."""
    lines = [line for line in table.splitlines() if line.startswith("| ")][2:]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines)}


# BasicMotions: hier slower and better; Synthetic (longer): iars faster and better, one K only.
RUNS = [
    _run("BasicMotions", "hier", 16, 0, 10.0, 0.90), _run("BasicMotions", "hier", 16, 1, 12.0, 1.00),
    _run("BasicMotions", "iars", 16, 0, 4.0, 0.80), _run("BasicMotions", "iars", 16, 1, 6.0, 0.90),
    _run("BasicMotions", "hier", 32, 0, 11.0, 0.95), _run("BasicMotions", "iars", 32, 0, 5.5, 0.95),
    _run("Synthetic", "hier", 16, 0, 30.0, 0.50, length=500), _run("Synthetic", "iars", 16, 0, 10.0, 0.60, length=500),
]


def test_stats_are_mean_and_sample_std_over_seeds():
    df = frame([_run("A", "hier", 16, seed, 1.0, acc) for seed, acc in enumerate((0.8, 0.9, 1.0))])
    row = stats(df, ("dataset",), "acc").loc["A"]
    assert row["mean"] == pytest.approx(0.9) and row["std"] == pytest.approx(0.1) and row["count"] == 3
    assert fmt(row["mean"], row["std"], 3) == "0.900 ± 0.100"
    one = stats(df[df.seed == 0], ("dataset",), "acc").loc["A"]
    assert math.isnan(one["std"]) and fmt(one["mean"], one["std"], 3) == "0.800"  # one seed: no ±
    unmeasured = frame([_run("A", "hier", 16, 0, 1.0, None), _run("B", "hier", 16, 0, 1.0, 0.5)])
    assert stats(unmeasured, ("dataset",), "acc").index.tolist() == ["B"]  # rows without the value are left out


def test_best_marks_ties_on_the_shown_value_and_skips_missing():
    assert best([0.8, None, 0.8004], ACC) == [True, False, True]
    assert best([2.0, 1.0], TIME) == [False, True]
    assert best([None, float("nan")], TIME) == [False, False]
    # the shown value is the correctly rounded one (0.0295 is 0.02949… in binary: "0.029"), which numpy's
    # round of a float64 is not (0.03): only the shown best is bold
    assert best([np.float64(0.0295), np.float64(0.0299)], ACC) == [False, True]


def test_the_order_of_datasets_and_variants():
    df = frame(RUNS + [_run("Tiny", "fixed", 16, 0, 1.0, 0.5, length=10, config={"loss": {"resolution": -1}})])
    assert ordered_datasets(df) == ["Tiny", "BasicMotions", "Synthetic"]  # by series length
    assert ordered_variants(["random", "fixed r=-1", "iars", "hier", "iars"]) == ["hier", "iars", "random", "fixed r=-1"]


def test_comparison_table_has_the_papers_shape():
    tables = comparison_tables(frame(RUNS))
    k16 = _rows(tables.split("### K = 32")[0])
    assert list(k16) == ["BasicMotions", "Synthetic", "# of best"]  # ordered by series length
    assert k16["BasicMotions"] == ["11.00 ± 1.41", "**0.950 ± 0.071**", "**5.00 ± 1.41**", "0.850 ± 0.071", "2.20×"]
    assert k16["Synthetic"] == ["30.00", "0.500", "**10.00**", "**0.600**", "3.00×"]
    assert k16["# of best"] == ["0", "1", "2", "1", ""]
    k32 = _rows(tables.split("### K = 32")[1].split("### All K")[0])
    assert list(k32) == ["BasicMotions", "# of best"]  # no Synthetic run at K = 32
    assert k32["BasicMotions"] == ["11.00", "**0.950**", "**5.50**", "**0.950**", "2.00×"]  # a tie: both bold
    assert _rows(tables.split("### All K")[1])["Total # of best"] == ["0", "2", "3", "2", ""]


def test_comparison_table_with_one_loss_has_no_speedup_and_dashes_for_missing_runs():
    runs = [_run("A", "hier", 16, 0, 1.0, 0.5), _run("B", "hier", 16, 0, 2.0, 0.7), _run("B", "random", 16, 0, 1.0, 0.6)]
    rows = _rows(comparison_tables(frame(runs)))
    assert "speed-up" not in comparison_tables(frame(runs))
    assert rows["A"] == ["**1.00**", "**0.500**", "–", "–"]


def test_variant_labels_name_the_ablations():
    assert variant_label({"loss": "fixed", "config": {"loss": {"resolution": -1}}}) == "fixed r=-1"
    assert variant_label({"loss": "random", "config": {"loss": {"granularity": "step"}}}) == "random/step"
    assert variant_label({"loss": "iars"}) == "iars"


def test_baseline_table_bolds_the_best_underlines_the_second_and_averages():
    nn = [{"dataset": "BasicMotions", "loss": "baselines", "normalise": "none",
           "acc": {"1NN-ED": 0.7, "1NN-DTW-I": 1.0, "1NN-DTW-D": 0.975}},
          {"dataset": "Synthetic", "loss": "baselines", "normalise": "none",
           "acc": {"1NN-ED": 0.4, "1NN-DTW-I": 0.3, "1NN-DTW-D": None}}]
    table = baseline_table(frame(RUNS), baseline_frame(nn), 16)
    header = [c.strip() for c in table.splitlines()[2].strip("|").split("|")]
    assert header == ["dataset", "hier", "iars", "1NN-DTW-D", "1NN-DTW-I", "1NN-ED"]
    rows = _rows(table)
    assert rows["BasicMotions"] == ["0.950 ± 0.071", "0.850 ± 0.071", "<u>0.975</u>", "**1.000**", "0.700"]
    assert rows["Synthetic"] == ["<u>0.500</u>", "**0.600**", "–", "0.300", "0.400"]
    assert rows["Average"] == ["**0.725**", "**0.725**", "–", "0.650", "0.550"]  # DTW-D lacks a dataset
    assert rows["# of best"] == ["0", "1", "0", "1", "0"]


# A record of today's iars-baselines (MiniRocket, Catch22 and their seconds) and an older 1-NN
# record without seconds, for the same and another dataset.
BASELINE_RECORDS = [
    {"dataset": "BasicMotions", "loss": "baselines", "normalise": "none", "missing": "refuse", "seed": 42,
     "acc": {"1NN-ED": 0.6, "MiniRocket": 1.0, "Catch22": 0.975},
     "time_s": {"1NN-ED": 0.5, "MiniRocket": 2.0, "Catch22": 3.0},
     "fit_s": {"1NN-ED": 0.0, "MiniRocket": 1.5, "Catch22": 2.5},
     "predict_s": {"1NN-ED": 0.5, "MiniRocket": 0.5, "Catch22": 0.5}, "notes": {}},
    {"dataset": "Synthetic", "loss": "baselines", "normalise": "none", "acc": {"1NN-ED": 0.4}},
]


def test_minirocket_and_catch22_rows_beside_the_ssl_rows_with_their_seconds():
    nn = baseline_frame(BASELINE_RECORDS)
    assert nn.time_s.isna().tolist() == [False, False, False, True]  # the older record has no seconds
    acc = _rows(baseline_table(frame(RUNS), nn, 16))
    assert acc["BasicMotions"] == ["0.950 ± 0.071", "0.850 ± 0.071", "0.600", "<u>0.975</u>", "**1.000**"]
    assert acc["Synthetic"] == ["<u>0.500</u>", "**0.600**", "0.400", "–", "–"]
    table = baseline_time_table(frame(RUNS), nn, 16)
    header = [c.strip() for c in table.splitlines()[4].strip("|").split("|")]
    assert table.startswith("### Seconds, K = 16") and "baselines: fit + predict" in table
    assert header == ["dataset", "hier", "iars", "1NN-ED", "Catch22", "MiniRocket"]
    seconds = _rows(table)
    assert seconds == {"BasicMotions": ["11.00 ± 1.41", "5.00 ± 1.41", "**0.50**", "3.00", "2.00"],
                       "Synthetic": ["30.00", "**10.00**", "–", "–", "–"]}


def test_write_report_shows_the_baselines_accuracy_and_seconds(tmp_path):
    _write_runs(tmp_path / "ssl", RUNS)
    _write_runs(tmp_path / "nn", BASELINE_RECORDS)
    text = write_report([tmp_path / "ssl", tmp_path / "nn"], tmp_path / "out", k=16)[0].read_text()
    assert text.splitlines()[2] == "8 SSL runs, 2 baseline runs; mean ± std over seeds."
    assert "### Accuracy, K = 16" in text and "### Seconds, K = 16" in text
    assert "| BasicMotions | 11.00 ± 1.41 | 5.00 ± 1.41 | **0.50** | 3.00 | 2.00 |" in text
    assert (tmp_path / "out" / "baselines.png").stat().st_size > 5000


def test_scaling_sweeps_get_time_against_the_varying_axis():
    runs = [_run("Synthetic", loss, 16, seed, t * (2 if loss == "hier" else 1), 0.5, length=length)
            for length, t in ((100, 1.0), (200, 2.0)) for loss in ("hier", "iars") for seed in (0, 1)]
    assert scaling_axes(frame(runs)) == ["length"] and scaling_axes(frame(RUNS)) == []
    rows = _rows(scaling_table(frame(runs), "length"))
    assert rows == {"100": ["2.00 ± 0.00", "**1.00 ± 0.00**", "2.00×"], "200": ["4.00 ± 0.00", "**2.00 ± 0.00**", "2.00×"]}


def _write_runs(root, runs, embeddings=False):
    for i, run in enumerate(runs):
        job = root / str(i)
        (job / ".hydra").mkdir(parents=True)
        (job / "metrics.json").write_text(json.dumps(run))
        if embeddings:
            rng = np.random.default_rng(i)
            y = np.repeat([0, 1], 10)
            np.savez(job / "embeddings.npz", train=rng.normal(size=(20, 4)), y_train=y,
                     test=rng.normal(size=(20, 4)) + y[:, None], y_test=y)


def test_write_report_writes_the_tables_and_nonempty_figures(tmp_path):
    runs = [dict(r, selected_resolutions=[3, 1, 2]) if r["loss"] == "iars" else r for r in RUNS]
    _write_runs(tmp_path / "sweep", runs, embeddings=True)
    (tmp_path / "sweep" / "failed" / ".hydra").mkdir(parents=True)  # a job that wrote no metrics.json
    report, figures = write_report([tmp_path / "sweep"])
    text = report.read_text()
    assert report == tmp_path / "sweep" / "report.md" and "### K = 16" in text and "1 job(s) without metrics.json" in text
    assert sorted(p.name for p in figures) == ["scatter.png", "selected_resolutions.png", "tsne.png"]
    for path in figures:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
        assert f"![{path.stem}]({path.name})" in text


def test_load_runs_reports_what_is_wrong(tmp_path):
    with pytest.raises(ReportError, match="no metrics.json under .*is this a sweep dir"):
        load_runs([tmp_path])
    with pytest.raises(ReportError, match="is not a directory"):
        load_runs([tmp_path / "nowhere"])
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "metrics.json").write_text("{not json")
    with pytest.raises(ReportError, match="not a readable run record"):
        load_runs([tmp_path])


def test_cli_error_is_one_line_and_exit_2(tmp_path, capsys):
    assert report_script.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no metrics.json under") and err.count("\n") == 1


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_out_folder_that_cannot_be_one_is_one_line_and_exit_2(tmp_path, capsys, where):
    _write_runs(tmp_path / "sweep", RUNS[:2])
    (tmp_path / "taken").write_text("mine")
    out = tmp_path / "taken" if where == "a file" else tmp_path / "taken" / "report"
    assert report_script.main([str(tmp_path / "sweep"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    expected = (f"error: the report folder {out} is a file" if where == "a file" else
                f"error: cannot make the report folder {out} ({tmp_path / 'taken'} is a file)")
    assert err.startswith(expected) and err.count("\n") == 1 and "--out" in err
    assert (tmp_path / "taken").read_text() == "mine"  # the file is left as it was


def test_cli_logs_the_figures_to_an_offline_wandb_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    _write_runs(tmp_path / "sweep", [dict(r, config={"experiment_name": "toy"}) for r in RUNS])
    assert report_script.main([str(tmp_path / "sweep"), "--wandb", "offline"]) == 0
    assert "| BasicMotions |" in capsys.readouterr().out
    runs = list((tmp_path / "sweep" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].rglob("*.wandb"))
    assert list((runs[0] / "files" / "media" / "images").glob("scatter_*.png"))


def test_records_with_the_older_key_names_are_read(tmp_path):
    old = [dict(r, selected_levels=[3, 1, 2], level_losses=[[1.0]], config={"loss": {"level": 2}})
           if r["loss"] == "iars" else r for r in RUNS]
    _write_runs(tmp_path / "sweep", old)
    runs, _ = load_runs([tmp_path / "sweep"])
    iars_runs = [r for r in runs if r["loss"] == "iars"]
    assert all(r["selected_resolutions"] == [3, 1, 2] and "selected_levels" not in r for r in iars_runs)
    assert iars_runs[0]["resolution_losses"] == [[1.0]] and iars_runs[0]["config"]["loss"]["resolution"] == 2
    _, figures = write_report([tmp_path / "sweep"])
    assert "selected_resolutions.png" in [p.name for p in figures]


def test_the_reporting_modules_import_one_way():
    """records → tables → figures, study → the package: each module imports only the ones before it."""
    before = {"records": set(), "tables": {"records"}, "figures": {"records", "tables"}, "study": {"records", "tables"},
              "tasks": {"records", "tables", "study"}}
    for name, allowed in before.items():
        tree = ast.parse((Path(iars.reporting.__file__).parent / f"{name}.py").read_text())
        imported = {node.module.split(".")[2] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("iars.reporting.")}
        assert imported <= allowed, (name, imported - allowed)
        assert not any(isinstance(node, ast.ImportFrom) and node.module == "iars.reporting" for node in ast.walk(tree))


def test_fixed_resolutions_follow_the_ranked_variants_by_name():
    from iars.reporting.records import ordered_variants

    labels = ["fixed r=1", "fixed r=0", "random", "fixed r=-2", "hier", "fixed r=-1", "iars-relative", "iars"]
    assert ordered_variants(labels) == ["hier", "iars", "iars-relative", "random",
                                        "fixed r=-1", "fixed r=-2", "fixed r=0", "fixed r=1"]


# -- the downstream tasks: forecasting and anomaly detection -----------------------------------


def _forecast_run(dataset, loss, seed, mse, time, untrained=(0.9, 0.95), lagged=0.5, horizons=(24, 48)):
    """A forecasting record: test MSE ``mse[i]`` at ``horizons[i]`` (MAE = MSE / 2), the controls'
    (the untrained encoder's per seed, the lagged window's the same for every run)."""
    def results(values):
        return {str(h): {"mse": v, "mae": v / 2, "mse_raw": 10 * v, "mae_raw": 5 * v, "alpha": 1.0, "valid_score": v,
                         "ridge_time_s": 0.1} for h, v in zip(horizons, values)}
    return {"dataset": dataset, "loss": loss, "variant": loss, "K": 16, "seed": seed, "pretrain_time_s": time,
            "forecast": results(mse), "horizons": list(horizons), "length": 400,
            "controls": {"untrained": {"forecast": results([untrained[seed % 2]] * len(horizons))},
                         "lagged": {"forecast": results([lagged] * len(horizons))}},
            "config": {"task": {"name": "forecasting", "padding": 20}}}


# hier: slower, iars better at H = 24 in every seed and worse at 48 in one
FORECASTS = [
    _forecast_run("ETTh1", "hier", 0, (0.10, 0.20), 10.0), _forecast_run("ETTh1", "hier", 1, (0.12, 0.22), 12.0),
    _forecast_run("ETTh1", "hier", 2, (0.14, 0.24), 14.0), _forecast_run("ETTh1", "iars", 0, (0.08, 0.19), 5.0),
    _forecast_run("ETTh1", "iars", 1, (0.10, 0.23), 6.0), _forecast_run("ETTh1", "iars", 2, (0.12, 0.20), 7.0),
]


def _anomaly_run(dataset, loss, seed, f1, time, series=("a", "b"), base_f1=0.5):
    """An anomaly record over ``series``: pooled F1 ``f1``, each series' F1 f1 ± 0.1 (the last
    series: no labelled anomaly, None), point-wise F1 and PR-AUC from it; the baseline's by seed."""
    def scores(value):
        return {"f1": value, "point_f1": None if value is None else value / 2,
                "range_pr_auc": None if value is None else value / 4, "precision": value, "recall": value}
    per = {s: scores(None if i == len(series) - 1 and len(series) > 1 else f1 + 0.1 * (-1) ** i)
           for i, s in enumerate(series)}
    base = {"detector": "KMeansAD(n_clusters=20, window_size=20)", **scores(base_f1 + 0.1 * seed),
            "per_series": {s: scores(base_f1 + 0.1 * seed) for s in series}}
    return {"dataset": dataset, "loss": loss, "variant": loss, "K": 16, "seed": seed, "pretrain_time_s": time,
            "anomaly": scores(f1), "per_series": per, "baseline": base, "n_series": len(series),
            "config": {"task": {"name": "anomaly"}}}


ANOMALIES = [_anomaly_run("NAB", loss, seed, f1, time) for loss, f1s, time in (("hier", (0.4, 0.5, 0.6), 10.0),
                                                                               ("random", (0.5, 0.6, 0.6), 4.0))
             for seed, f1 in enumerate(f1s)]


def test_records_are_told_apart_by_task_and_checked_for_what_the_report_reads(tmp_path):
    from iars.reporting.records import kind

    assert [kind(r) for r in (RUNS[0], FORECASTS[0], ANOMALIES[0], {"loss": "baselines"})] == [
        "classification", "forecasting", "anomaly", "baselines"]
    assert kind({"loss": "hier", "config": {"task": "forecasting"}}) == "forecasting"  # the name alone: older records
    assert kind({"loss": "hier", "config": {"task": {"name": None}}}) == "classification"
    _write_runs(tmp_path / "ok", [FORECASTS[0], ANOMALIES[0]])  # neither has acc: both are read
    assert len(load_runs([tmp_path / "ok"])[0]) == 2
    _write_runs(tmp_path / "bad", [{k: v for k, v in FORECASTS[0].items() if k != "forecast"}])
    with pytest.raises(ReportError, match="lacks forecast"):
        load_runs([tmp_path / "bad"])
    _write_runs(tmp_path / "other", [dict(FORECASTS[0], config={"task": {"name": "imputation"}})])
    with pytest.raises(ReportError, match="task 'imputation', which the report does not know"):
        load_runs([tmp_path / "other"])


def test_forecasting_table_has_each_variants_and_controls_mse_and_mae_per_horizon():
    from iars.reporting.tasks import forecast_frame, forecast_tables

    table = forecast_tables(forecast_frame(FORECASTS))
    header = [c.strip() for c in table.splitlines()[2].strip("|").split("|")]
    assert header == ["dataset", "H", "hier MSE", "hier MAE", "iars MSE", "iars MAE", "untrained MSE", "untrained MAE",
                      "lagged MSE", "lagged MAE"]
    rows = [line.split("|")[1:-1] for line in table.splitlines()[4:]]
    first = [c.strip() for c in rows[0]]
    # the untrained control: the same for every variant of a seed, its std over the 3 seeds (0.9, 0.95, 0.9)
    assert first == ["ETTh1", "24", "0.120 ± 0.020", "0.060 ± 0.010", "**0.100 ± 0.020**", "**0.050 ± 0.010**",
                     "0.917 ± 0.029", "0.458 ± 0.014", "0.500 ± 0.000", "0.250 ± 0.000"]
    assert [c.strip() for c in rows[1]][:4] == ["ETTh1", "48", "0.220 ± 0.020", "0.110 ± 0.010"]
    assert len(rows) == 2


def test_forecasting_paired_differences_per_horizon_and_the_time_saved():
    from scipy.stats import wilcoxon

    from iars.reporting.tasks import forecasting_markdown, run_frame, time_savings

    text = forecasting_markdown(FORECASTS)
    assert "| iars vs hier | MSE@24 | 3 | 1 | -0.020 | 3/0/0 |" in text
    assert f"| iars vs hier | MSE@48 | 3 | 1 | -0.013 | 2/0/1 | {wilcoxon([-0.01, 0.01, -0.04]).pvalue:.3f} |" in text
    saved = time_savings(run_frame(FORECASTS)).iloc[0]
    assert saved["pair"] == "iars vs hier" and saved["pairs"] == 3
    assert saved["saving 1 − first/second"] == pytest.approx(1 - np.mean([5 / 10, 6 / 12, 7 / 14]))
    assert saved["p"] == pytest.approx(wilcoxon([-5.0, -6.0, -7.0]).pvalue)
    assert "| ETTh1 | 12.00 ± 2.00 | **6.00 ± 1.00** |" in text  # pretraining seconds per variant


def test_anomaly_tables_per_series_pooled_and_the_baseline():
    from iars.reporting.tasks import anomaly_frame, anomaly_tables

    tables = anomaly_tables(anomaly_frame(ANOMALIES))
    f1 = _rows(tables.split("### Anomaly detection: point-wise F1")[0])
    assert list(f1) == ["NAB: all (2 series)", "NAB: a", "NAB: b"]
    assert f1["NAB: all (2 series)"] == ["0.500 ± 0.100", "0.567 ± 0.058", "**0.600 ± 0.100**"]
    assert f1["NAB: a"] == ["0.600 ± 0.100", "**0.667 ± 0.058**", "0.600 ± 0.100"]  # a's F1: the pooled + 0.1
    assert f1["NAB: b"] == ["–", "–", "**0.600 ± 0.100**"]  # no labelled anomaly in the runs' b: no F1
    header = [c.strip() for c in tables.splitlines()[2].strip("|").split("|")]
    assert header == ["series", "hier", "random", "KMeansAD"]
    pr = _rows(tables.split("### Anomaly detection: range PR-AUC")[1])
    assert pr["NAB: all (2 series)"][:2] == ["0.125 ± 0.025", "0.142 ± 0.014"]


def test_anomaly_paired_differences_of_the_pooled_and_the_per_series_scores():
    from iars.reporting.tasks import anomaly_markdown

    text = anomaly_markdown(ANOMALIES)
    assert "| random vs hier | delay-adjusted F1 | 3 | 1 | +0.067 | 2/1/0 |" in text
    assert "| random vs hier | delay-adjusted F1 by series | 3 | 1 | +0.067 | 2/1/0 |" in text  # b has none
    assert "| random vs hier | 3 | 4.000 | 10.000 | 0.600 | 0.250 |" in text  # 1 − 4/10 saved


def _write_figure_data(root, runs, first=0):
    """forecast.npz or anomaly_scores.npz, as the task stages write them, into the job dirs of
    ``runs`` (:func:`_write_runs`'s, numbered from ``first``)."""
    from iars.tasks.anomaly import write_scores

    for i, run in enumerate(runs, first):
        job, rng = root / str(i), np.random.default_rng(i)
        if "forecast" in run:
            arrays = {"horizons": np.array(run["horizons"]), "start": np.int64(300), "context": rng.normal(size=21),
                      "target": np.array("OT")}
            for h in run["horizons"]:
                truth = np.sin(np.arange(h) / 4)
                arrays |= {f"true_{h}": truth, f"pred_{h}": truth + 0.1 * rng.normal(size=h)}
            np.savez(job / "forecast.npz", **arrays)
        else:
            labels = np.zeros(400, dtype=int)
            labels[200:210] = 1
            scores = rng.random(400) + 3 * labels
            write_scores(job, {s: (scores, 2.0, labels if s == "a" else 0 * labels, (scores > 2).astype(int))
                               for s in run["per_series"]})


def test_write_report_of_task_runs_beside_classification_runs(tmp_path):
    classification_only, _ = write_report([_fresh(tmp_path / "c", RUNS)], tmp_path / "c_out")
    sweep = _fresh(tmp_path / "all", RUNS + FORECASTS + ANOMALIES)
    _write_figure_data(sweep, FORECASTS + ANOMALIES, first=len(RUNS))
    report, figures = write_report([sweep])
    text = report.read_text()
    assert text.splitlines()[2] == "8 SSL runs, 0 baseline runs, 6 forecasting runs, 6 anomaly runs; mean ± std over seeds."
    classification = classification_only.read_text().split("\n\n", 2)[2].split("![")[0]
    assert classification in text  # the classification part is as it was without the task runs
    assert "## Forecasting" in text and "## Anomaly detection" in text and "| NAB: a |" in text
    assert {"forecast.png", "anomaly_scores.png"} <= {p.name for p in figures}
    for name in ("forecast", "anomaly_scores"):
        png = sweep / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000 and f"![{name}]({name}.png)" in text
    only_tasks, figures = write_report([_fresh(tmp_path / "tasks", FORECASTS)])
    assert only_tasks.read_text().splitlines()[2] == "6 forecasting runs; mean ± std over seeds."
    assert figures == []  # no forecast.npz: no figure


def _fresh(root, runs):
    _write_runs(root, runs)
    return root


def test_the_shipped_selection_study_report_is_regenerated_byte_for_byte(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the report names its dirs as given
    report, _ = write_report(["docs/selection_study/runs"], tmp_path)
    assert report.read_text() == (REPO / "docs" / "selection_study" / "report.md").read_text()


def _benchmark_baseline_tables() -> list[str]:
    """docs/benchmarks.md's baselines tables, from the committed records (as the page says)."""
    from iars.reporting import to_markdown

    ssl = frame(load_runs(["docs/selection_study/runs"])[0])
    ssl = ssl[ssl.variant.isin(["hier", "iars"])]
    nn = baseline_frame(load_runs(["docs/baselines/runs"])[0])
    ten = nn[nn.dataset.isin(set(ssl.dataset))]
    rest = nn[~nn.dataset.isin(set(ssl.dataset))].set_index(["dataset", "variant"])
    return [baseline_table(ssl, ten, 320), baseline_time_table(ssl, ten, 320), to_markdown(rest, digits=3)]


def test_the_benchmarks_baseline_tables_are_the_committed_records(monkeypatch):
    monkeypatch.chdir(REPO)
    page = (REPO / "docs" / "benchmarks.md").read_text()
    for table in _benchmark_baseline_tables():  # the tables themselves (the page words their titles)
        assert "\n".join(line for line in table.splitlines() if line.startswith("|")) in page

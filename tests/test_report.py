"""The report (iars.reporting): records, aggregation and tables on hand-made run records,
figures, the report, and the CLI."""
import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

import iars.reporting
from iars.errors import ReportError
from iars.reporting import write_report
from iars.reporting.records import baseline_frame, frame, load_runs, ordered_datasets, ordered_variants, variant_label
from iars.reporting.tables import (
    ACC,
    TIME,
    baseline_table,
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
    before = {"records": set(), "tables": {"records"}, "figures": {"records", "tables"}, "study": {"records", "tables"}}
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

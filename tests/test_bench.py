"""scripts/bench.py at toy scale: every variant runs and the report has the ratios."""
import json

from iars.scripts import bench


def test_bench_runs_every_variant_and_reports_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--K", "8", "--steps", "2", "--rounds", "1", "--json", str(out),
                "--variants", *bench.VARIANTS, "dataset=synthetic", "dataset.length=32",
                "dataset.n_train=8", "model.depth=1"])
    printed = capsys.readouterr().out
    assert "hier/iars = " in printed and "iars/floor = " in printed
    results = json.loads(out.read_text())["K=8"]
    assert set(results) == set(bench.VARIANTS)
    assert all(r["per_step"] > 0 and r["median_step"] > 0 for r in results.values())
    assert results["iars"]["probe_s"] > 0 and results["hier"]["probe_s"] == 0


def test_losses_mode_times_and_measures_every_variant(tmp_path, capsys):
    out = tmp_path / "losses.json"
    bench.main(["--losses", "--T", "40", "--K", "8", "--batch-size", "2", "--rounds", "1", "--json", str(out),
                "--loss-variants", "reference", "iars", "iars-block16"])
    assert "| 40 | 8 | iars-block16 |" in capsys.readouterr().out
    row = json.loads(out.read_text())["T=40,K=8"]
    assert set(row) == {"reference", "iars", "iars-block16"}
    assert all(r["seconds"] > 0 and r["peak_mb"] >= 0 for r in row.values())

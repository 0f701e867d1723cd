"""iars-bench (:mod:`iars.bench`) at toy scale: every variant runs and the report has the
ratios; one mode per command, and only Hydra overrides besides the options."""
import json

import pytest

from iars import bench
from iars.bench.common import VARIANTS
from iars.bench.overhead import OVERHEAD


def test_bench_runs_every_variant_and_reports_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--K", "8", "--steps", "2", "--rounds", "1", "--json", str(out),
                "--variants", *VARIANTS, "dataset=synthetic", "dataset.length=32",
                "dataset.n_train=8", "model.depth=1"])
    printed = capsys.readouterr().out
    assert "hier/iars = " in printed and "iars/floor = " in printed
    results = json.loads(out.read_text())["K=8"]
    assert set(results) == set(VARIANTS)
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


def test_encode_mode_times_iars_against_ts2vecs_loop_on_the_same_weights(tmp_path, capsys):
    out = tmp_path / "encode.json"
    bench.main(["--encode", "--T", "30", "--K", "8", "--channels", "2", "--padding", "6", "--rounds", "1",
                "--json", str(out)])
    assert "| loop |" in capsys.readouterr().out
    result = json.loads(out.read_text())["T=30,K=8"]
    assert set(result["seconds"]) == {"iars", "loop"} and all(s > 0 for s in result["seconds"].values())
    assert result["max_abs_diff_from_iars"]["loop"] < 1e-5


def test_forecast_mode_runs_the_forecasting_protocol_per_variant(tmp_path, capsys):
    out = tmp_path / "forecast.json"
    bench.main(["--forecast", "--steps", "2", "--rounds", "1", "--variants", "hier", "iars", "--json", str(out),
                "model.K=8", "model.hidden=8", "model.depth=1"])  # aeon's solar series
    assert "| hier | 6 |" in capsys.readouterr().out
    runs = json.loads(out.read_text())
    assert set(runs) == {"hier", "iars"} and all(run[0]["steps"] == 2 for run in runs.values())
    assert set(runs["iars"][0]["forecast"]) == {"6", "12", "24"}


def test_reference_weights_keep_their_names_under_ts2vecs_encoder():
    """The state dict handed to the reference TS2Vec: its TSEncoder's names, nothing lost."""
    from iars.bench.reference_worker import ts2vec_state
    from iars.encoders import DilatedConvEncoder

    state = DilatedConvEncoder(2, K=8, hidden=4, depth=2).state_dict()
    renamed = ts2vec_state(state)
    assert len(renamed) == len(state) and "feature_extractor.net.0.conv1.conv.weight" in renamed
    assert "feature_extractor.net.2.projector.bias" in renamed and "input_fc.weight" in renamed


def test_probe_mode_times_one_measurement_each_way(tmp_path, capsys):
    out = tmp_path / "probe.json"
    bench.main(["--probe", "--K", "8", "--steps", "3", "--json", str(out), "dataset=synthetic",
                "dataset.length=32", "dataset.n_train=8", "model.depth=1"])
    assert "| probe s | reuse s | probe / reuse |" in capsys.readouterr().out
    result = json.loads(out.read_text())["K=8"]
    assert set(result) == {"probe", "reuse"} and all(v > 0 for v in result.values())


FAKE_REFERENCE = '''
import numpy as np


class TS2Vec:  # the reference's interface: fit(X N×T×C, n_iters), encode(X, encoding_window), n_iters
    def __init__(self, input_dims, output_dims, hidden_dims, depth, device, batch_size, lr, max_train_length):
        self.K, self.n_iters = output_dims, 0

    def fit(self, X, n_iters):
        self.n_iters = n_iters

    def encode(self, X, encoding_window):
        assert encoding_window == "full_series"
        return np.nan_to_num(X).max(axis=1)[:, :1].repeat(self.K, axis=1)
'''


def test_whole_runs_beside_the_bench_and_a_reference(tmp_path, capsys):
    (tmp_path / "ts2vec.py").write_text(FAKE_REFERENCE)
    out = tmp_path / "runs.json"
    bench.main(["--runs", "--K", "8", "--steps", "3", "--rounds", "1", "--variants", "hier", "iars", "floor",
                "--vs-reference", str(tmp_path), "--json", str(out), "dataset=synthetic", "model.depth=1",
                "logger=csv", "trainer.enable_progress_bar=false", "classifier=logreg"])
    printed = capsys.readouterr().out
    assert "### Whole runs" in printed and "hier/reference = " in printed
    results = json.loads(out.read_text())["K=8"]
    assert set(results) == {"hier", "iars", "reference"}  # floor is no run
    assert all(r["steps"] == 3 and 0 <= r["acc"] <= 1 for r in results.values())
    assert results["hier"]["bench_median_step"] > 0 and results["reference"]["median_step"] is None


def test_overhead_rows_and_a_missing_reference(tmp_path, capsys):
    bench.main(["--overhead", "--K", "8", "--steps", "3", "--rounds", "1", "--variants", "iars", "dataset=synthetic",
                "model.depth=1", "logger.mode=disabled"])
    printed = capsys.readouterr().out
    for row in OVERHEAD:
        assert f"| {row} |" in printed
    with pytest.raises(SystemExit):
        bench.main(["--runs", "--vs-reference", str(tmp_path)])
    assert "no ts2vec.py there" in capsys.readouterr().err


def test_two_modes_are_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--losses", "--runs"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and err[-1] == "iars-bench: error: argument --runs: not allowed with argument --losses"


@pytest.mark.parametrize("argv", [["--steps", "2", "dataset"], ["--probe", "--", "model.K"]])
def test_a_word_that_is_no_override_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(argv)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_.value.code == 2 and "is neither an option nor a Hydra override (key=value" in err


@pytest.mark.parametrize("argv, refused", [(["--losses", "dataset=synthetic"], "key=value overrides: not used by --losses"),
                                           (["--probe", "--rounds", "3"], "--rounds: not used by --probe"),
                                           (["--device", "cuda"], "--device: not used by the default mode")])
def test_an_option_the_mode_does_not_use_is_refused(argv, refused, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(argv)
    assert exit_.value.code == 2 and refused in capsys.readouterr().err


@pytest.mark.parametrize("command, mode, variants, overrides", [
    ("dataset=stand_walk_jump dataset.data_dir=d --K 320 64", "steps", None, ["dataset=stand_walk_jump", "dataset.data_dir=d"]),
    ("--K 320 64 --steps 12 --variants hier iars floor dataset=stand_walk_jump", "steps", ["hier", "iars", "floor"],
     ["dataset=stand_walk_jump"]),
    ("--runs --variants hier iars logger=csv", "runs", ["hier", "iars"], ["logger=csv"]),
    ("--overhead --variants iars ~logger -- +trainer.foo=1", "overhead", ["iars"], ["~logger", "+trainer.foo=1"]),
    ("--json out=1.json --probe --K 320 dataset=atrial_fibrillation", "probe", None, ["dataset=atrial_fibrillation"]),
])
def test_documented_commands_parse_with_overrides_anywhere(command, mode, variants, overrides):
    args = bench.parse(command.split())
    assert (args.mode, args.overrides) == (mode, overrides)
    assert variants is None or args.variants == variants
    assert args.json is None or str(args.json) == "out=1.json"  # an option's value, though it looks like an override


def test_the_bench_takes_the_older_override_keys_as_iars_train_does(tmp_path):
    from iars.bench.common import compose

    assert compose(["loss=fixed", "loss.level=2"], str(tmp_path))["loss"]["resolution"] == 2

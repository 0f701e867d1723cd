import numpy as np
import pytest
import torch

from iars.data import SyntheticDataModule, UEADataModule, load_uea, normalise, pad_to_array
from iars.errors import DataError


def _write_ts(path, series, labels, name="Tiny"):
    """Write a minimal aeon .ts file: series is a list of C×T arrays."""
    dims = series[0].shape[0]
    lines = [
        f"@problemName {name}", "@timeStamps false", "@missing false",
        f"@univariate {'true' if dims == 1 else 'false'}", f"@dimensions {dims}",
        f"@equalLength {'true' if len({s.shape[1] for s in series}) == 1 else 'false'}",
        f"@seriesLength {series[0].shape[1]}", f"@classLabel true {' '.join(sorted(set(labels)))}", "@data",
    ]
    for s, y in zip(series, labels):
        lines.append(":".join(",".join(f"{v:.4f}" for v in ch) for ch in s) + f":{y}")
    path.write_text("\n".join(lines) + "\n")


def _make_dataset(root, name, n_train, n_test, T=12, C=2):
    rng = np.random.default_rng(0)
    (root / name).mkdir(parents=True)
    for split, n in (("TRAIN", n_train), ("TEST", n_test)):
        labels = ["a" if i % 2 else "b" for i in range(n)]
        _write_ts(root / name / f"{name}_{split}.ts", [rng.normal(size=(C, T)) for _ in range(n)], labels, name)


def test_basic_motions_ships_with_aeon_and_is_normalised():
    d = load_uea("BasicMotions")
    assert d.X_train.shape == (40, 100, 6) and d.X_test.shape == (40, 100, 6)
    assert d.X_train.dtype == np.float32
    assert sorted(set(d.y_train)) == [0, 1, 2, 3] and d.n_classes == 4
    flat = d.X_train.reshape(-1, 6)
    np.testing.assert_allclose(flat.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(flat.std(0), 1, atol=1e-3)
    assert abs(d.X_test.reshape(-1, 6).mean()) < 0.5  # test uses the train statistics


def test_unequal_lengths_are_nan_padded_and_nan_ignored_by_the_scaler():
    d = load_uea("JapaneseVowels")
    assert d.X_train.shape[0] == 270 and d.X_train.shape[2] == 12 and d.X_train.shape[1] == 26
    lengths = (~np.isnan(d.X_train).any(axis=2)).sum(axis=1)
    assert lengths.min() == 7 and lengths.max() == 26
    for x, n in zip(d.X_train, lengths):  # padding sits at the end only
        assert not np.isnan(x[:n]).any() and np.isnan(x[n:]).all()
    np.testing.assert_allclose(np.nanmean(d.X_train.reshape(-1, 12), axis=0), 0, atol=1e-4)
    assert d.n_classes == 9


def test_pad_to_array_and_channel_mismatch():
    out = pad_to_array([np.ones((2, 3)), np.zeros((2, 5))])
    assert out.shape == (2, 5, 2) and np.isnan(out[0, 3:]).all() and not np.isnan(out[1]).any()
    with pytest.raises(DataError, match="different channel counts"):
        pad_to_array([np.ones((2, 3)), np.ones((3, 3))])


def test_pad_to_array_takes_array_likes_and_names_what_it_refuses():
    import pandas as pd
    import scipy.sparse as sp

    from iars.data import split_from_raw
    from iars.errors import DataTypeError

    X = np.arange(12.0).reshape(3, 4)  # three univariate series
    for like in (pd.DataFrame(X), torch.from_numpy(X), X.astype(object), X.tolist()):
        np.testing.assert_array_equal(pad_to_array(like), X[:, :, None])
    with pytest.raises(DataError, match="Complex data not supported"):
        pad_to_array(X + 1j)
    with pytest.raises(DataError, match="Complex data not supported"):
        pad_to_array([X[0], X[1] + 1j])
    with pytest.raises(DataError, match="sparse input is not supported .csr_matrix."):
        pad_to_array(sp.csr_matrix(X))
    with pytest.raises(DataError, match="Reshape your data: one series is X.reshape"):
        pad_to_array(X[0])
    objects = X.astype(object)
    objects[0, 0] = {"a": 1}
    with pytest.raises(TypeError, match="must be a string or a real number") as info:
        split_from_raw("mine", objects)
    assert isinstance(info.value, DataTypeError) and str(info.value).startswith("dataset 'mine': series must hold numbers")
    with pytest.raises(DataError, match="could not convert string to float") as info:
        pad_to_array(np.array([["a", "b"]]))
    assert not isinstance(info.value, TypeError)


def test_both_splits_are_normalised_with_the_train_statistics_by_value():
    """Train channel 0 is (1, 3, 1, 3): mean 2, std 1; channel 1 is (10, 10, 30, 30): mean 20,
    std 10. The test split, far from the train statistics, must use those, not its own."""
    from iars.data import ArrayDataModule

    X_train = np.array([[[1, 3], [10, 10]], [[1, 3], [30, 30]]], dtype=float)  # N×C×T = 2×2×2
    X_test = np.array([[[5, 7], [0, 40]], [[5, 5], [20, 20]]], dtype=float)
    data = ArrayDataModule(X_train, X_test=X_test).prepare()
    np.testing.assert_array_equal(data.X_train[:, :, 0], [[-1, 1], [-1, 1]])  # N×T×C
    np.testing.assert_array_equal(data.X_train[:, :, 1], [[-1, -1], [1, 1]])
    np.testing.assert_array_equal(data.X_test[:, :, 0], [[3, 5], [3, 3]])
    np.testing.assert_array_equal(data.X_test[:, :, 1], [[-2, 2], [0, 0]])


def test_a_normaliser_rebuilt_from_its_state_transforms_as_the_fitted_one():
    """The checkpoint carries ``state()`` as plain lists; ``Normaliser(**state)`` must apply
    the same statistics (the hand-made train split above: means 2 and 20, stds 1 and 10)."""
    import json

    from iars.data import Normaliser

    X_train = np.array([[[1, 10], [3, 10]], [[1, 30], [3, 30]]], dtype=float)  # N×T×C
    fitted = Normaliser().fit(X_train)
    state = json.loads(json.dumps(fitted.state()))
    assert state == {"mean": [2.0, 20.0], "scale": [1.0, 10.0]}
    new = np.array([[[4.0, 0.0]]])
    np.testing.assert_array_equal(Normaliser(**state).transform(new), [[[2.0, -2.0]]])


def test_the_normaliser_computes_as_scikit_learns_scaler_in_float32():
    from sklearn.preprocessing import StandardScaler

    from iars.data import Normaliser

    rng = np.random.default_rng(0)
    X, X_new = rng.normal(3, 2, (5, 40, 3)), rng.normal(1, 5, (4, 40, 3))  # float64 in
    out = Normaliser().fit(X).transform(X_new)
    scaler = StandardScaler().fit(X.reshape(-1, 3))
    expected = scaler.transform(X_new.reshape(-1, 3).astype(np.float32)).reshape(X_new.shape)
    assert out.dtype == np.float32 and np.array_equal(out, expected)  # bit for bit


def test_the_normaliser_names_a_channel_mismatch_and_a_use_before_fit():
    from iars.data import Normaliser

    with pytest.raises(DataError, match=r"^series have 3 channels, but the normaliser was fitted on 2$"):
        Normaliser().fit(np.ones((2, 5, 2))).transform(np.ones((1, 5, 3)))
    with pytest.raises(RuntimeError, match=r"^Normaliser\.transform before fit$"):
        Normaliser().transform(np.ones((1, 5, 3)))


def test_normalise_keeps_nan():
    X = np.array([[[1.0], [np.nan], [3.0]]], dtype=np.float32)
    tr, te = normalise(X, X.copy())
    assert np.isnan(tr[0, 1, 0]) and tr[0, 0, 0] == pytest.approx(-1) and tr[0, 2, 0] == pytest.approx(1)


def test_reads_a_local_archive_folder(tmp_path):
    _make_dataset(tmp_path, "Tiny", 6, 4)
    d = load_uea("Tiny", tmp_path)
    assert d.X_train.shape == (6, 12, 2) and d.X_test.shape == (4, 12, 2)
    assert sorted(set(d.y_train)) == [0, 1]


def test_unknown_dataset_names_where_it_looked_and_leaves_no_trace(tmp_path):
    with pytest.raises(DataError) as e:
        load_uea("NoSuchSet", tmp_path)
    msg = str(e.value)
    assert "'NoSuchSet' not found" in msg and str(tmp_path / "NoSuchSet") in msg
    assert "dataset.data_dir" in msg and "AEON_DATA" in msg
    assert list(tmp_path.iterdir()) == []


def test_unknown_dataset_without_data_dir_names_aeons_folder():
    with pytest.raises(DataError, match="looked in .*aeon.*NoSuchSet2"):
        load_uea("NoSuchSet2")


def test_missing_data_dir(tmp_path):
    with pytest.raises(DataError, match="is not a directory.*Point it at a folder"):
        load_uea("BasicMotions", tmp_path / "nowhere")


def test_fewer_than_two_series(tmp_path):
    _make_dataset(tmp_path, "One", 1, 4)
    with pytest.raises(DataError, match="train split has 1 series.*at least 2"):
        UEADataModule("One", str(tmp_path)).prepare()


def test_loader_order_is_fixed_by_the_seed():
    def first_batches(seed):
        dm = SyntheticDataModule(n_train=20, length=16, seed=seed, batch_size=4)
        return [b[0] for b in dm.train_dataloader()]

    a, b, c = first_batches(1), first_batches(1), first_batches(2)
    assert len(a) == 5 and all(x.shape == (4, 16, 3) for x in a)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_batch_size_is_capped_by_the_dataset_size():
    dm = SyntheticDataModule(n_train=5, length=8, batch_size=8)
    assert [len(b[0]) for b in dm.train_dataloader()] == [5]


def test_synthetic_is_reproducible_and_class_dependent():
    a = SyntheticDataModule(n_train=30, data_seed=3).prepare()
    b = SyntheticDataModule(n_train=30, data_seed=3).prepare()
    np.testing.assert_array_equal(a.X_train, b.X_train)
    means = [a.X_train[a.y_train == k].mean(0) for k in range(3)]
    assert np.abs(means[0] - means[1]).mean() > 0.1


def test_real_archive_atrial_fibrillation(uea_dir):
    d = load_uea("AtrialFibrillation", uea_dir)
    assert d.X_train.shape == (15, 640, 2) and d.X_test.shape == (15, 640, 2) and d.n_classes == 3


def test_long_series_are_cut_into_rounded_up_sections():
    from iars.data import split_long_series

    X = np.arange(2 * 3001 * 1, dtype=np.float32).reshape(2, 3001, 1)
    out = split_long_series(X, 3000)  # TS2Vec's floor would keep 1 section of 3001
    assert out.shape == (4, 1501, 1)
    assert np.isnan(out[2:, -1]).all() and not np.isnan(out[:2]).any()
    np.testing.assert_array_equal(out[0, :, 0], X[0, :1501, 0])
    np.testing.assert_array_equal(out[2, :1500, 0], X[0, 1501:, 0])
    assert split_long_series(X, 4000) is X


def test_pretraining_sees_the_sections_and_the_classifier_the_whole_series():
    dm = SyntheticDataModule(n_train=4, n_test=2, length=100, max_train_length=30)
    assert dm.prepare().X_train.shape == (4, 100, 3)
    assert dm.pretrain_X.shape == (16, 25, 3)
    assert next(iter(dm.train_dataloader()))[0].shape == (8, 25, 3)


def test_known_shape_mismatch_is_reported(tmp_path):
    _make_dataset(tmp_path, "Tiny", 6, 4)
    dm = UEADataModule("Tiny", str(tmp_path), expected={"n_train": 6, "channels": 3, "length": 12})
    with pytest.raises(DataError, match="channels 3 expected but 2 found.*dataset.expected"):
        dm.prepare()
    with pytest.raises(DataError, match="unknown keys"):
        UEADataModule("Tiny", str(tmp_path), expected={"width": 3}).prepare()


def test_malformed_file_is_named(tmp_path):
    _make_dataset(tmp_path, "Bad", 4, 4)
    path = tmp_path / "Bad" / "Bad_TEST.ts"
    path.write_text("@problemName Bad\n@data\n1,2,3:a\nnot a series at all\n")
    with pytest.raises(DataError, match=f"{path}.*could not be read.*aeon .ts file"):
        load_uea("Bad", tmp_path)


def test_length_one_series_are_rejected(tmp_path):
    _make_dataset(tmp_path, "Short", 4, 4, T=1)
    with pytest.raises(DataError, match="series of length 1.*at least 2 timestamps"):
        UEADataModule("Short", str(tmp_path)).prepare()


def test_unequal_channel_counts_name_the_dataset(tmp_path):
    (tmp_path / "Mixed").mkdir()
    rng = np.random.default_rng(0)
    _write_ts(tmp_path / "Mixed" / "Mixed_TRAIN.ts", [rng.normal(size=(2, 10))] * 3, ["a", "b", "a"], "Mixed")
    _write_ts(tmp_path / "Mixed" / "Mixed_TEST.ts", [rng.normal(size=(3, 10))] * 3, ["a", "b", "a"], "Mixed")
    with pytest.raises(DataError, match="'Mixed'.*train has 2 channels but test has 3"):
        load_uea("Mixed", tmp_path)


# -- your own CSV: every row kept or refused, no column taken for what it is not -------------


def _write(path, text):
    path.write_text(text)
    return path


def test_a_csv_with_a_header_and_no_rows_is_refused(tmp_path):
    from iars.data import read_series

    with pytest.raises(DataError, match=r"h.csv has a header \(series, label, x\) but no rows"):
        read_series(_write(tmp_path / "h.csv", "series,label,x\n"))


def test_rows_without_a_series_name_are_refused_with_their_numbers(tmp_path):
    from iars.data import read_series

    rows = [f"s{i // 5},{i % 5 * 0.1:.1f}" for i in range(20)]
    rows[10:15] = [f",{i * 0.1:.1f}" for i in range(5)]  # one series of four lost its name
    path = _write(tmp_path / "d.csv", "series,x\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"data rows 11, 12, 13, 14, 15 have an empty 'series' cell \(5 of 20 rows\)"):
        read_series(path)
    rows[10:15] = [f"s2,{i * 0.1:.1f}" for i in range(5)]
    series, _ = read_series(_write(path, "series,x\n" + "\n".join(rows) + "\n"))
    assert sum(s.shape[1] for s in series) == 20  # named, every row is read


def test_an_empty_label_cell_is_refused_with_its_row(tmp_path):
    from iars.data import read_series

    path = _write(tmp_path / "d.csv", "series,label,x\na,1,0.1\na,1,0.2\nb,,0.3\nb,2,0.4\n")
    with pytest.raises(DataError, match=r"data rows 3 have an empty 'label' cell: give every row its series' label"):
        read_series(path)


SHUFFLED = [3, 0, 5, 1, 4, 2]


@pytest.mark.parametrize("column,values,order", [
    ("time", lambda t: t * 0.5, SHUFFLED), ("Timestamp", lambda t: 1000 + t, SHUFFLED),  # rows out of time order
    ("frame", lambda t: 3 * t + 7, range(6)),  # any name, whole numbers rising in every series
], ids=["named time", "named timestamp", "counting up"])
def test_a_time_column_is_refused_as_a_channel_and_orders_the_rows_when_named(tmp_path, column, values, order):
    from iars.data import FileDataModule, read_series

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6))
    lines = [f"{name},{values(t)},{x[i, t]:.6f}" for i, name in enumerate("ab") for t in order]
    path = _write(tmp_path / "d.csv", f"series,{column},x\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=f"column '{column}' looks like each row's time, not a channel: pass "
                                        f"time='{column}' \\(dataset.time={column} on the command line\\)"):
        read_series(path)
    series, labels = read_series(path, time=column)
    assert labels is None and [s.shape for s in series] == [(1, 6), (1, 6)]
    np.testing.assert_allclose(np.stack([s[0] for s in series]), x, atol=1e-6)  # in time order
    as_channel, _ = read_series(path, time=False)
    assert as_channel[0].shape == (2, 6)  # time=False: it is a channel, rows as in the file
    np.testing.assert_allclose(as_channel[0][0], [values(t) for t in order])
    module = FileDataModule(str(path), time=column)
    assert module.prepare().X_train.shape == (2, 6, 1)


def test_a_time_column_of_dates_orders_the_rows_and_a_bad_one_is_named(tmp_path):
    from iars.data import read_series

    path = _write(tmp_path / "d.csv", "series,date,x\na,2020-01-02,2\na,2020-01-01,1\na,2020-01-03,3\n")
    series, _ = read_series(path, time="date")
    np.testing.assert_array_equal(series[0], [[1, 2, 3]])
    with pytest.raises(DataError, match="time='when' is not a column"):
        read_series(path, time="when")
    _write(path, "series,date,x\na,2020-01-02,2\na,soon,1\n")
    with pytest.raises(DataError, match="the time column 'date' holds 'soon' in data row 2, neither a number nor a date"):
        read_series(path, time="date")


def test_a_directory_given_as_a_data_file_is_named_a_directory(tmp_path):
    from iars.data import read_series

    with pytest.raises(DataError, match="is a directory"):
        read_series(tmp_path)


@pytest.mark.parametrize("y_train,y_test", [([1, 2, 1, 2], ["1", "2"]), ([0.0, 1.0, 0.0, 1.0], ["a", "b"]),
                                            (["a", "b", "a", "b"], [0, 1])])
def test_train_and_test_labels_of_two_types_are_refused(y_train, y_test):
    from iars.data import split_from_raw

    X = np.zeros((4, 1, 5))
    with pytest.raises(DataError, match=r"dataset 'd': the train labels are (numbers|text) \(.*\) but the test labels "
                                        r"are (text|numbers) .*give both splits labels of one type"):
        split_from_raw("d", X, y_train, X[:2], y_test)
    y_train, y_test = [str(v) for v in y_train], [str(v) for v in y_test]
    same = split_from_raw("d", X, np.asarray(y_train), X[:2], np.asarray(y_test))
    classes = sorted(set(y_train) | set(y_test))  # one type: each label its index among the sorted classes
    assert (same.y_train.tolist(), same.y_test.tolist()) == ([classes.index(v) for v in y_train],
                                                            [classes.index(v) for v in y_test])


def test_whole_numbers_that_do_not_rise_in_every_series_are_a_channel(tmp_path):
    from iars.data import read_series

    path = _write(tmp_path / "d.csv", "series,count,x\na,0,0.1\na,1,0.2\na,2,0.3\nb,5,0.4\nb,3,0.5\n")
    series, _ = read_series(path)
    np.testing.assert_array_equal(series[1], np.array([[5, 3], [0.4, 0.5]], dtype=np.float32))

"""The variant table (iars.variants) against its other spellings: the conf/loss/ files, the
estimator's loss names, the records and the report labels."""
import numpy as np
import pytest

import iars
from helpers import FAST, NO_LOGGER, REPO, compose_cfg, plain, train
from iars.data import BATCH_SIZE, MAX_TRAIN_LENGTH
from iars.estimator import DEFAULT_SEED
from iars.legacy import upgrade_record
from iars.variants import VARIANTS, label, variant_of

LOSS_FILES = sorted(p.stem for p in (REPO / "conf" / "loss").glob("*.yaml") if not p.stem.startswith("_"))


def _subset(fixed, composed):
    for key, value in fixed.items():
        if isinstance(value, dict):
            _subset(value, composed[key])
        else:
            assert composed[key] == value, key


def test_every_loss_file_is_a_row_of_the_table_and_sets_what_the_row_says(tmp_path):
    assert LOSS_FILES == sorted(VARIANTS)
    for name, v in VARIANTS.items():
        loss = plain(compose_cfg(tmp_path, f"loss={name}"))["loss"]
        assert (loss["variant"], loss["mode"]) == (name, v.mode)
        _subset(dict(v.settings), loss)
        assert variant_of(loss) == name or (name == "fixed" and variant_of(loss) is None)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_the_estimator_takes_every_variant_with_the_clis_settings(tmp_path, name):
    params = {"loss_params": {"resolution": 1}} if name == "fixed" else {}
    enc = iars.TimeSeriesEncoder(loss=name, K=8, steps=2, batch_size=4, encoder_params={"depth": 1, "hidden": 8},
                                 **params)
    cli = plain(compose_cfg(tmp_path, f"loss={name}", *[f"loss.{k}={v}" for k, v in params.get("loss_params", {}).items()]))
    ours = enc.run_config()["loss"]
    _subset(ours, cli["loss"])  # everything the estimator sets, the CLI sets alike
    assert iars.TimeSeriesEncoder.params_from_config(enc.run_config()) == enc.get_params()
    X = np.random.default_rng(0).normal(size=(8, 2, 32))
    assert enc.fit(X).transform(X).shape == (8, 8)


def test_a_cli_config_gives_back_its_variant_and_settings(tmp_path):
    config = plain(compose_cfg(tmp_path, "loss=iars_relative", "loss.alpha=0.3", "model.K=16"))
    params = iars.TimeSeriesEncoder.params_from_config(config)
    assert (params["loss"], params["K"], params["loss_params"]["alpha"]) == ("iars_relative", 16, 0.3)
    assert iars.TimeSeriesEncoder(**params).run_config()["loss"]["selection"]["rule"] == "relative"


def test_the_record_names_its_variant_and_the_report_labels_it(tmp_path):
    metrics = train(compose_cfg(tmp_path, *FAST, NO_LOGGER, "dataset=synthetic", "loss=iars_relative"))
    assert (metrics["variant"], metrics["loss"]) == ("iars_relative", "iars")
    assert label(metrics) == "iars-relative"


def test_records_before_the_variant_key_are_labelled_as_before():
    def record(mode, **loss):
        return {"loss": mode, "config": {"loss": {"mode": mode, **loss}}}

    cases = [(record("hier"), "hier"), (record("iars", selection={"rule": "importance"}), "iars"),
             (record("iars", selection={"rule": "relative"}), "iars-relative"),
             (record("iars", selection={"rule": "uniform"}), "iars-uniform"),
             (record("random", granularity="step"), "random/step"), (record("random"), "random"),
             (record("fixed", resolution=-1), "fixed r=-1"), (record("fixed", resolution=0), "fixed r=0"),
             (record("fixed", resolution=3), "fixed r=3"), (record("fixed", level=2), "fixed r=2")]
    assert [label(upgrade_record(r)) for r, _ in cases] == [expected for _, expected in cases]


def test_one_default_for_every_entry_point(tmp_path):
    """The defaults the configs state are the library's: seed, batch size, section length."""
    assert plain(compose_cfg(tmp_path))["seed"] == DEFAULT_SEED
    assert plain(compose_cfg(tmp_path, config="baselines"))["seed"] == DEFAULT_SEED
    assert iars.TimeSeriesEncoder().seed == DEFAULT_SEED
    for name in ("synthetic", "basic_motions", "arrays"):
        dataset = plain(compose_cfg(tmp_path, f"dataset={name}"))["dataset"]
        assert (dataset["batch_size"], dataset["max_train_length"]) == (BATCH_SIZE, MAX_TRAIN_LENGTH), name
    enc = iars.TimeSeriesEncoder()
    assert (enc.batch_size, enc.max_train_length) == (BATCH_SIZE, MAX_TRAIN_LENGTH)


def test_the_shared_loss_base_is_not_a_variant(tmp_path):
    from iars import pipeline
    from iars.config import build
    from iars.errors import ConfigError

    config = plain(compose_cfg(tmp_path, *FAST, NO_LOGGER, "dataset=synthetic", "loss=_base"))
    with pytest.raises(ConfigError, match="loss.mode='\\?\\?\\?' is not a loss mode"):
        pipeline.pretrain(config, build(config["dataset"]))


def test_settings_no_variant_fixes_keep_their_modes_variant():
    def record(mode, **loss):
        return upgrade_record({"loss": mode, "config": {"loss": {"mode": mode, **loss}}})

    assert [record("fixed", resolution=2)["variant"], record("random", granularity="step")["variant"],
            record("iars", selection={"rule": "uniform"})["variant"]] == ["fixed", "random", "iars"]
    assert label({"loss": "iars", "config": {"loss": {"mode": "iars", "resolution": 2}}}) == "iars"  # ignored there


def test_a_variant_name_of_the_users_own_reloads_as_its_mode():
    config = iars.TimeSeriesEncoder(loss="iars", K=8).run_config()
    config["loss"]["variant"] = "my_iars"
    assert iars.TimeSeriesEncoder.params_from_config(config)["loss"] == "iars"


def test_the_older_override_is_renamed_and_a_disagreeing_pair_refused():
    from iars.errors import ConfigError
    from iars.legacy import upgrade_overrides

    assert upgrade_overrides(["loss=fixed", "loss.level=2", "model.K=8"]) == ["loss=fixed", "loss.resolution=2", "model.K=8"]
    assert upgrade_overrides(["loss.level=2", "loss.resolution=2"]) == ["loss.resolution=2", "loss.resolution=2"]
    with pytest.raises(ConfigError, match="loss.level=2 and loss.resolution=3 disagree"):
        upgrade_overrides(["loss.level=2", "loss.resolution=3"])

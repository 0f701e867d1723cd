"""The task seam (iars.tasks): the run's downstream stage is chosen by ``task``; classification's
summary line."""
import pytest

from helpers import compose_cfg, plain
from iars.errors import ConfigError
from iars.tasks import TASKS, classification, task


def test_the_default_task_is_classification(tmp_path):
    assert plain(compose_cfg(tmp_path))["task"] == {"name": "classification"}
    assert task({"name": "classification"}) is task("classification") is task(None) is classification
    assert list(TASKS) == ["classification", "forecasting", "anomaly"]
    for stage in TASKS.values():
        assert all(callable(getattr(stage, f)) for f in ("check", "evaluate", "results", "validation_score", "summary"))


def test_an_unknown_task_is_named_with_the_choices():
    with pytest.raises(ConfigError, match="task='regression': choose one of classification, forecasting, anomaly"):
        task("regression")


def test_the_classification_summary_says_the_score_or_why_it_was_skipped():
    assert classification.summary({"classifier": "svm", "acc": 0.975}) == "test acc 0.975 (svm)"
    assert (classification.summary({"classifier": None, "classifier_skipped": "there is no test split"})
            == "classifier stage skipped: there is no test split")


def test_each_task_gives_its_logger_flat_finite_scores(tmp_path):
    """What the run's logger gets besides the timings: the task's scores under flat names."""
    import json

    from helpers import FAST, NO_LOGGER, train

    cases = {"classification": ["acc", "f1", "val_acc"], "forecasting": ["mse/6", "lagged/mse/24", "encode_time_s"],
             "anomaly": ["anomaly/f1", "baseline/range_pr_auc", "encode_time_s"]}
    for name, keys in cases.items():
        extra = ["task.padding=24", "dataset.max_train_length=300"] if name == "anomaly" else []
        train(compose_cfg(tmp_path / name, f"task={name}", *FAST, NO_LOGGER, *extra))
        record = json.loads((tmp_path / name / "metrics.json").read_text())
        logged = TASKS[name].results(record)
        assert set(keys) <= set(logged) and all(isinstance(v, float) for v in logged.values())

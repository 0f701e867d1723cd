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
        assert all(callable(getattr(stage, f)) for f in ("check", "evaluate", "validation_score", "summary"))


def test_an_unknown_task_is_named_with_the_choices():
    with pytest.raises(ConfigError, match="task='regression': choose one of classification, forecasting, anomaly"):
        task("regression")


def test_the_classification_summary_says_the_score_or_why_it_was_skipped():
    assert classification.summary({"classifier": "svm", "acc": 0.975}) == "test acc 0.975 (svm)"
    assert (classification.summary({"classifier": None, "classifier_skipped": "there is no test split"})
            == "classifier stage skipped: there is no test split")

"""Classification, TS2Vec's protocol: the encoder's pooled embeddings of the train split fit a
classifier (an SVM by default), scored on the test split; skipped, with the reason, without
labels or a test split."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from torch import nn

from iars.data import Split, TimeSeriesDataModule
from iars.encoding import check_pooling, check_seen, encode
from iars.errors import ConfigError, DataError
from iars.evaluate import PROTOCOLS, classify
from iars.runs import write_embeddings


def skipped_reason(data: Split) -> str | None:
    """Why the classifier stage cannot run on ``data``, or None when it can."""
    if data.y_train is None:
        return "the train split has no labels"
    if data.X_test is None:
        return "there is no test split"
    if data.y_test is None:
        return "the test split has no labels"
    return None


def check(config: Mapping, data: Split) -> list[str]:
    """Refuse, before any pretraining, what would make the classifier stage fail; returns
    warnings for what only weakens it (test labels the train split lacks)."""
    classifier = config["classifier"]
    if classifier["protocol"] not in PROTOCOLS:
        raise ConfigError(f"classifier.protocol={classifier['protocol']!r}: choose one of {', '.join(PROTOCOLS)}")
    check_pooling(classifier["pooling"])
    if skipped_reason(data) is not None:
        return []
    for split, X in (("train", data.X_train), ("test", data.X_test)):
        try:
            check_seen(X, f"the {split} split")
        except DataError as e:
            raise DataError(f"dataset {config['dataset'].get('name')!r}: {e}") from None
    classes = np.unique(data.y_train)
    if len(classes) < 2:
        raise DataError(f"dataset {config['dataset'].get('name')!r}: the train split has one class, and a classifier "
                        "needs two or more; give labelled series of several classes, or no labels to pretrain only")
    unseen = sorted(set(np.unique(data.y_test).tolist()) - set(classes.tolist()))
    if unseen:
        return [f"{int(np.isin(data.y_test, unseen).sum())} test series have labels that no train series has "
                "(always misclassified)"]
    return []


def evaluate(config: Mapping, datamodule: TimeSeriesDataModule, encoder: nn.Module) -> dict[str, Any]:
    """The classifier stage on ``encoder`` (and ``embeddings.npz`` with ``save_embeddings``);
    returns the record's classification fields (``warnings``: what weakened the classifier's
    fit, e.g. embeddings of different classes that are equal)."""
    data = datamodule.prepare()
    pooling = config["classifier"]["pooling"]
    skipped = skipped_reason(data)
    scores: dict[str, Any] = {"acc": None, "f1": None, "val_acc": None}
    if skipped is None or config.get("save_embeddings"):
        train = encode(encoder, data.X_train, pooling)
        test = None if data.X_test is None else encode(encoder, data.X_test, pooling)
        if skipped is None:
            scores = classify(train, data.y_train, test, data.y_test, config["classifier"]["protocol"])
        if config.get("save_embeddings"):
            write_embeddings(config["output_dir"], train, data.y_train, test, data.y_test)
    return {
        "classifier": None if skipped else config["classifier"]["protocol"],
        **({"classifier_skipped": skipped} if skipped else {}),
        "n_train": int(data.X_train.shape[0]),
        "n_test": None if data.X_test is None else int(data.X_test.shape[0]),
        "length": int(data.X_train.shape[1]),
        "channels": data.n_channels,
        **scores,
    }


def results(record: Mapping[str, Any]) -> dict[str, float]:
    """The scores the run's logger gets: ``acc``, ``f1``, ``val_acc`` (those the stage computed)."""
    return {k: record[k] for k in ("acc", "f1", "val_acc") if record.get(k) is not None}


def validation_score(record: Mapping[str, Any]) -> float | None:
    """What a Hydra sweeper maximises: the classifier's cross-validated accuracy on the train
    embeddings (``val_acc``), never the test accuracy."""
    return record.get("val_acc")


def summary(record: Mapping[str, Any]) -> str:
    """The classification part of a run's summary line."""
    if record["classifier"]:
        return f"test acc {record['acc']:.3f} ({record['classifier']})"
    return f"classifier stage skipped: {record['classifier_skipped']}"

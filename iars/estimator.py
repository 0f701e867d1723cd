"""``TimeSeriesEncoder``: pretrain an encoder on your own series and encode series with it,
the scikit-learn/aeon way (``fit``/``transform`` on N×C×T arrays), over the same pipeline
as the command line (:func:`iars.pipeline.pretrain`); and :func:`load_run`, which turns a
finished run's checkpoint back into one.
"""
from __future__ import annotations

import inspect
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from iars.callbacks import LossHistory
from iars.callbacks import _as_at_step_end as as_at_step_end
from iars.checkpoints import hparam_differences, read_checkpoint, selection_history
from iars.data import BATCH_SIZE, MAX_TRAIN_LENGTH, ArrayDataModule, Normaliser, pad_to_array
from iars.encoding import Windows, check_encodable, check_seen, encode
from iars.errors import ConfigError, DataError
from iars.loggers import lightning_output
from iars.losses import num_levels
from iars.module import ContrastivePretrainer
from iars.params import DEFAULT_SEED, NESTED_PARAMS, params_from_config, run_config, with_nested
from iars.pipeline import budget, check_budget, pretrain
from iars.runs import CHECKPOINT_FILE

TRAINING_STATE = ("optimizer_states", "lr_schedulers", "loops", "callbacks", "epoch", "global_step", "epochs_done",
                  "random_state", "resolution_sums", "last_measured_step", "ArrayDataModule", "pytorch-lightning_version",
                  "hparams_name")
"""What a Lightning checkpoint holds beyond the module's settings and weights: what a warm
start resumes (the optimiser, the loops, the callbacks' state: selection, clock, losses; the
random streams, the data order)."""


class NestedParamsMixin:
    """``set_params`` that also sets nested parameters (``loss__alpha=0.3``,
    ``encoder__depth=4``; a ``selection`` key of the loss as ``loss__selection__temperature``):
    :data:`iars.params.NESTED_PARAMS`. For estimators with ``loss_params`` and ``encoder_params``."""

    def set_params(self, **params: Any):
        """Set parameters, also nested ones (``loss__alpha=0.3``, ``encoder__depth=4``; a
        ``selection`` key of the loss as ``loss__selection__temperature``): :data:`iars.params.NESTED_PARAMS`."""
        plain = {}
        for key, value in params.items():
            prefix, sep, rest = key.partition("__")
            if sep and prefix in NESTED_PARAMS:
                target = NESTED_PARAMS[prefix]
                setattr(self, target, with_nested(getattr(self, target), rest.split("__"), value))
            else:
                plain[key] = value
        return super().set_params(**plain)


class TimeSeriesEncoder(NestedParamsMixin, TransformerMixin, BaseEstimator):
    """Self-supervised time-series encoder (TS2Vec's hierarchical contrastive learning, or
    IARS and its ablations): ``fit`` pretrains on unlabeled series, ``transform`` returns
    one embedding per series.

    Series follow aeon's layout: an N×C×T array (N×T for one channel), or a list of C×T_i
    arrays of unequal lengths (NaN-padded at the end, as in training); NaN marks missing
    values. ``fit`` learns the per-channel normalisation of the training series and applies
    it to every series it encodes.

    Parameters
    ----------
    loss : {"hier", "iars", "iars_relative", "random", "fixed", "fixed_finest", "fixed_coarsest"}
        The loss variant (:data:`iars.variants.VARIANTS`, the files of ``conf/loss/``):
        TS2Vec's hierarchical loss, importance-aware resolution selection (the paper's rule,
        or the relative rule), or an ablation. ``fixed`` needs ``loss_params={"resolution": r}``.
    encoder : {"dilated_conv", "resnet18"} or str
        TS2Vec's encoder, the paper's 1-D ResNet18, or the import path of an encoder class
        taking ``in_channels`` and ``K`` (B×T×C -> B×T×K).
    K : int
        Embedding size.
    steps, epochs : int or None
        Pretraining budget; both None: TS2Vec's (200 steps when N·T·C ≤ 100 000, else 600).
    batch_size, lr, seed : int, float, int
        Series per step, AdamW's learning rate, and the seed of weights, data order, crops,
        masks and selection draws.
    device : {"auto", "cpu", "gpu"}
        Where to pretrain and encode ("auto": the GPU when present).
    precision : str
        Lightning's training precision, e.g. "32-true" or "bf16-mixed".
    pooling : {"max", "avg"}
        How :meth:`transform` pools the timestamps: TS2Vec's max, or the paper's average.
    max_train_length : int or None
        Longer series are cut into sections for pretraining (TS2Vec); None: never.
    averaged : bool
        Encode with a running average of the weights (TS2Vec).
    loss_params, encoder_params : dict or None
        Further settings of the loss (``alpha``, ``temporal_unit``, ``pool``, ``block``,
        ``scoring``, ``resolution``, ``granularity``, ``selection``: see ``conf/loss/``) and
        of the encoder (e.g. ``depth``, ``hidden``; see ``conf/model/``).
    verbose : bool
        Show Lightning's progress bar and messages while fitting.
    warm_start : bool
        scikit-learn's meaning: ``fit`` on a fitted encoder continues its training (weights,
        optimiser state, weight average, selection history, random streams, data order) for
        ``steps`` more steps (``epochs`` more epochs) instead of starting over. The series
        must have the channels of the first fit; they are normalised with its statistics
        (:attr:`normaliser_` is kept), and in a selecting or fixed-resolution loss their length
        must give the same number of resolutions. The settings that shape the training (loss,
        encoder, ``K``, ``lr``, ``seed``, ``averaged``) must stay as they were; ``steps``,
        ``epochs``, ``device``, ``verbose``, ``pooling`` may change. Without a previous fit, a
        fresh one.

    Attributes
    ----------
    module_ : ContrastivePretrainer
        The trained module; ``module_.eval_encoder`` is the encoder that encodes.
    normaliser_ : Normaliser
        The training series' per-channel statistics.
    n_channels_ : int
        Channels of the training series.
    history_ : list of dict or None
        Per epoch, the trained resolution, per-resolution losses and next probabilities
        (selecting losses only).
    pretrain_time_s_, n_steps_ : float, int
        Seconds of the fit loop and steps taken, warm starts included (None when loaded from a
        run without them).
    loss_history_ : list of float or None
        The training loss of every optimisation step, warm starts included (length
        ``n_steps_``; NaN for steps trained where it was not recorded, e.g. by a CLI run a warm
        start continues; None when loaded from such a run).

    Examples
    --------
    >>> import numpy as np, iars
    >>> X = np.random.randn(20, 3, 128)
    >>> enc = iars.TimeSeriesEncoder(loss="iars", K=16, steps=5).fit(X)
    >>> enc.transform(X).shape
    (20, 16)
    """

    def __init__(
        self,
        loss: str = "hier",
        encoder: str = "dilated_conv",
        K: int = 320,
        steps: int | None = None,
        epochs: int | None = None,
        batch_size: int = BATCH_SIZE,
        lr: float = 1e-3,
        seed: int = DEFAULT_SEED,
        device: str = "auto",
        precision: str = "32-true",
        pooling: str = "max",
        max_train_length: int | None = MAX_TRAIN_LENGTH,
        averaged: bool = True,
        loss_params: Mapping[str, Any] | None = None,
        encoder_params: Mapping[str, Any] | None = None,
        verbose: bool = False,
        warm_start: bool = False,
    ):
        self.loss = loss
        self.encoder = encoder
        self.K = K
        self.steps = steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.device = device
        self.precision = precision
        self.pooling = pooling
        self.max_train_length = max_train_length
        self.averaged = averaged
        self.loss_params = loss_params
        self.encoder_params = encoder_params
        self.verbose = verbose
        self.warm_start = warm_start

    # -- scikit-learn: nested parameters (NestedParamsMixin), tags ----------------------

    NESTED = NESTED_PARAMS

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # N×C×T (N×T: one channel), or a list of C×T_i
        tags.input_tags.allow_nan = True  # missing values
        tags.transformer_tags.preserves_dtype = ["float32"]  # the encoder computes, and returns, float32
        return tags

    # -- the run config these parameters describe -------------------------------------

    def run_config(self) -> dict[str, Any]:
        """The parameters as a run config (the shape ``conf/train.yaml`` composes), which
        :func:`iars.pipeline.pretrain` trains (:func:`iars.params.run_config`)."""
        return run_config(self.get_params())

    @classmethod
    def params_from_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The estimator parameters of a run config (a CLI run's, or :meth:`run_config`'s); absent
        keys take the defaults (:func:`iars.params.params_from_config`)."""
        defaults = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items() if k != "self"}
        return params_from_config(config, defaults)

    # -- fit, transform ---------------------------------------------------------------

    def fit(self, X, y=None) -> TimeSeriesEncoder:
        """Pretrain on the series X (N×C×T, or a list of C×T_i); labels are not used. With
        ``warm_start=True`` on a fitted encoder, continue its training for ``steps`` more steps."""
        config = self.run_config()
        check_budget(config["trainer"], {"max_steps": "steps", "max_epochs": "epochs"}, unset="None")
        warm = bool(self.warm_start) and hasattr(self, "module_")
        if warm:
            self._check_channels(X)
        datamodule = ArrayDataModule(X, name="X", seed=self.seed, normaliser=self.normaliser_ if warm else None,
                                     **config["dataset"])
        losses = LossHistory()
        with lightning_output(self.verbose), tempfile.TemporaryDirectory(prefix="iars-fit-") as folder, \
                warnings.catch_warnings():
            # the DataModule resumes the data order mid-epoch (its state_dict), which Lightning does not see
            warnings.filterwarnings("ignore", ".*resuming from a checkpoint that ended before the epoch ended.*")
            # a run's last.ckpt names its periodic ModelCheckpoint, which a fit here does not need
            warnings.filterwarnings("ignore", ".*callbacks used to create the checkpoint need to be provided.*")
            resume = self._resume(config, datamodule, Path(folder)) if warm else {}
            fitted = pretrain(config, datamodule, callbacks=[losses], **resume)
            state = _training_state(fitted.trainer, Path(folder) / "fitted.ckpt")
        module = fitted.module.cpu().eval()
        steps = fitted.clock.steps
        history = [float("nan")] * (steps - len(losses.losses)) + losses.losses  # steps trained where none recorded
        self._set_fitted(module, pretrain_time_s_=fitted.clock.seconds, n_steps_=steps, history_=fitted.history,
                         loss_history_=history, training_state=state)
        return self

    def _check_channels(self, X) -> None:
        channels = pad_to_array(X).shape[2]
        if channels != self.n_channels_:
            raise DataError(f"warm_start=True continues the fitted encoder, which takes {self.n_channels_} channels, "
                            f"but X has {channels}: give series with its channels (N×C×T, channels second), or fit "
                            "with warm_start=False to start over")

    def _resume(self, config: dict, datamodule: ArrayDataModule, folder: Path) -> dict[str, Any]:
        """A warm start: the fitted module's checkpoint for :func:`iars.pipeline.pretrain` to resume,
        a module that must match it, and the budget raised by this fit's steps (or epochs)."""
        state = getattr(self, "_training_state", None)
        if state is None:
            raise ConfigError("warm_start=True: this encoder holds no training state to continue (it was loaded from "
                              "a file saved with training_state=False); fit with warm_start=False to start over")
        saved = dict(state["hyper_parameters"])
        length, fitted_length = datamodule.pretrain_X.shape[1], saved.get("max_length")
        if saved.get("mode") != "hier" and fitted_length and num_levels(length) != num_levels(fitted_length):
            raise DataError(
                f"warm_start=True: loss={self.loss} trains among the {num_levels(fitted_length)} resolutions of the series "
                f"the encoder was fitted on (length {fitted_length}), but these series (length {length}) have "
                f"{num_levels(length)}; give series of a length from {2 ** (num_levels(fitted_length) - 1)} to "
                f"{2 ** num_levels(fitted_length) - 1}, or fit with warm_start=False to start over")
        saved["max_length"] = length  # the same resolutions: the module records the data it trains now
        more = budget(config["trainer"], datamodule.prepare().X_train)
        config["trainer"]["max_steps"] = None if more["max_steps"] < 0 else state["global_step"] + more["max_steps"]
        epochs = state.get("epochs_done", state["epoch"])
        config["trainer"]["max_epochs"] = None if more["max_epochs"] < 0 else epochs + more["max_epochs"]
        path = folder / "warm_start.ckpt"
        torch.save({**state, "hyper_parameters": saved, "state_dict": self.module_.state_dict()}, path)
        return {"ckpt_path": path, "module_class": _matching(saved)}

    def transform(self, X) -> np.ndarray:
        """One embedding per series, N×K, pooled over its timestamps by ``pooling``."""
        return self.encode(X)

    def encode(self, X, *, per_timestamp: bool = False, window: int | None = None, stride: int | None = None,
               batch_size: int = 64, exact: bool = False, **ts2vec: Any) -> np.ndarray:
        """Encode series X (N×C×T, or a list of C×T_i, NaN-padded to the longest).

        - default: N×K, each series pooled by ``pooling`` (as :meth:`transform`);
        - ``per_timestamp=True``: N×T×K, one vector per timestamp (NaN beyond a series' end);
        - ``window=w`` (and ``stride=s``, default w): each series cut into the windows
          ``[j·s, j·s + w)`` that fit in the longest, each encoded on its own (bounded memory and
          context on long series): N×W×K, or N×W×w×K per timestamp; a window the encoder sees
          nothing of (wholly past a shorter series' end, or all missing) is a NaN row.

        A series the encoder would see nothing of (no timestamp with every channel observed) is
        refused for a pooled embedding (:class:`~iars.errors.DataError`, naming it).

        Each series is encoded at its own length, so its embedding does not depend on the other
        series in the call (:func:`iars.encoding.encode`; within ~1e-6 on the CPU across batch
        compositions, bit for bit with ``exact=True``).

        TS2Vec's encodings, with its semantics (:func:`iars.encoding.encode`): ``mask``
        (``"mask_last"``, …), ``encoding_window`` (an int or ``"multiscale"``: per timestamp),
        ``causal``, ``sliding_length`` and ``sliding_padding`` (each step from the window of the
        ``sliding_padding`` steps before it), e.g. forecasting's features
        ``encode(X, per_timestamp=True, causal=True, sliding_length=1, sliding_padding=200)``.
        """
        check_is_fitted(self)
        X = self._prepare(X)
        encoder = self.module_.eval_encoder.to(self._encode_device())
        window_pooled = ts2vec.get("encoding_window") not in (None, "full_series")
        pooling = None if per_timestamp or window_pooled else self.pooling
        if window is None:
            check_encodable(X)
            if pooling is not None:
                check_seen(X, "X", batch_size)
            return encode(encoder, X, pooling, batch_size, exact=exact, **ts2vec)
        if ts2vec.get("sliding_length") is not None:
            raise ConfigError("window= cuts windows without context, sliding_length= with it: give one of them")
        windows = Windows(X, window, window if stride is None else stride)
        out = encode(encoder, windows, pooling, batch_size, exact=exact, **ts2vec)
        return out.reshape(len(X), windows.per_series, *out.shape[1:])

    def _prepare(self, X) -> np.ndarray:
        """X in aeon's layout -> N×T×C float32, normalised as the training series were."""
        X = pad_to_array(X)
        if X.shape[2] != self.n_channels_:
            raise DataError(f"X has {X.shape[2]} channels, but the encoder was fitted on {self.n_channels_}; "
                            "give series in the layout N×C×T (channels second)")
        return self.normaliser_.transform(X)

    def _encode_device(self) -> torch.device:
        if self.device in ("auto", None):
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device({"gpu": "cuda"}.get(self.device, self.device))

    def _set_fitted(self, module: ContrastivePretrainer, training_state: dict | None = None, **fitted: Any) -> None:
        self.module_ = module
        self.normaliser_ = Normaliser(**module.hparams["normaliser"])
        self.n_channels_ = len(self.normaliser_.mean)
        self.history_ = fitted.get("history_")
        self.pretrain_time_s_ = fitted.get("pretrain_time_s_")
        self.n_steps_ = fitted.get("n_steps_")
        self.loss_history_ = fitted.get("loss_history_")
        self._training_state = training_state  # what a warm start resumes, beside module_'s weights

    # -- save, load -------------------------------------------------------------------

    def save(self, path: str | os.PathLike, *, training_state: bool = True) -> Path:
        """Write the fitted encoder to ``path``: its parameters and config, the module's
        weights (the encoder and its average), the normaliser and the loss history; with
        ``training_state`` also what a warm start resumes (the optimiser's state, the loops,
        the callbacks', the random streams: about as much again as the weights), so that the
        file is a Lightning checkpoint of the fit. :meth:`load` reads it."""
        check_is_fitted(self)
        path = Path(path)
        state = self._training_state if training_state and self._training_state is not None else {}
        torch.save({
            **{k: v for k, v in state.items() if k in TRAINING_STATE},
            "iars": {"params": self.get_params(), "config": self.run_config(), "fitted": {
                "history_": self.history_, "pretrain_time_s_": self.pretrain_time_s_, "n_steps_": self.n_steps_,
                "loss_history_": self.loss_history_}},
            "hyper_parameters": dict(self.module_.hparams),
            "state_dict": self.module_.state_dict(),
        }, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> TimeSeriesEncoder:
        """A fitted encoder from a file of :meth:`save`, or from a run's checkpoint
        (``last.ckpt`` of ``iars-train``), ready to ``transform``."""
        path = Path(path)
        what = f"a file written by TimeSeriesEncoder.save or a run's {CHECKPOINT_FILE}"
        if path.is_dir() and (path / CHECKPOINT_FILE).is_file():
            raise DataError(f"{path} is a directory (a run's folder): give its {CHECKPOINT_FILE}, or use "
                            f"iars.load_run({str(path)!r})")
        checkpoint = read_checkpoint(path, what)
        record, hparams = checkpoint.get("iars"), checkpoint.get("hyper_parameters", {})
        if record is None or "encoder" not in hparams or not hparams.get("normaliser"):
            raise DataError(f"{path} is not an iars encoder: it holds no encoder spec, normaliser and config "
                            "(checkpoints of runs before iars 0.2 cannot be reloaded)")
        estimator = cls(**(record.get("params") or cls.params_from_config(record["config"])))
        module = ContrastivePretrainer(**{**hparams, "compile_encoder": False})
        try:
            module.load_state_dict(checkpoint["state_dict"])
        except (KeyError, RuntimeError) as exc:
            raise DataError(f"{path} is damaged: its weights do not fit the encoder it describes "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from exc
        fitted = dict(record.get("fitted") or {})
        fitted.setdefault("history_", selection_history(checkpoint))
        fitted.setdefault("n_steps_", checkpoint.get("global_step"))
        resumable = "optimizer_states" in checkpoint and "loops" in checkpoint  # ours, or a run's last.ckpt
        state = {k: v for k, v in checkpoint.items() if k in TRAINING_STATE} if resumable else None
        if state is not None:
            state["hyper_parameters"] = hparams
        estimator._set_fitted(module.eval(), training_state=state, **fitted)
        return estimator

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike) -> TimeSeriesEncoder:
        """The encoder of a finished ``iars-train`` run, from ``<run_dir>/last.ckpt``."""
        return load_run(run_dir)


def _training_state(trainer, path: Path) -> dict:
    """The fitted Trainer's checkpoint without the weights (the module keeps those): what a warm
    start resumes. Its loops are recorded as at the end of the last step, as a periodic checkpoint
    records them: Lightning resumes the state after fit's end wrongly (it runs one batch as the
    whole next epoch; :class:`iars.callbacks.SaveOnInterrupt` saves the same way)."""
    with as_at_step_end(trainer), _omegaconf_unseen():
        trainer.save_checkpoint(path, weights_only=False)
    state = torch.load(path, map_location="cpu", weights_only=True)
    state.pop("state_dict", None)
    state["epochs_done"] = trainer.current_epoch  # the checkpoint's "epoch" is the one in progress at the last step
    return state


@contextmanager
def _omegaconf_unseen() -> Iterator[None]:
    """Lightning's checkpoint dump imports omegaconf, when installed, to recognise settings held in
    its containers; the module's are a plain dict, and the library imports neither Hydra nor
    omegaconf (the CLI's), so the dump is told omegaconf is absent (the same checkpoint)."""
    from pytorch_lightning.trainer.connectors import checkpoint_connector

    if "omegaconf" in sys.modules or not getattr(checkpoint_connector, "_OMEGACONF_AVAILABLE", False):
        yield
        return
    checkpoint_connector._OMEGACONF_AVAILABLE = False
    try:
        yield
    finally:
        checkpoint_connector._OMEGACONF_AVAILABLE = True


def _matching(saved: Mapping) -> Callable[..., ContrastivePretrainer]:
    """A module class for :func:`iars.pipeline.pretrain` that refuses settings other than those
    the fitted module was trained with (``saved``), naming them as the estimator does."""

    def build(**settings: Any) -> ContrastivePretrainer:
        module = ContrastivePretrainer(**settings)
        differ = hparam_differences(saved, module.hparams, there="in the fitted encoder", here="now")
        if differ:
            raise ConfigError(f"warm_start=True continues the fitted encoder, but its settings changed: {'; '.join(differ)}. "
                              "Set them back, or fit with warm_start=False to start over")
        return module

    return build


def load_run(run_dir: str | os.PathLike) -> TimeSeriesEncoder:
    """Rebuild the encoder of an ``iars-train`` run from its folder's ``last.ckpt`` (its
    config, averaged weights and normaliser): encoding the run's test split with it gives
    the embeddings its classifier stage used."""
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT_FILE
    if not path.is_file():
        if run_dir.is_file():
            raise DataError(f"{run_dir} is a file, not a run's folder: give the folder of an iars-train run, or read "
                            f"a checkpoint file with iars.TimeSeriesEncoder.load({str(run_dir)!r})")
        where = "not found" if not run_dir.exists() else f"holds no {CHECKPOINT_FILE}"
        raise DataError(f"{run_dir} {where}: give the folder of a run that saved its checkpoint "
                        "(save_checkpoint=true, the default)")
    return TimeSeriesEncoder.load(path)

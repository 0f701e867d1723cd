"""Under DDP every rank must train the same resolution (CPU, gloo, two spawned ranks)."""
import json

import pytest
import pytorch_lightning as pl
import torch
import torch.multiprocessing

from iars.callbacks import ResolutionSelection
from iars.data import SyntheticDataModule
from iars.encoders import DilatedConvEncoder
from iars.module import ContrastivePretrainer


class _RecordPerRank(pl.Callback):
    """Writes what this rank trained, epoch by epoch, and its own per-resolution loss sums
    before the selection callback reduces them over ranks, to ``<dir>/rank<N>.json``."""

    def __init__(self, out_dir):
        self.out_dir = str(out_dir)
        self.levels, self.local = [], []

    def on_train_epoch_start(self, trainer, pl_module):
        self.levels.append(pl_module.train_resolution)

    def on_train_batch_end(self, trainer, pl_module, *args):  # runs before the module's own callbacks
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch and pl_module._sums is not None:
            self.local.append([pl_module._sums.tolist(), pl_module._counts.tolist()])

    def on_train_end(self, trainer, pl_module):
        selection = next(c for c in trainer.callbacks if isinstance(c, ResolutionSelection))
        record = {"levels": self.levels, "local": self.local, "history": selection.history}
        with open(f"{self.out_dir}/rank{trainer.global_rank}.json", "w") as f:
            json.dump(record, f)


@pytest.fixture
def file_sharing():
    """Spawned ranks get tensors through file descriptors by default, which fails in some
    sandboxes ("unable to resize file"); share through files for this test."""
    before = torch.multiprocessing.get_sharing_strategy()
    torch.multiprocessing.set_sharing_strategy("file_system")
    yield
    torch.multiprocessing.set_sharing_strategy(before)


@pytest.mark.slow
@pytest.mark.parametrize("scoring", ["running", "probe"])
def test_all_ranks_train_the_same_resolution(tmp_path, scoring, file_sharing):
    torch.manual_seed(0)
    dm = SyntheticDataModule(n_train=32, n_test=8, length=64, batch_size=4)
    module = ContrastivePretrainer(DilatedConvEncoder(3, K=8, depth=1), mode="iars", max_length=64,
                                   scoring=scoring, seed=3, selection={"probe_every_steps": 1})
    trainer = pl.Trainer(  # the module brings its selection callback
        strategy="ddp_spawn", accelerator="cpu", devices=2, max_epochs=5, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[_RecordPerRank(tmp_path)],
    )
    trainer.fit(module, datamodule=dm)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert len(ranks[0]["levels"]) == 5
    assert ranks[0]["levels"] == ranks[1]["levels"]
    assert ranks[0]["history"] == ranks[1]["history"]  # the same reduced losses and probabilities
    if scoring == "running":  # each rank saw its own data: the scores use the mean over both
        differ = 0
        for e, ((s0, c0), (s1, c1)) in enumerate(zip(ranks[0]["local"], ranks[1]["local"])):
            reduced = ranks[0]["history"][e]["losses"]
            for r in range(len(reduced)):
                if c0[r] + c1[r] == 0:
                    assert reduced[r] is None
                    continue
                assert reduced[r] == pytest.approx((s0[r] + s1[r]) / (c0[r] + c1[r]), rel=1e-6)
                differ += c0[r] > 0 and c1[r] > 0 and abs(s0[r] / c0[r] - s1[r] / c1[r]) > 1e-4
        assert differ >= 3  # the ranks' own losses differ, so a missing reduction would show

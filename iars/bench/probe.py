"""``--probe``: one measurement of every resolution for selection, ``loss.scoring=probe``'s
probe against ``loss.scoring=reuse``'s no-grad losses, alternating over batches."""
from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from types import SimpleNamespace

import torch

from iars import losses
from iars.bench.common import compose, described, markdown, rotated
from iars.data import series_of


def bench_probe(overrides: list[str], args) -> dict:
    """Per K: median seconds of one measurement by ``probe`` and by ``reuse``."""
    from iars.config import build
    from iars.pipeline import build_module

    report = {}
    for K in args.K:
        with tempfile.TemporaryDirectory() as tmp:
            config = compose([*overrides, "loss=iars", f"model.K={K}", f"dataset.batch_size={args.batch_size}"], tmp)
        datamodule = build(config["dataset"])
        datamodule.setup("fit")
        torch.manual_seed(config["seed"])
        module = build_module(config, datamodule)
        loader = datamodule.train_dataloader()
        probe = module.selection.probe_batch(SimpleNamespace(train_dataloader=loader), module)
        P = module.selection.probe_size
        samples: dict[str, list[float]] = {"probe": [], "reuse": []}
        for i, x in zip(range(args.steps), itertools.cycle(loader)):
            with torch.no_grad():
                z1, z2 = module.views(series_of(x))  # the training step's views: computed anyway
            for name in rotated(list(samples), i):
                start = time.perf_counter()
                if name == "probe":
                    module.probe_losses(*probe)
                else:
                    with torch.no_grad():
                        losses.level_losses(z1[:P], z2[:P], module.alpha, module.temporal_unit, module.pool, module.block)
                samples[name].append(time.perf_counter() - start)
        result = {name: statistics.median(v) for name, v in samples.items()}
        title = (f"One measurement of every resolution: {described(overrides)} "
                 f"(T={datamodule.pretrain_X.shape[1]}), K={K}, {P} series, median of {args.steps}")
        row = [f"{result['probe']:.4f}", f"{result['reuse']:.4f}", f"{result['probe'] / result['reuse']:.1f}"]
        print(markdown(["probe s", "reuse s", "probe / reuse"], [row], title), flush=True)
        report[f"K={K}"] = result
    return report

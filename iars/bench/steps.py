"""The default mode: each loss mode's pretraining steps through the real training loop, timed."""
from __future__ import annotations

import statistics
import tempfile

from iars.bench.common import VARIANTS, compose, described, markdown, medians, quiet_lightning, rotated, without_logger
from iars.data import series_of
from iars.module import ContrastivePretrainer


class EncoderFloor(ContrastivePretrainer):
    """The same views and encoder forward/backward with a trivial loss: the cost any
    loss mode pays before its loss."""

    def training_step(self, batch, batch_idx):
        z1, z2 = self.views(series_of(batch))
        return z1.mean() + z2.mean()


def run_variant(name: str, overrides: list[str], steps: int) -> dict:
    """Pretrain one variant for ``steps`` steps; its seconds per step."""
    from iars.config import build
    from iars.pipeline import pretrain

    with tempfile.TemporaryDirectory() as tmp:
        config = compose([*without_logger(overrides), *VARIANTS[name], f"trainer.max_steps={steps}",
                          "trainer.max_epochs=null", "trainer.enable_progress_bar=false", "~logger"], tmp)  # logs nothing
        datamodule = build(config["dataset"])
        fitted = pretrain(config, datamodule, module_class=EncoderFloor if name == "floor" else ContrastivePretrainer)
        selection = fitted.module.selection
        return {
            "per_step": fitted.clock.seconds / fitted.clock.steps,
            "median_step": statistics.median(fitted.clock.step_times),
            "probe_s": selection.probe_seconds if selection else 0.0,
            "length": datamodule.prepare().X_train.shape[1],
        }


def bench(overrides: list[str], variants: list[str], steps: int, rounds: int) -> dict:
    """Alternate the variants ``rounds`` times; per variant the median over rounds."""
    samples: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(rounds):
        for name in rotated(variants, r):
            samples[name].append(run_variant(name, overrides, steps))
            print(f"  round {r + 1} {name:16s} {samples[name][-1]['per_step']:.3f} s/step", flush=True)
    return medians(samples)


def table(results: dict, title: str) -> str:
    rows = [[name, f"{r['per_step']:.3f}", f"{r['median_step']:.3f}", f"{r['probe_s']:.2f}"] for name, r in results.items()]
    ratios = [f"{a}/{b} = {results[a]['per_step'] / results[b]['per_step']:.2f}"
              for a, b in (("hier", "iars"), ("iars", "floor"), ("hier", "random"), ("hier", "floor"))
              if a in results and b in results]
    return markdown(["variant", "s/step (incl. probe)", "median step s", "probe s"], rows, title,
                    "Ratios of s/step: " + ", ".join(ratios))


def bench_steps(overrides: list[str], args) -> dict:
    """Per K: the training-loop bench of ``args.variants`` (:func:`bench`), printed as tables."""
    quiet_lightning()
    report = {}
    for K in args.K:
        run_overrides = [*overrides, f"model.K={K}", f"dataset.batch_size={args.batch_size}"]
        print(f"K={K}: {' '.join(run_overrides)}", flush=True)
        results = bench(run_overrides, args.variants, args.steps, args.rounds)
        length = int(results[args.variants[0]]["length"])
        title = (f"{described(overrides)} (T={length}), K={K}, B={args.batch_size}, "
                 f"{args.steps} steps x {args.rounds} rounds")
        print(table(results, title), flush=True)
        report[f"K={K}"] = results
    return report

"""Pretraining speed of the loss modes, measured in one process.

    python scripts/bench.py dataset=stand_walk_jump dataset.data_dir=../shared/data/UEA --K 320 64
    python scripts/bench.py dataset=synthetic dataset.length=3000 dataset.n_train=16 --steps 8

Each variant (loss mode) pretrains for the same number of steps on the same data and
seed through the real training loop (selection callback and probe included); variants
alternate within each round, and rounds repeat. Reported per variant: wall-clock per
step (fit-loop seconds / steps, what a run pays, probe included) and the median step,
then the ratios hier/iars (the speed-up) and iars/floor, where ``floor`` is the same
encoder forward/backward on the same views with a trivial loss. Hydra overrides after
the options select the dataset, encoder and anything else.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir
from train import build

from iars.module import ContrastivePretrainer

CONF = Path(__file__).resolve().parents[1] / "conf"
VARIANTS = {
    "hier": ["loss=hier"],
    "iars": ["loss=iars"],
    "iars-running": ["loss=iars", "loss.scoring=running"],
    "iars-every_step": ["loss=iars", "loss.scoring=every_step"],
    "random": ["loss=random"],
    "random-step": ["loss=random", "loss.granularity=step"],
    "floor": ["loss=hier"],
}


class EncoderFloor(ContrastivePretrainer):
    """The same views and encoder forward/backward with a trivial loss: the cost any
    loss mode pays before its loss."""

    def training_step(self, batch, batch_idx):
        z1, z2 = self.views(batch[0])
        return z1.mean() + z2.mean()


def run_variant(name: str, overrides: list[str], steps: int) -> dict:
    """Pretrain one variant for ``steps`` steps; its seconds per step."""
    with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[
            f"output_dir={tmp}", *overrides, *VARIANTS[name], f"trainer.max_steps={steps}",
            "trainer.max_epochs=null", "trainer.enable_progress_bar=false", "~logger",
        ])
        exp = build(cfg, module_class=EncoderFloor if name == "floor" else ContrastivePretrainer)
        exp.trainer.fit(exp.module, datamodule=exp.datamodule)
        return {
            "per_step": exp.clock.seconds / exp.clock.steps,
            "median_step": statistics.median(exp.clock.step_times),
            "probe_s": exp.selection.probe_seconds if exp.selection else 0.0,
            "length": exp.datamodule.prepare().X_train.shape[1],
        }


def bench(overrides: list[str], variants: list[str], steps: int, rounds: int) -> dict:
    """Alternate the variants ``rounds`` times; per variant the median over rounds."""
    samples: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(rounds):
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        for name in order:
            samples[name].append(run_variant(name, overrides, steps))
            print(f"  round {r + 1} {name:16s} {samples[name][-1]['per_step']:.3f} s/step", flush=True)
    return {
        name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
        for name, runs in samples.items()
    }


def table(results: dict, title: str) -> str:
    lines = [f"### {title}", "", "| variant | s/step (incl. probe) | median step s | probe s |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['per_step']:.3f} | {r['median_step']:.3f} | {r['probe_s']:.2f} |")
    ratios = []
    for a, b in (("hier", "iars"), ("iars", "floor"), ("hier", "random"), ("hier", "floor")):
        if a in results and b in results:
            ratios.append(f"{a}/{b} = {results[a]['per_step'] / results[b]['per_step']:.2f}")
    return "\n".join(lines + ["", "Ratios of s/step: " + ", ".join(ratios), ""])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--K", type=int, nargs="+", default=[320, 64], help="embedding sizes")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="steps per variant and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["hier", "iars", "random", "floor"], choices=list(VARIANTS))
    parser.add_argument("--json", type=Path, help="also write the results here")
    argv = sys.argv[1:] if argv is None else argv
    overrides = [a for a in argv if "=" in a and not a.startswith("-")]  # Hydra overrides, anywhere
    args = parser.parse_args([a for a in argv if a not in overrides])
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    report = {}
    for K in args.K:
        run_overrides = [*overrides, f"model.K={K}", f"dataset.batch_size={args.batch_size}"]
        print(f"K={K}: {' '.join(run_overrides)}", flush=True)
        results = bench(run_overrides, args.variants, args.steps, args.rounds)
        length = int(results[args.variants[0]]["length"])
        title = (f"{' '.join(overrides) or 'default dataset'} (T={length}), K={K}, B={args.batch_size}, "
                 f"{args.steps} steps x {args.rounds} rounds")
        print(table(results, title), flush=True)
        report[f"K={K}"] = results
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""Speed of the loss modes' pretraining, and of the losses themselves, measured in one process.

    iars-bench dataset=stand_walk_jump dataset.data_dir=../shared/data/UEA --K 320 64
    iars-bench dataset=synthetic dataset.length=3000 dataset.n_train=16 --steps 8
    iars-bench --losses                      # T 500..3000, B 8, K 64 and 320
    iars-bench --probe --K 320 dataset=atrial_fibrillation dataset.data_dir=../shared/data/UEA
    iars-bench --losses --device cuda
    iars-bench --encode --vs-reference ../ts2vec   # causal sliding encoding of a 17 420-step series
    iars-bench --forecast --vs-reference ../ts2vec --variants hier dataset=etth1 dataset.data_dir=../shared/data/ETT

(``python scripts/bench.py ...`` is the same.) One mode per command: the training loop's steps
(the default), ``--runs``, ``--overhead``, ``--probe``, ``--losses``, ``--encode`` or ``--forecast``; two modes are refused,
and so is an option the chosen mode does not use. Hydra overrides (``key=value``,
``+key=value``, ``~key``) select the dataset, encoder and anything else: they may stand before,
among or after the options, or after ``--``; a word that is neither is refused. ``--losses``
takes none (its views are random).

Each variant (loss mode) pretrains for the same number of steps on the same data and
seed through the real training loop (selection callback and probe included); variants
alternate within each round, and rounds repeat. Reported per variant: wall-clock per
step (fit-loop seconds / steps, what a run pays, probe included) and the median step,
then the ratios hier/iars (the speed-up) and iars/floor, where ``floor`` is the same
encoder forward/backward on the same views with a trivial loss.

``--runs`` times what a user waits for: whole ``iars-train`` runs in this process (its start
excluded), with a default run's progress bar and logger, each variant's run beside its
training-bench run, so that the two cannot diverge unnoticed; ``--vs-reference DIR`` adds the
reference TS2Vec implementation from a checkout at DIR (github.com/yuezhihan/ts2vec), fitted in
a fresh process on the same normalised arrays with the same budget, batch size and K, and
scored by the runs' classifier protocol. Without ``--steps`` a run takes TS2Vec's budget.

``--overhead`` looks for what a real run adds per step: one loss variant pretrained with the
bench's settings and with each addition of a default run (progress bar, loggers, deterministic
algorithms), alternating; ``--profile`` adds torch.profiler's top operators of a default run.

``--probe`` times one measurement of every resolution for selection: ``loss.scoring=probe``'s
probe (its fixed batch and crop, two eval-mode encoder passes, every level's loss) against
``loss.scoring=reuse``'s (every level's loss under ``no_grad`` on ``probe_size`` series of a
training step's views, which the step has computed anyway), alternating over ``--steps`` batches.

``--losses`` times one level's loss (instance + temporal, the full-resolution level,
where the cost is) forward and backward on random B×T×K views: the straightforward
formulation (:mod:`iars.reference`: a full similarity matrix, a masked copy,
log-softmax, gather) against iars's, alternating in one process, and each variant's
peak memory in a fresh subprocess (max RSS on CPU, ``torch.cuda.max_memory_allocated``
on GPU), counted from just before the loss.

``--encode`` times the causal sliding encoding of forecasting and anomaly detection
(:mod:`iars.bench.encoding`): iars's against TS2Vec's loop and, with ``--vs-reference DIR``,
the reference's own ``encode``, with the same weights, and checks their outputs agree.

``--forecast`` runs TS2Vec's forecasting protocol on a forecasting CSV with iars's variants and,
with ``--vs-reference DIR``, the reference's own code (:mod:`iars.bench.forecast`): errors per
horizon and seconds, one seed per round.
"""
# The package: common (variants, config composition, table printer), one module per mode: steps
# (the default), runs, overhead, probe, losses (with loss_timing, the unit it times). Two internal
# entry points, subprocess boundaries and no user commands: ``python -m iars.bench.memory`` (a
# loss's peak memory in a fresh process) and ``python -m iars.bench.reference_worker`` (the
# reference TS2Vec, imported from another checkout). Hydra is imported only by
# common.compose, when it runs: the library never imports it at import time.
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from iars.bench.common import VARIANTS
from iars.bench.loss_timing import LOSS_VARIANTS

MODES = {"runs": "time whole iars-train runs", "overhead": "what a default run adds per step",
         "probe": "one measurement: scoring=probe against reuse", "losses": "time the losses themselves",
         "encode": "time causal sliding encoding", "forecast": "forecasting against the reference"}
"""The modes besides the default one (``steps``), each a flag; at most one per command."""

OPTIONS = {
    "steps": ("K", "batch_size", "steps", "rounds", "variants", "json", "overrides"),
    "runs": ("K", "batch_size", "steps", "rounds", "variants", "vs_reference", "json", "overrides"),
    "overhead": ("K", "batch_size", "steps", "rounds", "variants", "profile", "json", "overrides"),
    "probe": ("K", "batch_size", "steps", "json", "overrides"),
    "losses": ("K", "batch_size", "rounds", "T", "device", "loss_variants", "json"),
    "encode": ("K", "rounds", "T", "channels", "padding", "vs_reference", "json"),
    "forecast": ("steps", "rounds", "variants", "vs_reference", "json", "overrides"),
}
"""The options each mode uses: any other given is refused, not ignored."""

DEFAULTS = {"K": [320, 64], "batch_size": 8, "rounds": 2, "variants": ["hier", "iars", "random", "floor"],
            "T": [500, 1000, 2000, 3000], "device": "cpu", "loss_variants": list(LOSS_VARIANTS), "profile": False}
MODE_DEFAULTS = {"encode": {"K": [320], "T": [17420], "channels": 8, "padding": 200},
                 "forecast": {"variants": ["hier"]}}
"""Defaults of one mode that differ from :data:`DEFAULTS` (``--encode``: ETTh1's length, its 7 covariates + 1)."""
STEPS = {"steps": 10, "runs": None, "probe": 20, "overhead": 40, "forecast": None}  # --steps' default (None: TS2Vec's budget)

_KEY = r"[A-Za-z_$][\w$\-]*(?:[./][\w$\-]+)*(?:@[\w$.\-/]*)?"
OVERRIDE = re.compile(rf"(?:\+\+|\+)?{_KEY}=.*|~{_KEY}(?:=.*)?", re.DOTALL)
"""A Hydra override: ``key=value``, ``+key=value``, ``++key=value``, ``~key`` or ``~key=value``
(key: a dotted path or a config group, optionally ``@package``)."""


def positive(text: str) -> int:
    """An argparse type: a positive integer."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def override(text: str) -> str:
    """An argparse type: a Hydra override (:data:`OVERRIDE`)."""
    if not OVERRIDE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is neither an option nor a Hydra override "
                                         "(key=value, +key=value or ~key, e.g. dataset=synthetic)")
    return text


def _spelled(dest: str) -> str:
    return "key=value overrides" if dest == "overrides" else "--" + dest.replace("_", "-")


def parser() -> tuple[argparse.ArgumentParser, set[str]]:
    """The parser, and the option strings that take exactly one value."""
    p = argparse.ArgumentParser(prog="iars-bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    for name, text in MODES.items():
        mode.add_argument(f"--{name}", dest="mode", action="store_const", const=name, help=text + " (see above)")
    p.set_defaults(mode="steps")
    actions = [
        p.add_argument("--K", type=positive, nargs="+", help="embedding sizes (default 320 64; --overhead: the first)"),
        p.add_argument("--batch-size", type=positive, help="default 8"),
        p.add_argument("--steps", type=positive, help="steps per variant and round (default 10; --probe 20, "
                                                      "--overhead 40, --runs: TS2Vec's budget)"),
        p.add_argument("--rounds", type=positive, help="default 2 (not --probe)"),
        p.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                       help="loss modes (default hier iars random floor; not --probe, --losses)"),
        p.add_argument("--json", type=Path, help="also write the results here"),
        p.add_argument("--T", type=positive, nargs="+", help="lengths (--losses; default 500 1000 2000 3000)"),
        p.add_argument("--device", help="cpu or cuda (--losses; default cpu)"),
        p.add_argument("--loss-variants", nargs="+",
                       help=f"{', '.join(LOSS_VARIANTS)} or iars-block<N> (--losses; default all)"),
        p.add_argument("--profile", action="store_const", const=True, help="--overhead: also profile a default run"),
        p.add_argument("--vs-reference", type=Path, metavar="DIR",
                       help="--runs, --encode, --forecast: also the reference TS2Vec checkout at DIR"),
        p.add_argument("--channels", type=positive, help="--encode: channels of the series (default 8)"),
        p.add_argument("--padding", type=int, help="--encode: the context before each timestamp (default 200)"),
    ]
    p.add_argument("overrides", nargs="*", type=override, metavar="key=value",
                   help="Hydra overrides of iars-train's config (not --losses)")
    return p, {s for a in actions if a.nargs is None for s in a.option_strings}


def with_overrides_last(argv: list[str], one_value: set[str]) -> list[str]:
    """``argv`` with its Hydra overrides (:data:`OVERRIDE`) moved behind a ``--``, where only the
    positional ``overrides`` takes them: a list option (``--variants hier iars dataset=…``) ends
    before one. The word after a one-value option (``one_value``) is that option's value,
    whatever it looks like; every word after a ``--`` of the user's is an override."""
    options, overrides = [], []
    words = iter(argv)
    for word in words:
        if word == "--":
            overrides += words
        elif OVERRIDE.fullmatch(word):
            overrides.append(word)
        else:
            options.append(word)
            if word in one_value:
                options += [value for value in [next(words, None)] if value is not None]
    return [*options, "--", *overrides]


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line as each mode takes it: refused (argparse's error, exit 2) if it gives two
    modes, an option its mode does not use or a word that is no override; defaults filled in."""
    p, one_value = parser()
    args = p.parse_intermixed_args(with_overrides_last(argv, one_value))
    unused = [dest for dest, value in vars(args).items()
              if dest != "mode" and value not in (None, []) and dest not in OPTIONS[args.mode]]
    if unused:
        mode = "the default mode (the training loop's steps)" if args.mode == "steps" else f"--{args.mode}"
        p.error(f"{', '.join(map(_spelled, unused))}: not used by {mode}, which takes "
                f"{', '.join(_spelled(d) for d in OPTIONS[args.mode])}")
    for dest, value in {**DEFAULTS, **MODE_DEFAULTS.get(args.mode, {})}.items():
        if getattr(args, dest) is None:
            setattr(args, dest, list(value) if isinstance(value, list) else value)
    if args.steps is None:
        args.steps = STEPS.get(args.mode)
    if args.vs_reference is not None and not (args.vs_reference / "ts2vec.py").is_file():
        p.error(f"--vs-reference {args.vs_reference}: no ts2vec.py there; give a checkout of github.com/yuezhihan/ts2vec")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.mode == "losses":
        from iars.bench.losses import bench_losses

        report = bench_losses(args.T, args.K, args.batch_size, args.device, args.rounds, args.loss_variants)
    elif args.mode == "encode":
        from iars.bench.encoding import bench_encode

        report = bench_encode(args)
    else:
        from iars.bench import overhead, probe, runs, steps
        from iars.bench.forecast import bench_forecast

        run = {"steps": steps.bench_steps, "runs": runs.bench_runs, "probe": probe.bench_probe,
               "overhead": overhead.bench_overhead, "forecast": bench_forecast}[args.mode]
        report = run(args.overrides, args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0

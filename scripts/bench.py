"""Speed of the loss modes' pretraining, and of the losses themselves: ``iars-bench``.

    iars-bench dataset=stand_walk_jump dataset.data_dir=../shared/data/UEA --K 320 64
    iars-bench --losses --device cuda
    iars-bench --probe --K 320 dataset=atrial_fibrillation dataset.data_dir=../shared/data/UEA
    iars-bench --runs --vs-reference <ts2vec checkout> dataset=basic_motions

(``python scripts/bench.py ...`` is the same.) The modes, their options and the internal
subprocess entry points are documented in :mod:`iars.bench` (``iars-bench --help``).
"""
from __future__ import annotations

import sys

from iars.bench import main

if __name__ == "__main__":
    sys.exit(main())

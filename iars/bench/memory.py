"""Peak memory of one loss variant's forward + backward, each measured in a fresh process.

Internal entry point (not a user command): :func:`loss_peak_mb` runs

    python -m iars.bench.memory VARIANT T K B DEVICE

which prints the MB the loss adds at its peak over what was held just before it (max RSS on
CPU, ``torch.cuda.max_memory_allocated`` on GPU): a fresh process, so that its peak is the
loss's own and not an earlier measurement's.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from iars.bench.loss_timing import loss_seconds, views

USAGE = "usage: python -m iars.bench.memory VARIANT T K B DEVICE"


def loss_peak_mb(variant: str, T: int, K: int, B: int, device: str) -> float:
    """Peak memory (MB) of one forward + backward of ``variant``, over what was held just
    before it, measured in a fresh process."""
    out = subprocess.run([sys.executable, "-m", "iars.bench.memory", variant, str(T), str(K), str(B), device],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def memory_of(variant: str, T: int, K: int, B: int, device: str) -> float:
    """(In the fresh process) the MB the loss adds at its peak."""
    z1, z2 = views(T, K, B, device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        loss_seconds(variant, z1, z2)
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    before = _status_kb("VmRSS")  # this process's resident and peak resident memory (a fresh process: its own peak)
    loss_seconds(variant, z1, z2)
    return (_status_kb("VmHWM") - before) / 1024


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status: peak memory on CPU needs Linux")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 5 or not all(a.isdigit() for a in argv[1:4]):
        print(USAGE, file=sys.stderr)
        return 2
    variant, T, K, B, device = argv
    print(memory_of(variant, int(T), int(K), int(B), device))
    return 0


if __name__ == "__main__":
    sys.exit(main())

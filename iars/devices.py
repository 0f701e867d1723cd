"""Device helpers shared by the clock callbacks and the benchmark."""
from __future__ import annotations

import torch


def synchronize(device: str | torch.device) -> None:
    """Wait for ``device``'s queued kernels (CUDA only: CPU work is synchronous), so that a
    wall-clock reading after it counts them."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)

"""``--losses``: one level's loss forward and backward on random views, the straightforward
formulation (:mod:`iars.reference`) against iars's, alternating in one process, and each
variant's peak memory in a fresh subprocess (:mod:`iars.bench.memory`)."""
from __future__ import annotations

import statistics

from iars.bench.common import markdown, rotated
from iars.bench.loss_timing import loss_seconds, views
from iars.bench.memory import loss_peak_mb


def bench_losses(lengths, Ks, B: int, device: str, rounds: int, variants) -> dict:
    """Per (T, K): each variant's median seconds (alternating over rounds) and peak MB."""
    results = {}
    for K in Ks:
        for T in lengths:
            z1, z2 = views(T, K, B, device)
            for name in variants:  # warm-up (allocator, kernels)
                loss_seconds(name, z1, z2)
            times = {name: [] for name in variants}
            for r in range(rounds):
                for name in rotated(variants, r):
                    times[name].append(loss_seconds(name, z1, z2))
            row = {name: {"seconds": statistics.median(t), "peak_mb": loss_peak_mb(name, T, K, B, device)}
                   for name, t in times.items()}
            if device.startswith("cuda"):
                row["iars-bf16"] = {"seconds": statistics.median(
                    loss_seconds("iars", z1, z2, autocast=True) for _ in range(rounds)), "peak_mb": None}
            results[f"T={T},K={K}"] = row
            print(loss_table({f"T={T},K={K}": row}, header=not len(results) > 1), flush=True)
    return results


def loss_table(results: dict, header: bool = True) -> str:
    rows = []
    for key, row in results.items():
        T, K = (part.split("=")[1] for part in key.split(","))
        ref = row.get("reference")
        for name, r in row.items():
            mem = "–" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
            speed = f"{ref['seconds'] / r['seconds']:.2f}×" if ref else "–"
            lean = f"{ref['peak_mb'] / r['peak_mb']:.1f}×" if ref and r["peak_mb"] else "–"
            rows.append([T, K, name, f"{r['seconds']:.3f}", mem, speed, lean])
    return markdown(["T", "K", "variant", "fwd+bwd s", "peak MB", "reference / variant: time", "memory"], rows,
                    header=header)


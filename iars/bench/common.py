"""What the bench's modes share: the loss-mode variants, the one config composition, the
one table printer, the alternation order and per-key medians."""
from __future__ import annotations

import logging
import statistics
from collections.abc import Iterable, Sequence

from iars.legacy import upgrade_overrides

VARIANTS = {
    "hier": ["loss=hier"],
    "iars": ["loss=iars"],
    "iars-running": ["loss=iars", "loss.scoring=running"],
    "iars-every_step": ["loss=iars", "loss.scoring=every_step"],
    "iars-reuse": ["loss=iars", "loss.scoring=reuse"],
    "random": ["loss=random"],
    "random-step": ["loss=random", "loss.granularity=step"],
    "floor": ["loss=hier"],
}
"""The loss modes the training-loop modes compare, as Hydra overrides (``floor``: see
:class:`iars.bench.steps.EncoderFloor`)."""


def compose(overrides: Sequence[str], output_dir: str) -> dict:
    """``iars-train``'s config with ``overrides``, writing into ``output_dir``, as a plain,
    resolved dict (older override keys renamed, as iars-train does). Hydra is imported here
    only: the library never imports it at import time."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from omegaconf import OmegaConf

    with initialize_config_module("iars.conf", version_base="1.3"):
        cfg = hydra_compose("train", overrides=[f"output_dir={output_dir}", *upgrade_overrides(list(overrides))])
        return OmegaConf.to_container(cfg, resolve=True)


def without_logger(overrides: Iterable[str]) -> list[str]:
    """``overrides`` less those of the logger (``logger=…``, ``logger.mode=…``, ``~logger``)."""
    return [o for o in overrides if not o.lstrip("+~").startswith("logger")]


def markdown(columns: Sequence[str], rows: Iterable[Sequence[str]], title: str | None = None,
             footer: str | None = None, header: bool = True) -> str:
    """A Markdown table of ``rows`` (cells already formatted): ``### title`` and a blank line
    above it, ``footer`` (e.g. the ratios) a blank line below, and a blank line closing a titled
    table; ``header=False`` continues a table printed before (no column names)."""
    lines = [f"### {title}", ""] if title is not None else []
    if header:
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if footer is not None:
        lines += ["", footer]
    if title is not None:
        lines.append("")
    return "\n".join(lines)


def rotated(items: list[str], r: int) -> list[str]:
    """Round ``r``'s order: ``items`` rotated by r, so that none always runs first."""
    return items[r % len(items):] + items[: r % len(items)]


def medians(samples: dict[str, list[dict]]) -> dict[str, dict]:
    """Per name, the median over its samples of each key (None where the samples have None)."""
    return {name: {key: None if runs[0][key] is None else statistics.median(s[key] for s in runs)
                   for key in runs[0]} for name, runs in samples.items()}


def quiet_lightning() -> None:
    """Lightning's per-run banners off: the bench prints its own lines."""
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)


def described(overrides: Sequence[str]) -> str:
    """The overrides as a table title names them."""
    return " ".join(overrides) or "default dataset"

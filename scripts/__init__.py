"""Command-line entry points (installed as ``iars-train``, ``iars-baselines``, ``iars-report``,
``iars-bench``; each also runs as ``python scripts/<name>.py``): thin Hydra or argparse shells
over :mod:`iars.pipeline`, :mod:`iars.reporting` and :mod:`iars.bench`. Shipped inside the package
as ``iars.scripts``."""

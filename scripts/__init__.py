"""Command-line entry points (installed as ``iars-train``, ``iars-baselines``, ``iars-report``,
``iars-bench``; each also runs as ``python scripts/<name>.py``): thin Hydra or argparse shells
over :mod:`iars.pipeline` and :mod:`iars.reporting`. Shipped inside the package as ``iars.scripts``."""

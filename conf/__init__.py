"""Hydra configs of the command-line entry points, shipped inside the package as ``iars.conf``."""

"""iars: efficient hierarchical contrastive self-supervised learning for time series."""

__version__ = "0.1.0"

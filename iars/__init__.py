"""iars: efficient hierarchical contrastive self-supervised learning for time series.

    import numpy as np, iars
    X = np.random.randn(20, 3, 128)                               # N×C×T, aeon's layout
    enc = iars.TimeSeriesEncoder(loss="iars", K=16, steps=5).fit(X)
    enc.transform(X)                                              # N×K embeddings
    enc.save("enc.pt"); iars.TimeSeriesEncoder.load("enc.pt")
    iars.load_run("outputs/runs/<date>/<time>")                   # a finished iars-train run
    from iars.aeon import IARSClassifier, IARSTransformer         # aeon's classifier, transformer

The command line (``iars-train``, ``iars-baselines``, ``iars-report``, ``iars-bench``) runs
the same pipeline (:mod:`iars.pipeline`) from Hydra configs.
"""

__version__ = "0.2.0"
__all__ = ["IARSClassifier", "IARSTransformer", "TimeSeriesEncoder", "load_run", "__version__"]


def __getattr__(name: str):
    # Exported lazily, so that importing a light submodule (iars.selection, iars.losses)
    # does not import Lightning and scikit-learn, nor the estimator aeon.
    if name in ("TimeSeriesEncoder", "load_run"):
        from iars import estimator

        return getattr(estimator, name)
    if name in ("IARSClassifier", "IARSTransformer"):
        from iars import aeon

        return getattr(aeon, name)
    raise AttributeError(f"module 'iars' has no attribute {name!r}")

"""ferrokmeans: fast, exact, reproducible k-means with a Rust core.

Two drop-in APIs:

- :class:`KMeans`, a scikit-learn estimator with the constructor, methods
  and attributes of :class:`sklearn.cluster.KMeans`;
- :func:`kmeans`, :func:`kmeans2`, :func:`vq`, :func:`whiten` and
  :class:`ClusterError`, with the signatures and semantics of
  :mod:`scipy.cluster.vq`.
"""

from ferrokmeans._core import __version__
from ferrokmeans._kmeans import KMeans, kmeans_plusplus
from ferrokmeans._show_versions import show_versions
from ferrokmeans._vq import ClusterError, kmeans, kmeans2, vq, whiten

__all__ = [
    "ClusterError",
    "KMeans",
    "__version__",
    "kmeans",
    "kmeans2",
    "kmeans_plusplus",
    "show_versions",
    "vq",
    "whiten",
]

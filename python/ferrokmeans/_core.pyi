"""Type stub of ``ferrokmeans._core``, the compiled Rust extension.

The binding functions are private: the public API wraps them in
``ferrokmeans._kmeans`` and ``ferrokmeans._vq``, which validate every input
first. Each takes float32 or float64 data (any other dtype raises
``TypeError``): a 2-D ndarray of any strides, or a CSR matrix passed as
``(data, indices, indptr, n_features)`` with int64 ``indices`` and
``indptr``. The float arrays that come back have the dtype of the data.
``n_threads=0`` means all cores. Checked against the compiled module by
``python -m mypy.stubtest ferrokmeans._core`` in ``.ci/run``.
"""

from collections.abc import Callable
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

_Float: TypeAlias = np.float32 | np.float64
_FloatArray: TypeAlias = npt.NDArray[_Float]
_Labels: TypeAlias = npt.NDArray[np.int32]
_Csr: TypeAlias = tuple[_FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64], int]
_Data: TypeAlias = _FloatArray | _Csr
# The verbose callback is called as (event, iteration, a, b), event being
# "init", "init_progress", "iteration", "strict" or "tol".
_Callback: TypeAlias = Callable[[str, int, float, float], object]

# PyO3 lists every name it adds to the module; stubtest checks this matches.
__all__ = [
    "ClusterError",
    "__version__",
    "_panic_for_test",
    "default_threads",
    "fit",
    "kmeans2_iterate",
    "kmeans_plusplus",
    "kmeans_refine",
    "predict",
    "simd_level",
    "transform",
    "vq",
]

__version__: str

class ClusterError(Exception):
    """Raised by kmeans2(missing='raise') when a cluster becomes empty."""

def fit(
    x: _Data,
    sample_weight: _FloatArray | None,
    n_clusters: int,
    init: str | _FloatArray,  # "k-means++", "random" or the initial centres
    n_local_trials: int | None,
    n_init: int,
    max_iter: int,
    tol: float,
    seed: int,
    n_threads: int,
    callback: _Callback | None = None,
    algorithm: str = "lloyd",  # "lloyd", "elkan", "hamerly" or "auto"
) -> tuple[_FloatArray, _Labels, float, int, bool]:
    """Returns (centers, labels, inertia, n_iter, converged) of the best of
    ``n_init`` runs."""

def predict(
    x: _Data,
    centers: _FloatArray,
    sample_weight: _FloatArray | None,
    n_threads: int,
) -> tuple[_Labels, float]:
    """Returns (labels, inertia)."""

def transform(x: _Data, centers: _FloatArray, n_threads: int) -> _FloatArray:
    """Returns the Euclidean distances, shape (n_samples, n_clusters)."""

def vq(
    obs: _Data, code_book: _FloatArray, n_threads: int
) -> tuple[_Labels, _FloatArray]:
    """Returns (codes, distances)."""

def kmeans_refine(
    obs: _Data, guess: _FloatArray, thresh: float, n_threads: int
) -> tuple[_FloatArray, float]:
    """Returns (code_book, distortion): scipy's kmeans loop from ``guess``."""

def kmeans2_iterate(
    data: _Data,
    code_book: _FloatArray,
    iter: int,
    raise_on_empty: bool,
    n_threads: int,
) -> tuple[_FloatArray, _Labels, int]:
    """Returns (code_book, labels, iterations_with_an_empty_cluster)."""

def kmeans_plusplus(
    x: _Data,
    sample_weight: _FloatArray | None,
    n_clusters: int,
    n_local_trials: int | None,
    seed: int,
    n_threads: int,
) -> tuple[_FloatArray, npt.NDArray[np.int64]]:
    """Returns (centers, indices of the rows they were taken from)."""

def _panic_for_test() -> None: ...
def simd_level() -> Literal["avx512", "avx2", "portable"]:
    """The instruction set the kernels use, capped by ``FERROKMEANS_SIMD``."""

def default_threads() -> int:
    """Number of threads that ``n_threads=0`` means (all cores)."""

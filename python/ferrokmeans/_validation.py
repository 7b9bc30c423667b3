"""Input checks shared by the estimator and the scipy-style functions.

Everything here turns bad input into a ``ValueError`` or ``TypeError`` whose
message says what to fix, before any array reaches the Rust core.
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "as_core_input",
    "cast_in_range",
    "check_int_param",
    "check_sample_weight",
    "resolve_n_threads",
]


def resolve_n_threads(n_threads: int | None) -> int:
    """Threads for the core: ``n_threads``, else ``FERROKMEANS_NUM_THREADS``,
    else 0 (all cores)."""
    if n_threads is None:
        env = os.environ.get("FERROKMEANS_NUM_THREADS", "").strip()
        if not env:
            return 0
        try:
            value = int(env)
        except ValueError:
            raise ValueError(
                f"FERROKMEANS_NUM_THREADS must be a positive integer, got {env!r}"
            ) from None
        if value < 1:
            raise ValueError(
                f"FERROKMEANS_NUM_THREADS must be a positive integer, got {env!r}"
            )
        return value
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(
            f"n_threads must be None or a positive integer, got {n_threads!r}"
        )
    if n_threads < 1:
        raise ValueError(f"n_threads must be None or >= 1, got {n_threads}")
    if n_threads > _MAX_INT:
        raise ValueError(f"n_threads must be at most {_MAX_INT}, got {n_threads}")
    return int(n_threads)


# The largest count the core accepts (it stores counts in 64-bit integers).
_MAX_INT = 2**62


def check_int_param(
    owner: str, name: str, value: Any, low: int, allowed: tuple[str, ...] = ()
) -> None:
    """Raise scikit-learn-style errors unless ``value`` is an int >= ``low``
    (booleans are refused) or one of the ``allowed`` strings."""
    if isinstance(value, str):
        if value in allowed:
            return
        options = " or ".join(repr(a) for a in allowed)
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an int in the range "
            f"[{low}, inf){' or ' + options if allowed else ''}. Got {value!r} instead."
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        extra = f" or {', '.join(repr(a) for a in allowed)}" if allowed else ""
        raise TypeError(
            f"The {name!r} parameter of {owner} must be an int in the range "
            f"[{low}, inf){extra}. Got {value!r} of type {type(value).__name__} instead."
        )
    if value < low:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an int in the range "
            f"[{low}, inf). Got {value!r} instead."
        )
    if int(value) > _MAX_INT:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be at most {_MAX_INT}. "
            f"Got {value!r} instead."
        )


def cast_in_range(
    a: np.ndarray[Any, Any], dtype: np.dtype[Any], name: str, remedy: str
) -> np.ndarray[Any, Any]:
    """``a`` as a C-contiguous array of ``dtype``, refusing finite values that
    the cast would turn into infinity (float64 beyond float32's range), with a
    ``ValueError`` that names ``name`` and says ``remedy``.

    Without this, numpy warns "overflow encountered in cast" and the core
    then blames an infinity that the user never passed.
    """
    dtype = np.dtype(dtype)
    if (
        dtype.kind == "f"
        and a.dtype.kind == "f"
        and a.dtype.itemsize > dtype.itemsize
        and a.size
    ):
        largest = float(np.max(np.abs(a)))
        limit = float(np.finfo(dtype).max)
        if largest > limit:  # False for NaN: finiteness is checked elsewhere
            raise ValueError(
                f"{name}: values up to {largest:.4g} are too large for "
                f"{dtype.name}, the dtype of X (at most {limit:.4g}); {remedy}"
            )
    return np.ascontiguousarray(a, dtype=dtype)


def check_sample_weight(
    sample_weight: Any, n_samples: int, dtype: np.dtype[Any]
) -> np.ndarray[Any, Any] | None:
    """Validate ``sample_weight`` for ``n_samples`` rows as an array of ``dtype``.

    ``None`` stays ``None`` (the core then weighs every row 1 without
    allocating). Weights must be finite and non-negative with a positive sum,
    and representable in ``dtype`` (float64 weights of float32 data must not
    overflow float32, nor all underflow to zero).
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number) and not isinstance(
        sample_weight, bool
    ):
        # In its own dtype: the range check below applies to it too.
        sample_weight = np.full(n_samples, sample_weight)
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise TypeError(
            f"sample_weight must be numeric, got an array of dtype {w.dtype}"
        )
    if w.ndim != 1:
        raise ValueError(
            f"Sample weights must be 1D array or scalar, got an array of shape {w.shape}"
        )
    if w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == ({w.shape[0]},), expected ({n_samples},)! "
            "Pass one weight per sample."
        )
    # Checked in the caller's dtype, before the cast can overflow.
    if w.dtype.kind == "f" and not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinity; pass finite weights")
    if np.any(w < 0):
        raise ValueError(
            "Negative values in data passed to sample_weight; weights must be >= 0"
        )
    if not np.any(w > 0):
        raise ValueError(
            "Sample weights must contain at least one non-zero number; "
            "all weights are zero"
        )
    remedy = "scale the weights (only their ratios matter) or pass X as float64"
    cast = cast_in_range(w, dtype, "sample_weight", remedy)
    if not np.any(cast > 0):
        raise ValueError(
            f"sample_weight has no weight large enough for {np.dtype(dtype).name} "
            f"(the dtype of X): every positive weight rounds to zero; {remedy}"
        )
    return cast


def as_core_input(X: Any) -> Any:
    """The form the core takes: a float ndarray as is (any strides, no copy),
    or a CSR matrix as ``(data, indices, indptr, n_features)`` with int64
    indices and duplicate entries summed."""
    if sp.issparse(X):
        X = X.tocsr()
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        return (
            np.ascontiguousarray(X.data),
            np.ascontiguousarray(X.indices, dtype=np.int64),
            np.ascontiguousarray(X.indptr, dtype=np.int64),
            int(X.shape[1]),
        )
    return X

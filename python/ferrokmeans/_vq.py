"""``scipy.cluster.vq`` on the Rust core: ``whiten``, ``vq``, ``kmeans``, ``kmeans2``.

The functions keep scipy 1.17's names, defaults, return types, warnings and
exception types. The random initialisations stay in Python and consume the
caller's ``rng``/``seed`` with exactly scipy's calls in scipy's order, so the
same seed picks the same starting code book; the assignment and update loops
run in the core. Where scipy returns garbage or loops forever (NaN with
``check_finite=False``, a negative ``thresh``) or silently shrinks the code
book (empty clusters in ``kmeans``), these functions do the right thing and
their docstrings say so.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import operator
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from scipy.spatial.distance import cdist

from . import _core
from ._validation import _MAX_INT, resolve_n_threads

__all__ = ["ClusterError", "kmeans", "kmeans2", "vq", "whiten"]

ClusterError = _core.ClusterError
# The compiled module gives the exception a one-line docstring; this is the
# full one that help() and the API reference show.
ClusterError.__doc__ = """Raised by :func:`kmeans2` when a cluster becomes empty.

Only with ``missing='raise'``; with the default ``missing='warn'``,
:func:`kmeans2` warns instead and the code of the empty cluster keeps its
position. The counterpart of :class:`scipy.cluster.vq.ClusterError`, with
scipy's message; a subclass of :class:`Exception`.

See Also
--------
kmeans2 : The function that raises it.

Examples
--------
>>> import numpy as np
>>> from ferrokmeans import ClusterError, kmeans2
>>> data = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
>>> far_away = np.array([[0.0, 0.0], [100.0, 100.0]])
>>> try:
...     kmeans2(data, far_away, minit="matrix", missing="raise")
... except ClusterError as e:
...     print(e)
One of the clusters is empty. Re-run kmeans with a different initialization.
"""

_EMPTY_CLUSTER = (
    "One of the clusters is empty. Re-run kmeans with a different initialization."
)
_MISSING_METHODS = ("warn", "raise")

_Array = np.ndarray[Any, Any]
_Rng = np.random.Generator | np.random.RandomState
_F = TypeVar("_F", bound=Callable[..., Any])


# --------------------------------------------------------------------------
# Input checks


def _as_real_array(x: Any, name: str) -> _Array:
    """``np.asarray(x)`` (an ``np.matrix`` becomes a plain ndarray), refusing
    anything that is not integer or floating point."""
    a = np.asarray(x)
    if a.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must hold real numbers (float32, float64 or integers), "
            f"got an array of dtype {a.dtype}"
        )
    return a


def _check_finite(a: _Array, name: str) -> None:
    """scipy's ``check_finite`` test, with its message and the culprit's name."""
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(
            f"array must not contain infs or NaNs (found in {name}); remove them, "
            "or impute them before clustering"
        )


def _not_finite(name: str) -> ValueError:
    """The error for NaN or infinity found in ``name`` although the caller
    skipped the up-front scan (``check_finite=False``)."""
    return ValueError(
        f"{name} contains NaN or infinity; remove them, or impute them before "
        "clustering (check_finite=False skips only the up-front scan)"
    )


def _check_small_finite(a: _Array, name: str, check_finite: bool) -> None:
    """A code book or guess is small: scan it even with ``check_finite=False``,
    so that an error names it rather than the core's "initial centers"."""
    if check_finite:
        _check_finite(a, name)
    elif a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(
            f"{name} contains NaN or infinity; pass a code book of finite values "
            "(code books are checked even with check_finite=False)"
        )


def _work_dtype(dtype: np.dtype[Any], name: str) -> np.dtype[Any]:
    """The dtype the core computes in: float32 and float64 stay as they are,
    integers become float64; other floats are refused, as scipy does."""
    if dtype.kind in "iu":
        return np.dtype(np.float64)
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        return np.dtype(f"f{dtype.itemsize}")  # native byte order for the core
    raise TypeError(
        f"{name} has dtype {dtype}, which is not supported: only float32, "
        f"float64 and integer data are; convert it, e.g. with .astype(np.float64)"
    )


def _check_rank(a: _Array, name: str) -> None:
    """Refuse anything but a 1-D or 2-D array: a scalar is not a data set."""
    if a.ndim > 2:
        raise ValueError(
            f"Input of rank > 2 is not supported: {name} has shape {a.shape}; "
            "pass a 2-D array (one observation per row) or a 1-D array"
        )
    if a.ndim == 0:
        raise ValueError(
            f"{name} is a scalar (a 0-d array); pass a 2-D array (one "
            "observation per row) or a 1-D array of observations"
        )


def _check_iter(iter: Any, what: str) -> int:
    try:
        n = operator.index(iter)
    except TypeError:
        raise TypeError(
            f"iter must be an integer, got {iter!r} of type {type(iter).__name__}"
        ) from None
    if n < 1:
        raise ValueError(f"iter must be at least 1, got {iter} ({what})")
    if n > _MAX_INT:
        # The core counts in 64-bit integers; and no run that long would end.
        raise ValueError(f"iter must be at most {_MAX_INT}, got {iter} ({what})")
    return n


def _check_thresh(thresh: Any) -> float:
    """``thresh`` as a float: a real number >= 0 (NaN refused)."""
    if (
        isinstance(thresh, np.ndarray)
        and thresh.ndim == 0
        and thresh.dtype.kind in "biuf"
    ):
        thresh = thresh.item()
    if not isinstance(thresh, numbers.Real):
        raise TypeError(
            f"thresh must be a real number >= 0, got {thresh!r} of type "
            f"{type(thresh).__name__}"
        )
    value = float(thresh)
    if not value >= 0:
        raise ValueError(f"thresh must be a number >= 0, got {thresh!r}")
    return value


def _scalar_k(value: Any, name: str) -> int:
    """A scalar cluster count as an int; NaN and infinity refused by name."""
    if not np.isfinite(value):
        raise ValueError(
            f"{name} must be a positive integer number of clusters or an array "
            f"of initial codes, got {value}"
        )
    return int(value)


def _as_2d(a: _Array, dtype: np.dtype[Any]) -> _Array:
    """The 2-D view the core takes: a 1-D array is n observations of one
    feature. Copies only to change the dtype."""
    a = a.astype(dtype, copy=False)
    return a[:, np.newaxis] if a.ndim == 1 else a


def _check_code_book(book: _Array, data: _Array, name: str, data_name: str) -> None:
    """A code book must have the rank and the feature count of the data."""
    _check_rank(book, name)
    if book.ndim != data.ndim:
        raise ValueError(
            f"{name} has {book.ndim} dimension(s) but {data_name} has {data.ndim}; "
            f"for 2-D {data_name} pass a (k, n_features) array, for 1-D "
            f"{data_name} a 1-D array of k scalar codes"
        )
    if book.ndim == 2 and book.shape[1] != data.shape[1]:
        raise ValueError(
            f"{name} has {book.shape[1]} features (columns) but {data_name} has "
            f"{data.shape[1]}; they must match"
        )


# --------------------------------------------------------------------------
# Random numbers, exactly as scipy draws them


def _check_random_state(seed: Any) -> _Rng:
    """scipy's ``check_random_state``: None means numpy's global RandomState,
    an int a new RandomState; a RandomState or Generator is used as is."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral | np.integer):
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState | np.random.Generator):
        return seed
    raise ValueError(
        f"{seed!r} cannot be used to seed a numpy.random.RandomState instance; "
        "pass None, an int, a numpy.random.Generator or a RandomState"
    )


def _transition_to_rng(fun: _F) -> _F:
    """scipy's ``_transition_to_rng("seed")``: ``rng=`` goes through
    ``np.random.default_rng``, the legacy ``seed=`` through
    :func:`_check_random_state` (inside ``fun``), passing both is an error.

    With neither, ``fun`` sees ``rng=None`` and draws from numpy's global
    RandomState, so ``np.random.seed`` still works, as in scipy.
    """

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "seed" in kwargs:
            if "rng" in kwargs:
                raise TypeError(
                    f"{fun.__name__}() got multiple values for argument now known "
                    "as `rng`. Specify one of `rng` or `seed`."
                )
            kwargs["rng"] = kwargs.pop("seed")
        elif "rng" in kwargs:
            kwargs["rng"] = np.random.default_rng(kwargs["rng"])
        return fun(*args, **kwargs)

    sig = inspect.signature(fun)
    wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[
            *sig.parameters.values(),
            inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, default=None),
        ]
    )
    return wrapper  # type: ignore[return-value]


def _rng_integers(rng: _Rng, high: int) -> Any:
    """scipy's ``rng_integers(rng, high)``."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(high, size=None, dtype="int64", endpoint=False)
    return rng.randint(high, size=None, dtype="int64")


def _kpoints(data: _Array, k: int, rng: _Rng) -> _Array:
    """k distinct observations, drawn as scipy's ``_kpoints`` does."""
    if k > data.shape[0]:
        raise ValueError(
            f"Cannot pick {k} distinct observations as initial codes: the data "
            f"has only {data.shape[0]}; ask for at most {data.shape[0]} clusters"
        )
    idx = rng.choice(data.shape[0], size=k, replace=False)
    return np.take(data, np.asarray(idx, dtype=np.intp), axis=0)


def _krandinit(data: _Array, k: int, rng: _Rng) -> _Array:
    """k draws from a Gaussian with the data's mean and covariance: scipy's
    ``_krandinit``, operation for operation so the bits match."""
    mu = np.mean(data, axis=0)
    if data.ndim == 1:
        x = rng.standard_normal(size=k)
        x *= np.sqrt(np.cov(data))
    elif data.shape[1] > data.shape[0]:
        # Rank-deficient covariance: sample in the span of the data.
        _, s, vh = np.linalg.svd(data - mu, full_matrices=False)
        x = rng.standard_normal(size=(k, s.size))
        # A 0-d float64 array, not a Python float: it promotes float32 as scipy.
        s_vh = s[:, None] * vh / np.sqrt(data.shape[0] - np.asarray(1.0))
        x = x @ s_vh
    else:
        cov = np.atleast_2d(np.cov(data.T))
        x = rng.standard_normal(size=(k, mu.size))
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as e:
            raise np.linalg.LinAlgError(
                f"{e}: minit='random' needs a positive-definite covariance, but "
                "some feature is constant or features are collinear; use "
                "minit='points' or minit='++', or drop the redundant features"
            ) from e
        x = x @ chol.T
    x += mu
    return x


def _kpp(data: _Array, k: int, rng: _Rng) -> _Array:
    """k observations by k-means++ seeding, drawn as scipy's ``_kpp`` does.

    scipy recomputes the distances to all chosen codes at every step
    (O(n·k²·d)); a running minimum gives the same D² bit for bit in O(n·k·d).
    """
    if data.ndim == 1:
        data = data[:, None]
    n, dims = data.shape
    init = np.empty((k, dims))
    d2: _Array | None = None
    for i in range(k):
        if i == 0:
            idx = int(_rng_integers(rng, n))
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                new = cdist(init[i - 1 : i], data, metric="sqeuclidean")[0]
                d2 = new if d2 is None else np.minimum(d2, new)
                total = d2.sum()
            if not np.isfinite(total):
                raise ValueError(
                    "minit='++': squared distances between observations overflow "
                    f"{data.dtype}; rescale the data (for example with whiten)"
                )
            r = rng.uniform()
            if total == 0:
                # Every observation coincides with a chosen code (fewer
                # distinct observations than k); scipy would divide 0 by 0.
                idx = min(int(r * n), n - 1)
            else:
                cumprobs = (d2 / total).cumsum()
                # Rounding can leave cumprobs[-1] just below r, where scipy
                # would index past the end: take the last observation instead.
                idx = min(int(np.searchsorted(cumprobs, r)), n - 1)
        init[i, :] = data[idx, :]
    return init


_INIT = {"random": _krandinit, "points": _kpoints, "++": _kpp}


# --------------------------------------------------------------------------
# Public functions


def whiten(obs: Any, check_finite: bool | None = None) -> _Array:
    """Normalize a group of observations on a per-feature basis.

    Each feature (column) is divided by its standard deviation across all
    observations, to give it unit variance. Columns of standard deviation zero
    are left unchanged, with a ``RuntimeWarning``. Same as
    :func:`scipy.cluster.vq.whiten`.

    Parameters
    ----------
    obs : array_like of shape (M, N) or (M,)
        Each row is an observation, each column a feature. Real numbers only
        (integers give a float64 result, float32 stays float32).
    check_finite : bool, optional
        Whether to check that the input contains only finite numbers, and warn
        about zero-variance columns (as in scipy, the warning is only given
        when this is true). Default: True.

    Returns
    -------
    result : ndarray
        ``obs`` scaled by the standard deviation of each column. ``obs`` itself
        is never modified.

    Raises
    ------
    TypeError
        If ``obs`` is not an array of real numbers (e.g. complex, bool, str).
    ValueError
        If ``obs`` contains NaN or infinity (whatever ``check_finite``), or is
        not a 1-D or 2-D array.

    Notes
    -----
    Differences from scipy, all where scipy returns garbage:

    - NaN or infinity raises ``ValueError`` even with ``check_finite=False``
      (scipy returns NaN columns); the flag only silences the warning.
    - A column whose values are all equal is left unchanged even when the
      rounding of its mean gives it a tiny non-zero standard deviation
      (scipy divides by that and returns values near 1e16).
    - Values so large that their squares overflow, or so small (denormal)
      that their squares underflow, are whitened correctly: the standard
      deviation of such a column is computed on the column divided by its
      largest absolute value (scipy returns zeros, or the column unchanged
      with a warning). Ordinary columns are computed exactly as in scipy.
    - An empty ``obs`` gives an empty result without warnings, and 0-d or
      rank > 2 input is refused (scipy raises ``AxisError`` on a scalar, and
      whitens each column of a rank-3 array).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrokmeans import whiten
    >>> features = np.array([[1.9, 2.3, 1.7],
    ...                      [1.5, 2.5, 2.2],
    ...                      [0.8, 0.6, 1.7]])
    >>> whiten(features)
    array([[4.17944278, 2.69811351, 7.21248917],
           [3.29956009, 2.93273208, 9.33380951],
           [1.75976538, 0.7038557 , 7.21248917]])
    """
    if check_finite is None:
        check_finite = True
    obs = _as_real_array(obs, "obs")
    _check_rank(obs, "obs")
    # The dtype of scipy's result: that of np.std.
    dtype = obs.dtype if obs.dtype.kind == "f" else np.dtype(np.float64)
    if obs.shape[0] == 0:
        # np.std would warn and give NaN; there is nothing to scale.
        empty: _Array = obs.astype(dtype)
        return empty
    # Per column, 1-D obs being one column. NaN propagates through min and
    # max, and infinity shows in one of them: this scan is also the check
    # for non-finite values, made whatever check_finite says.
    lo = np.atleast_1d(np.min(obs, axis=0))
    hi = np.atleast_1d(np.max(obs, axis=0))
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        if check_finite:
            _check_finite(obs, "obs")  # scipy's message
        raise _not_finite("obs")
    constant = lo == hi
    # scipy's computation, kept bit for bit for ordinary columns.
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        std_dev = np.atleast_1d(np.std(obs, axis=0))
    # Squares of deviations that overflow give inf or NaN; squares that
    # underflow (deviations below sqrt(tiny), ~1e-154 in float64, ~1e-19 in
    # float32) lose their precision or vanish. Such columns are redone.
    small = np.sqrt(np.finfo(std_dev.dtype).tiny)
    redo = ~constant & ~(np.isfinite(std_dev) & (std_dev >= small))
    std_dev = np.where(constant | redo, 1.0, std_dev)
    if check_finite and np.any(constant):
        warnings.warn(
            "Some columns have standard deviation zero. "
            "The values of these columns will not change.",
            RuntimeWarning,
            stacklevel=2,
        )
    whitened: _Array = obs / (std_dev if obs.ndim == 2 else std_dev[0])
    if np.any(redo):
        # Whitening is scale invariant: divide each such column by its
        # largest absolute value (into [-1, 1], where the squares of the
        # deviations neither overflow nor underflow), then by the standard
        # deviation of the result.
        w2 = whitened if whitened.ndim == 2 else whitened[:, np.newaxis]
        cols = (obs if obs.ndim == 2 else obs[:, np.newaxis])[:, redo].astype(dtype)
        scaled = cols / np.maximum(np.abs(lo[redo]), np.abs(hi[redo])).astype(dtype)
        w2[:, redo] = scaled / np.std(scaled, axis=0)
    return whitened


def vq(obs: Any, code_book: Any, check_finite: bool = True) -> tuple[_Array, _Array]:
    """Assign codes from a code book to observations.

    Each observation is assigned the index of the nearest code (Euclidean
    distance; ties go to the lowest index). Same as
    :func:`scipy.cluster.vq.vq`, computed in parallel by the Rust core.

    Parameters
    ----------
    obs : array_like of shape (M, N) or (M,)
        Each row is an observation, each column a feature; a 1-D array is M
        observations of one feature. The features should be whitened first
        (see :func:`whiten`).
    code_book : array_like of shape (k, N), or (k,) for 1-D ``obs``
        Each row is a code, usually from :func:`kmeans` or :func:`kmeans2`.
    check_finite : bool, optional
        Whether to check that the inputs contain only finite numbers.
        Default: True.

    Returns
    -------
    code : ndarray of shape (M,)
        The index of the nearest code of each observation: int32, or the
        platform integer (as in scipy) when both inputs are integer arrays.
    dist : ndarray of shape (M,)
        The (non-squared) Euclidean distance of each observation to its code,
        in the common dtype of the inputs (float32 if both are float32,
        float64 otherwise).

    Raises
    ------
    TypeError
        If an input is not an array of real numbers, or the common dtype is
        float16 or longdouble (as in scipy).
    ValueError
        If the ranks or feature counts differ, the code book is empty, or an
        input contains NaN or infinity.

    Notes
    -----
    Unlike scipy, NaN or infinity in ``obs`` raises ``ValueError`` even with
    ``check_finite=False`` (scipy then returns codes read from uninitialised
    memory): the assignment pass finds them itself, and the flag only selects
    the message (scipy's with True). The code book, small, is always scanned
    up front. An empty ``obs`` gives empty results, as in
    scipy.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrokmeans import vq
    >>> code_book = np.array([[1., 1., 1.],
    ...                       [2., 2., 2.]])
    >>> features = np.array([[1.9, 2.3, 1.7],
    ...                      [1.5, 2.5, 2.2],
    ...                      [0.8, 0.6, 1.7]])
    >>> vq(features, code_book)
    (array([1, 1, 0], dtype=int32), array([0.43588989, 0.73484692, 0.83066239]))
    """
    obs = _as_real_array(obs, "obs")
    code_book = _as_real_array(code_book, "code_book")
    _check_small_finite(code_book, "code_book", check_finite)
    # scipy's compiled vq treats a scalar as one 1-D observation (or code).
    obs, code_book = np.atleast_1d(obs), np.atleast_1d(code_book)
    _check_rank(obs, "obs")
    _check_code_book(code_book, obs, "code_book", "obs")
    common = np.result_type(obs, code_book)
    # Two integer arrays take scipy's pure-Python path: float64 distances and
    # platform-integer codes.
    int_path = common.kind in "iu"
    dtype = _work_dtype(common, "the common dtype of obs and code_book")
    code_dtype = np.intp if int_path else np.int32
    if code_book.shape[0] == 0:
        raise ValueError("code_book is empty; it needs at least one code")
    if obs.shape[0] == 0:
        return np.empty(0, dtype=code_dtype), np.empty(0, dtype=dtype)
    if obs.ndim == 2 and obs.shape[1] == 0:
        # No features: every code is at distance 0; scipy picks the first.
        n = obs.shape[0]
        return np.zeros(n, dtype=code_dtype), np.zeros(n, dtype=dtype)
    try:
        codes, dist = _core.vq(
            _as_2d(obs, dtype), _as_2d(code_book, dtype), resolve_n_threads(None)
        )
    except ValueError:
        # The core finds NaN and infinity itself (and squares that overflow);
        # with check_finite, scipy's message when obs has them. Scanning obs
        # only here spares every call a pass over it.
        if check_finite:
            _check_finite(obs, "obs")
        raise
    return codes.astype(code_dtype, copy=False), dist


@_transition_to_rng
def kmeans(
    obs: Any,
    k_or_guess: Any,
    iter: int = 20,
    thresh: float = 1e-5,
    check_finite: bool = True,
    *,
    rng: Any = None,
) -> tuple[_Array, np.floating[Any]]:
    """Perform k-means on a set of observation vectors forming k clusters.

    Same algorithm, arguments and random draws as
    :func:`scipy.cluster.vq.kmeans`: from ``iter`` random starts (k distinct
    observations each), refine the code book (assign every observation to its
    nearest code, move each code to the mean of its observations) until the
    mean distance changes by at most ``thresh``; return the code book with the
    lowest mean distance.

    Parameters
    ----------
    obs : array_like of shape (M, N) or (M,)
        Each row is an observation, each column a feature; a 1-D array is M
        observations of one feature. The features should be whitened first
        (see :func:`whiten`). float32 stays float32, integers become float64.
    k_or_guess : int or array_like
        The number of codes to generate, or an array of initial codes of shape
        (k, N) (1-D of length k for 1-D ``obs``); with an array ``iter`` is
        ignored and nothing random is drawn.
    iter : int, optional
        The number of random starts (not of iterations). Default: 20.
    thresh : float, optional
        Stop refining when the mean distance changes by at most this.
        Default: 1e-5.
    check_finite : bool, optional
        Whether to check that the inputs contain only finite numbers.
        Default: True.
    rng : {None, int, `numpy.random.Generator`}, optional
        Passed through `numpy.random.default_rng` to pick the starting codes,
        as in scipy. If not given (and ``seed`` not given either), numpy's
        global `RandomState` is used, so ``np.random.seed`` works as in scipy.
    seed : {None, int, `numpy.random.RandomState`, `numpy.random.Generator`}, optional
        scipy's legacy keyword: an int seeds a new `RandomState`, None means
        numpy's global one; a `RandomState` or `Generator` is used as is.
        Give ``rng`` or ``seed``, not both.

    Returns
    -------
    codebook : ndarray of shape (k, N), or (k,) for 1-D ``obs``
        The code book of the best start, in the dtype of ``obs``.
    distortion : numpy floating scalar
        The mean (non-squared) Euclidean distance of the observations to the
        nearest code of ``codebook``.

    Raises
    ------
    TypeError
        If an input is not an array of real numbers, or ``rng``/``seed`` are
        both given.
    ValueError
        If an input contains NaN or infinity, is empty, a scalar or of rank
        > 2, ``k`` is not a positive integer or exceeds the number of
        observations, the guess does not match ``obs``, ``iter`` is below 1
        or above 2**62, or ``thresh`` is negative or NaN (``TypeError`` if it
        is not a real number).

    Notes
    -----
    Differences from scipy, where scipy's results are not what it documents:

    - ``distortion`` is that of the returned code book; scipy returns the one
      measured before its last update, which can be larger.
    - A code whose cluster becomes empty keeps its position, so the code book
      always has k codes; scipy drops it and returns fewer codes.
    - A negative or NaN ``thresh`` raises ``ValueError``; scipy never stops.
    - Integer ``obs`` is clustered as float64; scipy raises ``TypeError``.
      An array ``k_or_guess`` with a single element is a one-code guess.
    - NaN or infinity in ``obs`` raises ``ValueError`` even with
      ``check_finite=False``.
    - Sums are accumulated in float64 for float32 data, so float32 code books
      can differ from scipy's in the last bits.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrokmeans import kmeans
    >>> features = np.array([[1.9, 2.3], [1.5, 2.5], [0.8, 0.6],
    ...                      [0.4, 1.8], [1.0, 1.0]])
    >>> book, distortion = kmeans(features, features[[0, 2]])
    >>> book
    array([[1.7       , 2.4       ],
           [0.73333333, 1.13333333]])
    >>> round(float(distortion), 6)
    0.405639
    >>> book, distortion = kmeans(features, 2, rng=0)
    >>> book.shape
    (2, 2)
    """
    obs = _as_real_array(obs, "obs")
    if check_finite:
        _check_finite(obs, "obs")
    guess = _as_real_array(k_or_guess, "k_or_guess")
    _check_small_finite(guess, "k_or_guess", check_finite)
    n_starts = _check_iter(iter, "the number of random starts")
    thresh = _check_thresh(thresh)
    _check_rank(obs, "obs")
    dtype = _work_dtype(obs.dtype, "obs")
    if obs.size == 0:
        raise ValueError(
            f"obs has shape {obs.shape}; it needs at least one observation "
            "and one feature"
        )
    data = _as_2d(obs, dtype)
    n_threads = resolve_n_threads(None)

    def finish(book: _Array, distortion: float) -> tuple[_Array, np.floating[Any]]:
        return (book[:, 0] if obs.ndim == 1 else book), dtype.type(distortion)

    if guess.ndim > 0:
        _check_code_book(guess, obs, "k_or_guess", "obs")
        if guess.shape[0] == 0:
            raise ValueError(f"Asked for 0 clusters. Initial book was {guess}")
        return finish(
            *_core.kmeans_refine(data, _as_2d(guess, dtype), thresh, n_threads)
        )

    value = guess.item()
    k = _scalar_k(value, "k_or_guess")
    if k != value:
        raise ValueError(
            f"If k_or_guess is a scalar, it must be an integer, got {value!r}."
        )
    if k < 1:
        raise ValueError(f"Asked for {k} clusters; k_or_guess must be at least 1.")
    if k > obs.shape[0]:
        raise ValueError(
            f"Asked for {k} clusters but obs has only {obs.shape[0]} observations; "
            f"k_or_guess must be at most {obs.shape[0]}"
        )
    rng = _check_random_state(rng)
    best: tuple[_Array, float] | None = None
    for _ in range(n_starts):
        start = _kpoints(data, k, rng)
        if not check_finite and not np.isfinite(start).all():
            # Not "the initial centers": the user gave none.
            raise _not_finite("obs")
        book, distortion = _core.kmeans_refine(data, start, thresh, n_threads)
        if best is None or distortion < best[1]:
            best = (book, distortion)
    assert best is not None  # n_starts >= 1
    return finish(*best)


@_transition_to_rng
def kmeans2(
    data: Any,
    k: Any,
    iter: int = 10,
    thresh: float = 1e-5,
    minit: str = "random",
    missing: str = "warn",
    check_finite: bool = True,
    *,
    rng: Any = None,
) -> tuple[_Array, _Array]:
    """Classify a set of observations into k clusters using the k-means algorithm.

    Same algorithm, arguments, random draws, results and warnings as
    :func:`scipy.cluster.vq.kmeans2`: from the initial code book, ``iter``
    times assign every observation to its nearest code and move each code to
    the mean of its observations (a code whose cluster is empty stays put).

    Parameters
    ----------
    data : array_like of shape (M, N) or (M,)
        M observations of N features, or M one-dimensional observations.
        float32 stays float32, integers become float64.
    k : int or array_like
        The number of clusters, or (with ``minit='matrix'``, or whenever it is
        an array) the initial code book of shape (k, N), or (k,) for 1-D data.
    iter : int, optional
        The number of k-means iterations. Default: 10.
    thresh : float, optional
        Not used (as in scipy).
    minit : {'random', 'points', '++', 'matrix'}, optional
        Initialisation: 'random' draws k codes from a Gaussian with the mean
        and covariance of the data; 'points' picks k distinct observations;
        '++' picks k observations by k-means++ seeding; 'matrix' takes ``k``
        as the initial code book. Default: 'random'.
    missing : {'warn', 'raise'}, optional
        What to do when a cluster becomes empty: 'warn' gives a
        ``UserWarning`` (once per iteration that met one) and keeps the code;
        'raise' raises :class:`ClusterError`. Default: 'warn'.
    check_finite : bool, optional
        Whether to check that the inputs contain only finite numbers.
        Default: True.
    rng : {None, int, `numpy.random.Generator`}, optional
        Passed through `numpy.random.default_rng` for the initialisation, as
        in scipy. If not given (and ``seed`` not given either), numpy's global
        `RandomState` is used, so ``np.random.seed`` works as in scipy.
    seed : {None, int, `numpy.random.RandomState`, `numpy.random.Generator`}, optional
        scipy's legacy keyword: an int seeds a new `RandomState`, None means
        numpy's global one; a `RandomState` or `Generator` is used as is.
        Give ``rng`` or ``seed``, not both.

    Returns
    -------
    centroid : ndarray of shape (k, N), or (k,) for 1-D data
        The code book after the last iteration, in the dtype of ``data``.
    label : ndarray of shape (M,), int32
        The code of each observation, from the last assignment (made before
        the last update of the code book, as in scipy).

    Raises
    ------
    ClusterError
        With ``missing='raise'``, when a cluster becomes empty.
    TypeError
        If an input is not an array of real numbers, or ``rng``/``seed`` are
        both given.
    ValueError
        If an input contains NaN or infinity, is empty, a scalar or of rank
        > 2, ``k`` is not positive or not finite, the initial code book does
        not match ``data``, ``minit='points'`` asks for more codes than
        observations, or ``iter`` (below 1 or above 2**62), ``minit`` or
        ``missing`` is invalid.
    numpy.linalg.LinAlgError
        With ``minit='random'``, if the covariance of the data is singular
        (as in scipy).

    Notes
    -----
    Differences from scipy, all where scipy fails:

    - Integer ``data`` is clustered as float64 (scipy raises ``TypeError``).
    - A whole-number float ``k`` such as ``3.0`` works with every ``minit``;
      scipy accepts it only with 'points'. An array ``k`` with a single
      element is a one-code initial code book.
    - NaN or infinity in ``data`` raises ``ValueError`` even with
      ``check_finite=False``.
    - The initial code book is converted to the dtype of ``data`` before the
      first assignment (scipy makes its first assignment in float64 when the
      initial codes are float64 and the data float32), and sums of float32
      data are accumulated in float64: float32 results can differ from
      scipy's in the last bits.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrokmeans import kmeans2
    >>> data = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> centroid, label = kmeans2(data, data[[0, 2]], minit="matrix")
    >>> centroid
    array([[ 0. ,  0.5],
           [10. ,  0.5]])
    >>> label
    array([0, 0, 1, 1], dtype=int32)
    >>> centroid, label = kmeans2(data, 2, minit="++", rng=0)
    >>> np.bincount(label).tolist()
    [2, 2]
    """
    n_iter = _check_iter(iter, "the number of k-means iterations")
    if missing not in _MISSING_METHODS:
        raise ValueError(f"Unknown missing method {missing!r}; use 'warn' or 'raise'")
    data = _as_real_array(data, "data")
    if check_finite:
        _check_finite(data, "data")
    code_book = _as_real_array(np.array(k, copy=True), "k")
    _check_rank(data, "data")
    if data.size < 1 or code_book.size < 1:
        raise ValueError(
            f"Empty input is not supported: data has shape {data.shape} and k "
            f"has shape {code_book.shape}"
        )
    dtype = _work_dtype(data.dtype, "data")
    data = data.astype(dtype, copy=False)

    if minit == "matrix" or code_book.ndim > 0:
        if code_book.ndim == 0:
            raise ValueError(
                "k array doesn't match data rank: with minit='matrix', k must be "
                "the initial code book, of shape (k, n_features) for 2-D data "
                "or (k,) for 1-D data"
            )
        _check_code_book(code_book, data, "k", "data")
        _check_small_finite(code_book, "k", check_finite)
    else:
        value = code_book.item()
        nc = _scalar_k(value, "k")
        if nc < 1:
            raise ValueError(
                f"Cannot ask kmeans2 for {nc} clusters (k was {value}); "
                "k must be at least 1"
            )
        if nc != value:
            warnings.warn("k was not an integer, was converted.", stacklevel=3)
        try:
            init = _INIT[minit]
        except (KeyError, TypeError):
            raise ValueError(
                f"Unknown init method {minit!r}; use one of 'random', 'points', "
                "'++' or 'matrix'"
            ) from None
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                code_book = init(data, nc, _check_random_state(rng))
        except (ValueError, np.linalg.LinAlgError):
            # With check_finite=False, the cause may be NaN or infinity in
            # the data: say so rather than blame the init or an overflow.
            if not check_finite and not np.isfinite(data).all():
                raise _not_finite("data") from None
            raise
        if not np.all(np.isfinite(code_book)):
            if not check_finite and not np.isfinite(data).all():
                raise _not_finite("data")
            raise ValueError(
                f"minit={minit!r} produced a non-finite initial code book: the "
                "data's values are so large that their squares overflow; rescale "
                "the data (for example with whiten)"
            )

    book, labels, n_empty = _core.kmeans2_iterate(
        _as_2d(data, dtype),
        _as_2d(code_book, dtype),
        n_iter,
        missing == "raise",
        resolve_n_threads(None),
    )
    # scipy warns once per iteration that met an empty cluster.
    for _ in range(n_empty):
        warnings.warn(_EMPTY_CLUSTER, UserWarning, stacklevel=3)
    return (book[:, 0] if data.ndim == 1 else book), labels

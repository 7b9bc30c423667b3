"""``ferrokmeans.KMeans``: a drop-in for ``sklearn.cluster.KMeans``."""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core
from ._validation import (
    as_core_input,
    cast_in_range,
    check_int_param,
    check_sample_weight,
    resolve_n_threads,
)

__all__ = ["KMeans", "kmeans_plusplus"]

_ALGORITHMS = ("lloyd", "elkan", "hamerly", "yinyang", "auto")
_FITTED_ATTRIBUTES = (
    "cluster_centers_",
    "labels_",
    "inertia_",
    "n_iter_",
    "n_features_in_",
    "feature_names_in_",
    "_n_features_out",
    "_n_init",
)
_INIT_NAMES = ("k-means++", "random")


def _draw_seed(random_state: np.random.RandomState) -> int:
    """One 63-bit seed for the core's generator, drawn from ``random_state``."""
    return int(random_state.randint(0, np.iinfo(np.int64).max, dtype=np.int64))


@functools.lru_cache(maxsize=64)
def _seed_of_int(seed: int) -> int:
    """``_draw_seed`` of a fresh ``RandomState(seed)``, remembered: seeding a
    Mersenne Twister takes longer than a small fit's iterations (some 70 µs),
    and an integer ``random_state`` always draws the same seed. Invalid seeds
    raise, as ``check_random_state`` does (and are not remembered)."""
    return _draw_seed(check_random_state(seed))


def _finite_sum(X: np.ndarray[Any, Any]) -> bool:
    """Whether the sum of ``X`` is finite (then so is every value), silently:
    in X's own type, and if that overflows, float32 data again in float64
    (which they cannot overflow). False sends the caller to the full check."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum()):
            return True
        return X.dtype == np.float32 and bool(np.isfinite(X.sum(dtype=np.float64)))


def _plain_finite(A: Any) -> bool:
    """Whether ``A`` is a plain, non-empty 2-d float32/float64 ndarray whose
    values are all finite: what scikit-learn's checks return as it is, so
    the callers skip them (every other input takes the full checks)."""
    return (
        type(A) is np.ndarray
        and A.ndim == 2
        and A.dtype in (np.float32, np.float64)
        and A.size > 0
        and _finite_sum(A)
    )


def _core_seed(random_state: Any) -> int:
    """The core's seed for ``random_state`` (None, an int or a RandomState)."""
    if isinstance(random_state, numbers.Integral):
        return _seed_of_int(int(random_state))
    return _draw_seed(check_random_state(random_state))


class _VerbosePrinter:
    """Turns the core's progress events into scikit-learn's verbose lines."""

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self._scalar = dtype.type

    def __call__(self, kind: str, it: int, a: float, b: float) -> None:
        if kind == "init":
            print("Initialization complete")
        elif kind == "iteration":
            print(f"Iteration {it}, inertia {self._scalar(a)}.")
        elif kind == "strict":
            print(f"Converged at iteration {it}: strict convergence.")
        elif kind == "tol":
            print(
                f"Converged at iteration {it}: center shift {self._scalar(a)} "
                f"within tolerance {self._scalar(b)}."
            )


def _distinct_labels(labels: np.ndarray[Any, Any], k: int) -> int:
    """How many of the clusters ``0..k-1`` hold a label: a mark per cluster
    rather than a sort. Indexing with the int32 labels converts them to
    intp in small buffers; ``bincount`` made a 64-bit copy of them all (as
    large as float32 data of two features)."""
    seen = np.zeros(k, dtype=bool)
    seen[labels] = True
    return int(np.count_nonzero(seen))


class KMeans(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """K-Means clustering with a fast, exact, deterministic Rust core.

    A drop-in replacement for :class:`sklearn.cluster.KMeans`: same
    constructor, methods, attributes, warnings and errors. Given the same
    initial centres it reaches the same labels, centres and ``n_iter_`` as
    scikit-learn's Lloyd algorithm.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters to form and of centroids to generate.
    init : {'k-means++', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        Method for initialization: 'k-means++' is scikit-learn's greedy
        k-means++ (``2 + int(ln k)`` candidate trials per centre, weighted by
        ``sample_weight``; a row of zero weight is never chosen); 'random'
        picks ``n_clusters`` distinct rows with probability proportional to
        their weight; an array gives the initial centres; a callable is called
        as ``init(X, n_clusters, random_state)`` and must return them.
    n_init : 'auto' or int, default='auto'
        Number of runs with different seeds; the run with the lowest inertia
        is kept. 'auto' means 1 for 'k-means++' and arrays, 10 for 'random'
        and callables. The value used is stored in ``_n_init``.
    max_iter : int, default=300
        Maximum number of Lloyd iterations of a single run.
    tol : float, default=1e-4
        Relative tolerance: a run stops when the total squared movement of
        the centres is at most ``tol`` times the mean per-feature variance of
        X (or when no label changes).
    verbose : int, default=0
        Print progress to ``sys.stdout`` as scikit-learn does.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation. The same value gives bit-identical results,
        for any number of threads.
    copy_x : bool, default=True
        Accepted for compatibility. ferrokmeans never modifies nor copies X
        (it does not centre the data in place), so this has no effect.
    algorithm : {'auto', 'lloyd', 'elkan', 'hamerly', 'yinyang'}, default='auto'
        Which exact algorithm runs the iterations; all give identical
        labels, centres, inertia and ``n_iter_`` (bit for bit). 'lloyd'
        computes every distance with SIMD kernels. 'hamerly' keeps, per
        sample, an upper bound on the distance to its centre and a lower
        bound on the distance to every other centre, and skips the samples
        whose bounds settle them. 'yinyang' keeps one lower bound per group
        of about ten nearby centres (at most ``n_features / 4`` groups) and
        ranks a sample only against the groups its bounds do not settle; it
        runs 'hamerly' for 8 features or fewer. 'elkan' is accepted for
        scikit-learn compatibility and runs 'hamerly' (two bounds per sample
        instead of ``n_clusters + 1``). 'auto' (the default; scikit-learn's
        default is 'lloyd', which gives the same results) picks 'yinyang'
        for dense data with at least 16 features and 32 clusters, where it
        measured faster, else 'lloyd'; but 'lloyd' from 16 features and 512
        clusters on CPUs with AVX-512 VNNI, where its passes are screened by
        8-bit dot products (same results, measured faster than 'yinyang').
        Sparse data always runs 'lloyd'.
    n_threads : int or None, default=None
        Threads for the Rust core. None uses the ``FERROKMEANS_NUM_THREADS``
        environment variable when set, else all cores. Results do not depend
        on it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of the cluster centres, in the dtype of X (float32 stays
        float32).
    labels_ : ndarray of shape (n_samples,), dtype int32
        Label of each point; always the nearest of ``cluster_centers_``.
    inertia_ : float
        Sum of squared distances of samples to their closest centre,
        weighted by the sample weights.
    n_iter_ : int
        Number of iterations of the best run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    ferrokmeans.kmeans, ferrokmeans.kmeans2 : The scipy-style functions.

    Notes
    -----
    Sums are accumulated in float64 even for float32 data, and distances are
    computed as ``sum((x - c) ** 2)``, so data far from the origin keeps its
    precision. Rows are processed in a fixed grid of blocks whose partial
    sums are combined in a fixed order, hence the thread-count independence.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrokmeans import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(km.cluster_centers_.tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> bool(km.predict([[0, 0], [12, 3]])[0] != km.predict([[12, 3]])[0])
    True
    >>> float(km.inertia_)
    16.0
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | Callable[..., Any] | Any = "k-means++",
        n_init: str | int = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        verbose: int = 0,
        random_state: int | np.random.RandomState | None = None,
        copy_x: bool = True,
        algorithm: str = "auto",
        n_threads: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.n_threads = n_threads

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        name = type(self).__name__
        check_int_param(name, "n_clusters", self.n_clusters, 1)
        check_int_param(name, "n_init", self.n_init, 1, allowed=("auto",))
        check_int_param(name, "max_iter", self.max_iter, 1)
        check_int_param(name, "verbose", self.verbose, 0)
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
            raise TypeError(
                f"The 'tol' parameter of {name} must be a float in the range "
                f"[0.0, inf). Got {tol!r} of type {type(tol).__name__} instead."
            )
        if not (0.0 <= float(tol) < np.inf):
            raise ValueError(
                f"The 'tol' parameter of {name} must be a float in the range "
                f"[0.0, inf). Got {tol!r} instead."
            )
        if not isinstance(self.algorithm, str) or self.algorithm not in _ALGORITHMS:
            raise ValueError(
                f"The 'algorithm' parameter of {name} must be a str among "
                f"{{'lloyd', 'elkan', 'hamerly', 'yinyang', 'auto'}}. Got {self.algorithm!r} "
                "instead."
            )
        if isinstance(self.init, str):
            if self.init not in _INIT_NAMES:
                raise ValueError(
                    f"The 'init' parameter of {name} must be a str among "
                    "{'k-means++', 'random'}, a callable or an array-like. "
                    f"Got {self.init!r} instead."
                )
        elif not callable(self.init) and not hasattr(self.init, "__array__"):
            if not isinstance(self.init, list | tuple):
                raise TypeError(
                    f"The 'init' parameter of {name} must be a str among "
                    "{'k-means++', 'random'}, a callable or an array-like. "
                    f"Got {self.init!r} of type {type(self.init).__name__} instead."
                )
        resolve_n_threads(self.n_threads)

    def _resolve_n_init(self) -> int:
        if self.n_init == "auto":
            if isinstance(self.init, str):
                return 1 if self.init == "k-means++" else 10
            return 10 if callable(self.init) else 1
        n_init = int(self.n_init)
        if not isinstance(self.init, str) and not callable(self.init) and n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one "
                f"init in {type(self).__name__} instead of n_init={n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            return 1
        return n_init

    def _check_centers(self, centers: Any, X: Any, what: str) -> np.ndarray[Any, Any]:
        # float32 and float64 as given, other types as float64; cast to the
        # dtype of X only after the checks, so that float64 centres beyond
        # float32's range are refused by name, not turned into infinities.
        c: np.ndarray[Any, Any]
        if _plain_finite(centers) and centers.flags.c_contiguous:
            # What check_array returns for it (the array itself), without
            # its checks for other kinds of input: as much time as a few
            # iterations of a small fit.
            c = centers
        else:
            c = check_array(
                centers, dtype=[np.float64, np.float32], copy=False, order="C"
            )
        if c.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {c.shape} does not match "
                f"the number of clusters {self.n_clusters}."
            )
        if c.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {c.shape} does not match "
                f"the number of features of the data {X.shape[1]}."
            )
        return cast_in_range(
            c,
            X.dtype,
            what,
            "pass X as float64, or initial centers within float32's range",
        )

    def _validate_X(self, X: Any, reset: bool) -> Any:
        if _plain_finite(X) and (
            reset
            or (
                getattr(self, "n_features_in_", None) == X.shape[1]
                and not hasattr(self, "feature_names_in_")
            )
        ):
            # A plain, finite, non-empty float array: what validate_data
            # would do to it, without its some 70 µs of checks for other
            # kinds of input (a small fit's iterations take less). Anything
            # else, including a sum that overflows, takes the full checks.
            if reset:
                self.n_features_in_ = X.shape[1]
                self.__dict__.pop("feature_names_in_", None)
            return X
        return validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            reset=reset,
            accept_large_sparse=True,
        )

    # --------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> KMeans:
        """Compute k-means clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances. float32 and float64 are used as they are
            (any memory layout, read-only and memory-mapped arrays included,
            without a copy); other numeric types become float64; sparse
            input must be CSR (other formats are converted).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each observation; None weighs all equally.

        Returns
        -------
        self : object
            Fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from ferrokmeans import KMeans
        >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
        >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
        >>> km.cluster_centers_[np.argsort(km.cluster_centers_[:, 0])]
        array([[ 0. ,  0.5],
               [10. ,  0.5]])

        A weight counts a row that many times:

        >>> km = KMeans(n_clusters=2, random_state=0)
        >>> km = km.fit(X, sample_weight=[3, 1, 1, 1])
        >>> km.cluster_centers_[np.argsort(km.cluster_centers_[:, 0])]
        array([[ 0.  ,  0.25],
               [10.  ,  0.5 ]])
        """
        try:
            return self._fit(X, sample_weight)
        except BaseException:
            # A fit that fails or is interrupted (Ctrl-C) leaves the estimator
            # unfitted, never half-fitted with a previous fit's centres.
            for name in _FITTED_ATTRIBUTES:
                self.__dict__.pop(name, None)
            raise

    def _fit(self, X: Any, sample_weight: Any) -> KMeans:
        self._check_params()
        X = self._validate_X(X, reset=True)
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        sw = check_sample_weight(sample_weight, n_samples, X.dtype)
        self._n_init = self._resolve_n_init()
        n_threads = resolve_n_threads(self.n_threads)
        callback = _VerbosePrinter(X.dtype) if self.verbose else None
        data = as_core_input(X)

        # (init, n_init, seed) of each call to the core.
        runs: list[tuple[str | np.ndarray[Any, Any], int, int]]
        if isinstance(self.init, str):
            runs = [(self.init, self._n_init, _core_seed(self.random_state))]
        elif callable(self.init):
            random_state = check_random_state(self.random_state)
            runs = [
                (
                    self._check_centers(
                        self.init(X, self.n_clusters, random_state=random_state),
                        X,
                        "the centers returned by the init callable",
                    ),
                    1,
                    0,
                )
                for _ in range(self._n_init)
            ]
        else:
            # Not used, but checked as scikit-learn does (an integer through
            # the remembered seed, without seeding a generator again).
            if isinstance(self.random_state, numbers.Integral):
                _seed_of_int(int(self.random_state))
            else:
                check_random_state(self.random_state)
            runs = [(self._check_centers(self.init, X, "init"), 1, 0)]

        best = None
        for init, n_init, seed in runs:
            result = _core.fit(
                data,
                sw,
                self.n_clusters,
                init,
                None,
                n_init,
                self.max_iter,
                float(self.tol),
                seed,
                n_threads,
                callback,
                self.algorithm,
            )
            if best is None or result[2] < best[2]:
                best = result
        assert best is not None
        centers, labels, inertia, n_iter, _ = best

        distinct = _distinct_labels(labels, self.n_clusters)
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate "
                "points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.cluster_centers_ = centers
        self._n_features_out = centers.shape[0]
        self.labels_ = labels
        self.inertia_ = float(inertia)
        self.n_iter_ = int(n_iter)
        return self

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> Any:
        """Compute cluster centres and predict the cluster of each sample.

        Equivalent to ``fit(X, sample_weight=sample_weight).labels_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances, as in :meth:`fit`.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each observation; None weighs all equally.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int32
            Index of the cluster each sample belongs to.

        Examples
        --------
        >>> import numpy as np
        >>> from ferrokmeans import KMeans
        >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
        >>> labels = KMeans(n_clusters=2, random_state=0).fit_predict(X)
        >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
        True
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    # ----------------------------------------------------------- fitted use
    def _fitted_input(self, X: Any) -> tuple[Any, np.ndarray[Any, Any]]:
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        centers = cast_in_range(
            self.cluster_centers_,
            X.dtype,
            "cluster_centers_ (fitted on float64 data)",
            "pass X as float64, e.g. X.astype(np.float64)",
        )
        return X, centers

    def predict(self, X: Any) -> Any:
        """Predict the closest cluster each sample in X belongs to.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data, with the features seen in :meth:`fit`. Computed in its
            own dtype if float32 or float64 (the centres are converted).

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int32
            Index of the nearest of ``cluster_centers_`` (the lowest index
            on a tie).

        Examples
        --------
        >>> import numpy as np
        >>> from ferrokmeans import KMeans
        >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
        >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
        >>> new = km.predict([[1.0, 0.5], [9.0, 0.5]])
        >>> new.tolist() == [km.labels_[0], km.labels_[2]]
        True
        """
        X, centers = self._fitted_input(X)
        labels, _ = _core.predict(
            as_core_input(X), centers, None, resolve_n_threads(self.n_threads)
        )
        return labels

    def transform(self, X: Any) -> Any:
        """Transform X to a cluster-distance space.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data, with the features seen in :meth:`fit`.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Euclidean (not squared) distance of each sample to each centre, in
            the dtype of X (float32 stays float32). With
            ``set_output(transform="pandas")`` a DataFrame with the columns
            ``kmeans0``, ``kmeans1``, ...

        Examples
        --------
        >>> import numpy as np
        >>> from ferrokmeans import KMeans
        >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
        >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
        >>> np.sort(km.transform([[0.0, 0.5], [5.0, 0.5]]), axis=1)
        array([[ 0., 10.],
               [ 5.,  5.]])
        """
        X, centers = self._fitted_input(X)
        return _core.transform(
            as_core_input(X), centers, resolve_n_threads(self.n_threads)
        )

    def fit_transform(self, X: Any, y: Any = None, sample_weight: Any = None) -> Any:
        """Compute clustering and transform X to cluster-distance space.

        Equivalent to ``fit(X, sample_weight=sample_weight).transform(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances, as in :meth:`fit`.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each observation; None weighs all equally.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Distance of each sample to each centre, as :meth:`transform`.

        Examples
        --------
        >>> import numpy as np
        >>> from ferrokmeans import KMeans
        >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
        >>> distances = KMeans(n_clusters=2, random_state=0).fit_transform(X)
        >>> distances.min(axis=1)
        array([0.5, 0.5, 0.5, 0.5])
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Opposite of the value of X on the k-means objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data, with the features seen in :meth:`fit`.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each observation; None weighs all equally.

        Returns
        -------
        score : float
            Minus the (weighted) sum of squared distances of the samples to
            their nearest centre: higher is better, as scikit-learn's model
            selection tools expect.

        Examples
        --------
        >>> import numpy as np
        >>> from ferrokmeans import KMeans
        >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
        >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
        >>> km.score(X)
        -1.0
        >>> km.score([[0.0, 3.5]])
        -9.0
        """
        X, centers = self._fitted_input(X)
        sw = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        _, inertia = _core.predict(
            as_core_input(X), centers, sw, resolve_n_threads(self.n_threads)
        )
        return -float(inertia)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def kmeans_plusplus(
    X: Any,
    n_clusters: int,
    *,
    sample_weight: Any = None,
    x_squared_norms: Any = None,
    random_state: int | np.random.RandomState | None = None,
    n_local_trials: int | None = None,
    n_threads: int | None = None,
) -> tuple[Any, Any]:
    """Initial centres by greedy k-means++, as :func:`sklearn.cluster.kmeans_plusplus`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data to pick seeds from.
    n_clusters : int
        The number of centres to choose.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights; a row of zero weight is never chosen.
    x_squared_norms : ignored
        Accepted for compatibility with scikit-learn.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.
    n_local_trials : int, default=None
        Candidates per centre; None means ``2 + int(ln(n_clusters))``.
    n_threads : int or None, default=None
        Threads for the core (results do not depend on it).

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
        The initial centres, in the dtype of X (dense even for sparse X).
    indices : ndarray of shape (n_clusters,)
        Row of X each centre was taken from.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrokmeans import kmeans_plusplus
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> centers, idx = kmeans_plusplus(X, 2, random_state=0)
    >>> sorted(X[idx, 0].tolist())
    [0.0, 10.0]
    """
    check_int_param("kmeans_plusplus", "n_clusters", n_clusters, 1)
    if n_local_trials is not None:
        check_int_param("kmeans_plusplus", "n_local_trials", n_local_trials, 1)
    if not _plain_finite(X):
        # A plain, finite, non-empty float array is what check_array would
        # return as it is (the same shortcut as the estimator's).
        X = check_array(
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            accept_large_sparse=True,
        )
    if X.shape[0] < n_clusters:
        raise ValueError(
            f"n_samples={X.shape[0]} should be >= n_clusters={n_clusters}."
        )
    sw = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    seed = _core_seed(random_state)
    centers, indices = _core.kmeans_plusplus(
        as_core_input(X),
        sw,
        n_clusters,
        n_local_trials,
        seed,
        resolve_n_threads(n_threads),
    )
    if sp.issparse(X):
        centers = np.asarray(centers)
    return centers, indices

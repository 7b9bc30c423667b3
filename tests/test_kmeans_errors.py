"""Every documented error path: the exception type and what the message
says. Bad input must never crash the interpreter nor give garbage."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from ferrokmeans import KMeans, _core, kmeans_plusplus


@pytest.fixture
def X() -> np.ndarray:
    return np.random.default_rng(0).random((10, 3))


def _with(X: np.ndarray, value: float) -> np.ndarray:
    X = X.copy()
    X[4, 1] = value
    return X


# -------------------------------------------------------------------- X


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.nan, "Input (X )?contains NaN"),
        (np.inf, "Input (X )?contains infinity"),
        (-np.inf, "Input (X )?contains infinity"),
    ],
)
@pytest.mark.parametrize("sparse", [False, True])
def test_non_finite_X(X, value, message, sparse):
    bad = _with(X, value)
    if sparse:
        bad = sp.csr_matrix(bad)
    with pytest.raises(ValueError, match=message):
        KMeans(2).fit(bad)
    fitted = KMeans(2, random_state=0).fit(X)
    for method in (fitted.predict, fitted.transform, fitted.score):
        with pytest.raises(ValueError, match=message):
            method(bad)
    with pytest.raises(ValueError, match=message):
        kmeans_plusplus(bad, 2)


@pytest.mark.parametrize(("dtype", "big"), [(np.float64, 1e200), (np.float32, 3e19)])
def test_finite_values_whose_squares_overflow(X, dtype, big):
    # Finite, so scikit-learn's checks let them through; the core refuses
    # them rather than return NaN centres.
    bad = (X * big).astype(dtype)
    with pytest.raises(ValueError, match=f"overflow {np.dtype(dtype).name}"):
        KMeans(2, random_state=0).fit(bad)
    fitted = KMeans(2, random_state=0).fit(X.astype(dtype))
    for method in (fitted.predict, fitted.transform, fitted.score):
        with pytest.raises(ValueError, match="rescale the data"):
            method(bad)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.empty((0, 3)), r"Found array with 0 sample\(s\)"),
        (np.empty((3, 0)), r"Found array with 0 feature\(s\)"),
        (np.arange(5.0), "Expected 2D array, got 1D array"),
        (np.ones((4, 3, 2)), "Found array with dim 3"),
        (np.ones((4, 3), dtype=complex), "Complex data not supported"),
        ([["a", "b"], ["c", "d"]], "could not convert string to float"),
        (np.array([[1, "x"], [2, 3]], dtype=object), "could not convert string"),
    ],
    ids=["empty", "no-features", "1d", "3d", "complex", "strings", "object"],
)
def test_bad_X(bad, message):
    with pytest.raises(ValueError, match=message):
        KMeans(1).fit(bad)


# ------------------------------------------------------------ parameters


@pytest.mark.parametrize(
    ("n_clusters", "error", "message"),
    [
        (
            0,
            ValueError,
            r"'n_clusters' parameter of KMeans must be an int in the range \[1, inf\)",
        ),
        (-1, ValueError, r"'n_clusters' parameter of KMeans must be an int .*Got -1"),
        (2.5, TypeError, r"'n_clusters' parameter .*Got 2.5 of type float"),
        (True, TypeError, r"'n_clusters' parameter .*Got True of type bool"),
        ("3", ValueError, r"'n_clusters' parameter .*Got '3'"),
        (None, TypeError, r"'n_clusters' parameter .*of type NoneType"),
    ],
)
def test_bad_n_clusters(X, n_clusters, error, message):
    with pytest.raises(error, match=message):
        KMeans(n_clusters).fit(X)


def test_n_clusters_larger_than_n_samples(X):
    with pytest.raises(ValueError, match="n_samples=10 should be >= n_clusters=11"):
        KMeans(11).fit(X)
    with pytest.raises(ValueError, match="n_samples=10 should be >= n_clusters=11"):
        kmeans_plusplus(X, 11)


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        (
            {"max_iter": 0},
            ValueError,
            r"'max_iter' parameter of KMeans must be an int in the range \[1, inf\)",
        ),
        ({"max_iter": 1.5}, TypeError, "'max_iter' parameter"),
        (
            {"n_init": 0},
            ValueError,
            r"'n_init' parameter of KMeans must be an int in the range \[1, inf\)",
        ),
        ({"n_init": "many"}, ValueError, r"'n_init' parameter .* or 'auto'"),
        (
            {"tol": -1},
            ValueError,
            r"'tol' parameter of KMeans must be a float in the range \[0.0, inf\)",
        ),
        ({"tol": np.nan}, ValueError, "'tol' parameter"),
        ({"tol": np.inf}, ValueError, "'tol' parameter"),
        ({"tol": "small"}, TypeError, "'tol' parameter .*of type str"),
        ({"verbose": -1}, ValueError, "'verbose' parameter"),
        (
            {"algorithm": "fast"},
            ValueError,
            r"'algorithm' parameter of KMeans must be a str among "
            r"\{'lloyd', 'elkan', 'hamerly', 'yinyang', 'auto'\}",
        ),
        ({"algorithm": None}, ValueError, "'algorithm' parameter"),
        (
            {"init": "kmeans"},
            ValueError,
            r"'init' parameter of KMeans must be a str among \{'k-means\+\+', 'random'\}",
        ),
        ({"init": 5}, TypeError, "'init' parameter .*of type int"),
        ({"n_threads": 0}, ValueError, "n_threads must be None or >= 1"),
        ({"n_threads": 1.5}, TypeError, "n_threads must be None or a positive integer"),
    ],
)
def test_bad_parameters(X, params, error, message):
    with pytest.raises(error, match=message):
        KMeans(2, **params).fit(X)


def test_kmeans_plusplus_bad_parameters(X):
    with pytest.raises(
        ValueError, match="'n_local_trials' parameter of kmeans_plusplus"
    ):
        kmeans_plusplus(X, 2, n_local_trials=0)
    with pytest.raises(ValueError, match="'n_clusters' parameter of kmeans_plusplus"):
        kmeans_plusplus(X, 0)
    with pytest.raises(ValueError, match="Negative values"):
        kmeans_plusplus(X, 2, sample_weight=-np.ones(10))


# --------------------------------------------------------- sample_weight


@pytest.mark.parametrize(
    ("weights", "error", "message"),
    [
        (np.ones(9), ValueError, r"sample_weight.shape == \(9,\), expected \(10,\)"),
        (np.ones(11), ValueError, r"sample_weight.shape == \(11,\), expected \(10,\)"),
        (np.ones((10, 1)), ValueError, "Sample weights must be 1D"),
        (
            np.r_[np.ones(9), -1.0],
            ValueError,
            "Negative values in data passed to sample_weight",
        ),
        (np.r_[np.ones(9), np.nan], ValueError, "sample_weight contains NaN"),
        (
            np.r_[np.ones(9), np.inf],
            ValueError,
            "sample_weight contains NaN or infinity",
        ),
        (np.zeros(10), ValueError, "at least one non-zero"),
        (np.array(["a"] * 10), TypeError, "sample_weight must be numeric"),
    ],
    ids=["short", "long", "2d", "negative", "nan", "inf", "all-zero", "strings"],
)
def test_bad_sample_weight(X, weights, error, message):
    with pytest.raises(error, match=message):
        KMeans(2).fit(X, sample_weight=weights)
    fitted = KMeans(2, random_state=0).fit(X)
    with pytest.raises(error, match=message):
        fitted.score(X, sample_weight=weights)


def test_float64_weights_must_fit_float32_data(X):
    # Checked before the cast: numpy's "overflow encountered in cast" (an
    # error under filterwarnings=error) must not come first.
    X32 = X.astype(np.float32)
    too_large = r"sample_weight: values up to 1e\+300 .* float32"
    with pytest.raises(ValueError, match=too_large):
        KMeans(2).fit(X32, sample_weight=np.full(10, 1e300))
    with pytest.raises(ValueError, match=too_large):
        KMeans(2).fit(X32, sample_weight=1e300)
    with pytest.raises(ValueError, match="every positive weight rounds to zero"):
        KMeans(2).fit(X32, sample_weight=np.full(10, 1e-300))
    # Tiny weights beside ordinary ones are fine (they round to zero).
    w = np.r_[np.full(5, 1e-300), np.ones(5)]
    assert KMeans(2, random_state=0).fit(X32, sample_weight=w).inertia_ >= 0


def test_random_init_needs_k_rows_with_weight(X):
    w = np.zeros(10)
    w[3] = 1.0
    with pytest.raises(ValueError, match="only 1 samples have a positive weight"):
        KMeans(2, init="random").fit(X, sample_weight=w)
    # k-means++ seeds from the weighted rows only, duplicates allowed.
    km = KMeans(1, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_array_equal(km.cluster_centers_[0], X[3])


# ------------------------------------------------------------------ init


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((3, 3), r"initial centers \(3, 3\) does not match the number of clusters 2"),
        ((1, 3), r"initial centers \(1, 3\) does not match the number of clusters 2"),
        (
            (2, 2),
            r"initial centers \(2, 2\) does not match the number of features of the data 3",
        ),
    ],
)
def test_init_array_of_the_wrong_shape(X, shape, message):
    with pytest.raises(ValueError, match=message):
        KMeans(2, init=np.ones(shape)).fit(X)


def test_init_callable_of_the_wrong_shape(X):
    with pytest.raises(ValueError, match="does not match the number of clusters"):
        KMeans(2, init=lambda X, k, random_state: X[:3]).fit(X)


def test_init_beyond_float32_on_float32_data(X):
    X32 = X.astype(np.float32)
    big = np.full((2, 3), 1e300)
    with pytest.raises(ValueError, match=r"^init: values up to .* float32"):
        KMeans(2, init=big).fit(X32)
    with pytest.raises(ValueError, match=r"^the centers returned by the init"):
        KMeans(2, init=lambda X, k, random_state: big).fit(X32)
    # Within float32's range, float64 centres are converted.
    km = KMeans(2, init=X[:2].astype(np.float64)).fit(X32)
    assert km.cluster_centers_.dtype == np.float32


def test_float32_input_to_centres_beyond_float32(X):
    fitted = KMeans(2, random_state=0).fit(X * 1e40)
    for method in (fitted.predict, fitted.transform, fitted.score):
        with pytest.raises(ValueError, match=r"cluster_centers_.*pass X as float64"):
            method(X.astype(np.float32))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_init_array_not_finite(X, value):
    init = X[:2].copy()
    init[1, 0] = value
    with pytest.raises(ValueError, match=r"Input contains (NaN|infinity)"):
        KMeans(2, init=init).fit(X)


# ---------------------------------------------------------- fitted use


def test_use_before_fit(X):
    km = KMeans(2)
    for method in (km.predict, km.transform, km.score):
        with pytest.raises(
            NotFittedError, match="This KMeans instance is not fitted yet"
        ):
            method(X)
    with pytest.raises(NotFittedError):
        km.get_feature_names_out()


def test_wrong_number_of_features_after_fit(X):
    km = KMeans(2, random_state=0).fit(X)
    message = "X has 2 features, but KMeans is expecting 3 features as input"
    for method in (km.predict, km.transform, km.score):
        with pytest.raises(ValueError, match=message):
            method(X[:, :2])


# ------------------------------------------------------------------ panics


def test_a_panic_in_the_core_is_a_runtime_error_and_the_interpreter_survives(X):
    for _ in range(3):
        with pytest.raises(
            RuntimeError, match=r"internal error in ferrokmeans.*deliberate panic"
        ):
            _core._panic_for_test()
    # The library still works afterwards, threads included.
    km = KMeans(2, random_state=0, n_threads=2).fit(X)
    assert km.cluster_centers_.shape == (2, 3)
    np.testing.assert_array_equal(km.predict(X), km.labels_)

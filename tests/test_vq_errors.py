"""Every documented error path of the scipy-style functions.

Each bad input raises the exception type scipy raises (or, where scipy
crashes, hangs or returns garbage, a ``ValueError``/``TypeError`` saying what
to fix), before anything reaches the Rust core.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.cluster.vq as svq
from conftest import make_blobs

from ferrokmeans import kmeans, kmeans2, vq, whiten

X = make_blobs(60, 2, 3, seed=0)
BOOK = X[:3].copy()
NOT_FINITE = "array must not contain infs or NaNs"


def _with(value, i=0, j=0):
    a = X.copy()
    a[i, j] = value
    return a


BAD_DTYPES = [
    pytest.param(X.astype(np.complex128), id="complex"),
    pytest.param(X > 0, id="bool"),
    pytest.param(np.array([["a", "b"], ["c", "d"]]), id="str"),
    pytest.param(X.astype(object), id="object"),
]


@pytest.mark.parametrize("bad", BAD_DTYPES)
def test_non_real_dtypes_are_refused(bad):
    match = "must hold real numbers"
    with pytest.raises(TypeError, match=match):
        vq(bad, BOOK[:, :1] if bad.shape[1] == 1 else BOOK)
    with pytest.raises(TypeError, match=match):
        vq(X, bad)
    with pytest.raises(TypeError, match=match):
        whiten(bad)
    with pytest.raises(TypeError, match=match):
        kmeans(bad, 2)
    with pytest.raises(TypeError, match=match):
        kmeans2(bad, 2)
    with pytest.raises(TypeError, match=match):
        kmeans2(X, bad, minit="matrix")


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble])
def test_unsupported_float_widths_raise_type_error_like_scipy(dtype):
    a = X.astype(dtype)
    with pytest.raises(TypeError, match="only float32, float64 and integer"):
        vq(a, BOOK.astype(dtype))
    with pytest.raises(TypeError):
        svq.vq(a, BOOK.astype(dtype))
    with pytest.raises(TypeError, match="astype"):
        kmeans(a, 2)
    with pytest.raises(TypeError, match="astype"):
        kmeans2(a, 2)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused_with_scipy_message(value):
    bad = _with(value, 5, 1)
    for call in (
        lambda: vq(bad, BOOK),
        lambda: vq(X, np.where(BOOK == BOOK[0, 0], value, BOOK)),
        lambda: whiten(bad),
        lambda: kmeans(bad, 2),
        lambda: kmeans(X, np.where(BOOK == BOOK[0, 0], value, BOOK)),
        lambda: kmeans2(bad, 2),
        lambda: kmeans2(X, np.where(BOOK == BOOK[0, 0], value, BOOK), minit="matrix"),
    ):
        with pytest.raises(ValueError, match=NOT_FINITE):
            call()
    with pytest.raises(ValueError, match=NOT_FINITE):
        svq.vq(bad, BOOK)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_input_without_check_is_still_an_error(value):
    # scipy returns labels read from uninitialised memory here.
    bad = _with(value, 5, 1)
    with pytest.raises(ValueError, match="NaN or infinity"):
        vq(bad, BOOK, check_finite=False)
    with pytest.raises(ValueError, match="NaN or infinity"):
        kmeans(bad, 2, check_finite=False, rng=0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        kmeans2(bad, BOOK, minit="matrix", check_finite=False)
    with pytest.raises(ValueError, match="NaN or infinity"):
        vq(X, np.full_like(BOOK, value), check_finite=False)


def test_rank_above_two_is_refused():
    cube = X.reshape(6, 10, 2)
    with pytest.raises(ValueError, match="rank > 2"):
        vq(cube, BOOK)
    with pytest.raises(ValueError, match="rank > 2"):
        vq(X, BOOK.reshape(3, 2, 1))
    with pytest.raises(ValueError, match="rank > 2"):
        kmeans(cube, 2)
    with pytest.raises(ValueError, match="rank > 2"):
        kmeans2(cube, 2)
    with pytest.raises(ValueError, match="rank > 2"):
        svq.kmeans2(cube, 2)


def test_code_book_must_match_the_observations():
    with pytest.raises(ValueError, match="same number of features"):
        svq.vq(X, X[:2, :1].copy())
    for call in (
        lambda: vq(X, BOOK[:, :1]),
        lambda: kmeans(X, BOOK[:, :1]),
        lambda: kmeans2(X, BOOK[:, :1], minit="matrix"),
    ):
        with pytest.raises(ValueError, match=r"1 features .* but .* has 2"):
            call()
    for call in (
        lambda: vq(X[:, 0], BOOK),
        lambda: vq(X, BOOK[:, 0]),
        lambda: kmeans(X[:, 0], BOOK),
        lambda: kmeans2(X[:, 0], BOOK, minit="matrix"),
        lambda: kmeans2(X, 3, minit="matrix"),
    ):
        with pytest.raises(ValueError, match=r"dimension|rank"):
            call()


def test_empty_input_is_refused():
    with pytest.raises(ValueError, match="code_book is empty"):
        vq(X, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="at least one observation"):
        kmeans(np.zeros((0, 2)), 2)
    with pytest.raises(ValueError, match="at least one observation"):
        kmeans(np.zeros((5, 0)), 2)
    with pytest.raises(ValueError, match="Asked for 0 clusters"):
        kmeans(X, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="Empty input is not supported"):
        kmeans2(np.zeros((0, 2)), 2)
    with pytest.raises(ValueError, match="Empty input is not supported"):
        kmeans2(X, np.zeros((0, 2)), minit="matrix")
    with pytest.raises(ValueError, match="Empty input is not supported"):
        svq.kmeans2(np.zeros((0, 2)), 2)


@pytest.mark.parametrize("k", [0, -2])
def test_k_below_one_is_refused(k):
    with pytest.raises(ValueError, match=f"Asked for {k} clusters"):
        kmeans(X, k)
    with pytest.raises(ValueError, match=f"Asked for {k} clusters"):
        svq.kmeans(X, k)
    with pytest.raises(ValueError, match=f"Cannot ask kmeans2 for {k} clusters"):
        kmeans2(X, k)
    with pytest.raises(ValueError, match=f"Cannot ask kmeans2 for {k} clusters"):
        svq.kmeans2(X, k)


def test_kmeans_scalar_k_must_be_an_integer():
    with pytest.raises(ValueError, match="must be an integer"):
        kmeans(X, 2.5)
    with pytest.raises(ValueError, match="must be an integer"):
        svq.kmeans(X, 2.5)


def test_more_clusters_than_observations_is_refused():
    with pytest.raises(ValueError, match="at most 60"):
        kmeans(X, 61, rng=0)
    with pytest.raises(ValueError):
        svq.kmeans(X, 61, rng=0)
    with pytest.raises(ValueError, match="has only 60"):
        kmeans2(X, 61, minit="points", rng=0)
    with pytest.raises(ValueError):
        svq.kmeans2(X, 61, minit="points", rng=0)


@pytest.mark.parametrize("it", [0, -1])
def test_iter_below_one_is_refused(it):
    with pytest.raises(ValueError, match="iter must be at least 1"):
        kmeans(X, 2, iter=it)
    with pytest.raises(ValueError, match="iter must be at least 1"):
        svq.kmeans(X, 2, iter=it)
    with pytest.raises(ValueError, match="iter must be at least 1"):
        kmeans2(X, 2, iter=it)
    with pytest.raises(ValueError, match="Invalid iter"):
        svq.kmeans2(X, 2, iter=it)


def test_iter_must_be_an_integer():
    with pytest.raises(TypeError, match="iter must be an integer"):
        kmeans(X, 2, iter=2.5)
    with pytest.raises(TypeError, match="iter must be an integer"):
        kmeans2(X, 2, iter="10")


@pytest.mark.parametrize("thresh", [-1.0, np.nan])
def test_kmeans_negative_or_nan_thresh_is_refused(thresh):
    # scipy never stops with a negative thresh: not called here.
    with pytest.raises(ValueError, match="thresh must be a number >= 0"):
        kmeans(X, BOOK, thresh=thresh)


@pytest.mark.parametrize("thresh", ["small", None, [1e-5], 1j])
def test_kmeans_thresh_must_be_a_real_number(thresh):
    with pytest.raises(TypeError, match="thresh must be a real number"):
        kmeans(X, BOOK, thresh=thresh)


def test_thresh_as_numpy_scalar_or_0d_array_is_accepted():
    ours = kmeans(X, BOOK, thresh=np.float32(1e-5))
    np.testing.assert_array_equal(ours[0], kmeans(X, BOOK, thresh=np.array(1e-5))[0])


@pytest.mark.parametrize("k", [np.inf, -np.inf, np.nan])
def test_non_finite_k_is_refused_by_name(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        kmeans2(X, k, minit="points")
    with pytest.raises(ValueError, match="k_or_guess"):
        kmeans(X, k)


@pytest.mark.parametrize("func", [kmeans, kmeans2])
def test_iter_beyond_the_core_is_refused(func):
    with pytest.raises(ValueError, match="iter must be at most"):
        func(X, 2, iter=10**30)


def test_a_scalar_is_refused():
    for call in (
        lambda: kmeans(np.float64(3.0), 1),
        lambda: kmeans2(np.float64(3.0), 1, minit="points"),
        lambda: whiten(3.0),
    ):
        with pytest.raises(ValueError, match="is a scalar"):
            call()


def test_whiten_leaves_a_constant_column_unchanged():
    # 0.1 three times has a mean that rounds, so np.std gives 1.4e-17 and
    # scipy returns 7e15; the column is constant: left as it is, with the
    # zero-variance warning.
    obs = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 4.0]])
    with pytest.warns(RuntimeWarning, match="standard deviation zero"):
        out = whiten(obs)
    np.testing.assert_array_equal(out[:, 0], obs[:, 0])
    np.testing.assert_array_equal(out[:, 1], svq.whiten(obs)[:, 1])


def test_kmeans2_unknown_methods_are_refused():
    with pytest.raises(ValueError, match=r"Unknown init method 'bogus'.*'points'"):
        kmeans2(X, 2, minit="bogus")
    with pytest.raises(ValueError, match="Unknown init method 'bogus'"):
        svq.kmeans2(X, 2, minit="bogus")
    with pytest.raises(ValueError, match=r"Unknown missing method 'ignore'.*'raise'"):
        kmeans2(X, 2, missing="ignore")
    with pytest.raises(ValueError, match="Unknown missing method 'ignore'"):
        svq.kmeans2(X, 2, missing="ignore")


def test_kmeans2_random_init_on_singular_covariance():
    # A constant feature: scipy's Cholesky fails, and so does ours, with a hint.
    data = np.column_stack([X[:, 0], np.ones(len(X))])
    with pytest.raises(np.linalg.LinAlgError, match="minit='points'"):
        kmeans2(data, 2, minit="random", rng=0)
    with pytest.raises(np.linalg.LinAlgError):
        svq.kmeans2(data, 2, minit="random", rng=0)


@pytest.mark.parametrize("func", [kmeans, kmeans2])
def test_rng_and_seed_together_are_refused(func):
    with pytest.raises(TypeError, match="Specify one of `rng` or `seed`"):
        func(X, 2, rng=0, seed=0)
    with pytest.raises(TypeError, match="Specify one of `rng` or `seed`"):
        getattr(svq, func.__name__)(X, 2, rng=0, seed=0)


def test_bad_seed_is_refused():
    with pytest.raises(ValueError, match="cannot be used to seed"):
        kmeans(X, 2, seed="abc")
    with pytest.raises(ValueError, match="cannot be used to seed"):
        svq.kmeans(X, 2, seed="abc")
    with pytest.raises(TypeError):
        kmeans2(X, 2, rng="abc")


def test_bad_thread_count_in_environment_is_refused(monkeypatch):
    monkeypatch.setenv("FERROKMEANS_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="FERROKMEANS_NUM_THREADS must be a positive"):
        vq(X, BOOK)

"""Properties that hold for every input, checked with hypothesis.

Each label is the nearest centre; the inertia recomputes from the labels
and centres; the same seed gives the same bits; the thread count changes
nothing; an integer weight is the same as repeating the row; the dtype of
X is kept.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning

from ferrokmeans import KMeans

# ----------------------------------------------------------- strategies


@st.composite
def problems(draw, dtype=np.float64, max_rows=60):
    """A small data set, a cluster count it can hold, optional weights."""
    n = draw(st.integers(1, max_rows))
    d = draw(st.integers(1, 5))
    k = draw(st.integers(1, min(n, 6)))
    # Few distinct values make duplicates and ties common, on purpose.
    elements = st.one_of(
        st.floats(-1e3, 1e3, allow_nan=False, width=32),
        st.sampled_from([0.0, 1.0, -2.5]),
    )
    X = draw(hnp.arrays(dtype, (n, d), elements=elements))
    weights = draw(
        st.one_of(
            st.none(),
            hnp.arrays(np.float64, n, elements=st.floats(0.0, 10.0)).filter(
                lambda w: w.sum() > 0
            ),
        )
    )
    if weights is not None:
        # 'random' draws k distinct rows of positive weight: make sure
        # there are k (fewer is an error, tested elsewhere).
        weights[:k] = np.maximum(weights[:k], 0.5)
        weights = weights.astype(dtype)
    return X, k, weights


def _fit(km: KMeans, X, sample_weight=None) -> KMeans:
    """Fit, allowing only the ConvergenceWarning about fewer distinct
    clusters than asked for, and checking it is raised exactly when due."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        km.fit(X, sample_weight=sample_weight)
    assert all(issubclass(w.category, ConvergenceWarning) for w in caught), [
        str(w.message) for w in caught
    ]
    distinct = np.unique(km.labels_).size
    assert (len(caught) > 0) == (distinct < km.n_clusters)
    return km


def _sq_distances(X, C) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


def _assert_labels_nearest_and_inertia(km: KMeans, X, sample_weight, rtol):
    C = km.cluster_centers_
    labels = km.labels_
    n, k = X.shape[0], km.n_clusters
    assert labels.dtype == np.int32
    assert labels.shape == (n,)
    assert C.shape == (k, X.shape[1])
    assert np.all(np.isfinite(C))
    assert labels.min() >= 0
    assert labels.max() < k
    D = _sq_distances(X, C)
    own = D[np.arange(n), labels]
    best = D.min(axis=1)
    # The label may name another centre than numpy's argmin only when the
    # two distances are equal up to the rounding of computing them in X's
    # dtype: eps * (magnitude of the coordinates)² per feature, and below
    # the dtype's smallest normal number half its smallest subnormal per
    # square and per addition (squares of differences near 1e-38 vanish in
    # float32: the distances are computed in X's dtype, as scikit-learn does).
    finfo = np.finfo(C.dtype)
    magnitude = (np.max(np.abs(X)) + np.max(np.abs(C))) ** 2
    slack = (
        1e-12 * best
        + 8 * finfo.eps * magnitude * X.shape[1]
        + 2 * finfo.smallest_subnormal * X.shape[1]
    )
    assert np.all(own <= best + slack)
    w = np.ones(n) if sample_weight is None else sample_weight.astype(np.float64)
    expected = float(np.sum(w * own))
    assert km.inertia_ == pytest.approx(
        expected, rel=rtol, abs=float(np.sum(w * slack))
    )
    np.testing.assert_array_equal(km.predict(X), labels)


# ------------------------------------------------------------ properties


@given(
    problem=problems(),
    init=st.sampled_from(["k-means++", "random"]),
    n_init=st.integers(1, 3),
    max_iter=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
)
@example(  # a subnormal weight: 1 / w overflows and a centre came out NaN
    problem=(
        np.array([[1.0], [1.0], [0.0]]),
        2,
        np.array([0.5, 0.5, 2.2250738585072014e-309]),
    ),
    init="k-means++",
    n_init=1,
    max_iter=1,
    seed=0,
)
def test_labels_are_nearest_and_inertia_recomputes_float64(
    problem, init, n_init, max_iter, seed
):
    X, k, w = problem
    km = _fit(
        KMeans(k, init=init, n_init=n_init, max_iter=max_iter, random_state=seed),
        X,
        w,
    )
    assert 1 <= km.n_iter_ <= max_iter
    _assert_labels_nearest_and_inertia(km, X, w, rtol=1e-9)


@given(
    problem=problems(dtype=np.float32),
    init=st.sampled_from(["k-means++", "random"]),
    seed=st.integers(0, 2**32 - 1),
)
# Found by CI: the squared distance to the centre (about 3e-77) vanishes in
# float32, so the inertia is 0.
@example(
    problem=(np.array([[0.0], [1.1754944e-38]], dtype=np.float32), 1, None),
    init="k-means++",
    seed=0,
)
def test_labels_are_nearest_and_inertia_recomputes_float32(problem, init, seed):
    X, k, w = problem
    km = _fit(KMeans(k, init=init, random_state=seed), X, w)
    assert km.cluster_centers_.dtype == np.float32
    assert km.transform(X).dtype == np.float32
    _assert_labels_nearest_and_inertia(km, X, w, rtol=1e-5)


def _bits(km: KMeans) -> tuple:
    return (
        km.cluster_centers_.dtype,
        km.cluster_centers_.tobytes(),
        km.labels_.tobytes(),
        np.float64(km.inertia_).tobytes(),
        km.n_iter_,
    )


@given(
    problem=problems(),
    init=st.sampled_from(["k-means++", "random"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_same_random_state_same_bits(problem, init, seed):
    X, k, w = problem
    a = _fit(KMeans(k, init=init, n_init=2, random_state=seed), X, w)
    b = _fit(KMeans(k, init=init, n_init=2, random_state=seed), X, w)
    c = _fit(
        KMeans(k, init=init, n_init=2, random_state=np.random.RandomState(seed)),
        X,
        w,
    )
    assert _bits(a) == _bits(b) == _bits(c)


@given(
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
    sparse=st.booleans(),
    init=st.sampled_from(["k-means++", "random"]),
    weighted=st.booleans(),
    k=st.integers(2, 12),
)
def test_thread_count_does_not_change_bits(seed, dtype, sparse, init, weighted, k):
    # Enough rows for several blocks of the core's fixed grid.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(600, 3000))
    d = int(rng.integers(1, 20))
    X = rng.standard_normal((n, d)) + rng.integers(0, 4, (n, 1)) * 3.0
    if sparse:
        X[rng.random((n, d)) < 0.6] = 0.0
        X = sp.csr_matrix(X.astype(dtype))
    else:
        X = X.astype(dtype)
    w = rng.uniform(0.0, 2.0, n).astype(dtype) if weighted else None
    results = [
        _bits(
            _fit(KMeans(k, init=init, n_init=2, random_state=seed, n_threads=t), X, w)
        )
        for t in (1, 2, 3)
    ]
    assert results[0] == results[1] == results[2]
    assert results[0][0] == dtype


def _reference_has_empty_cluster(X, w, init, n_iter) -> bool:
    """Replays ``n_iter`` weighted Lloyd steps in numpy; True if a cluster
    lost all its weight on the way (then scikit-learn's relocation moves a
    whole weighted row, which a repeated row cannot mirror)."""
    C = init.astype(np.float64)
    for _ in range(n_iter):
        labels = _sq_distances(X, C).argmin(axis=1)
        mass = np.bincount(labels, weights=w, minlength=C.shape[0])
        if np.any(mass == 0):
            return True
        for j in range(C.shape[0]):
            C[j] = np.average(X[labels == j], axis=0, weights=w[labels == j])
    return False


@given(data=st.data())
def test_integer_weight_equals_repeating_the_row(data):
    n = data.draw(st.integers(2, 30), label="n")
    d = data.draw(st.integers(1, 3), label="d")
    # Multiples of 1/8 keep every sum exact, so both fits see the same
    # numbers and the comparison does not depend on summation order.
    X = data.draw(hnp.arrays(np.int64, (n, d), elements=st.integers(-80, 80))) / 8.0
    w = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, 4)), label="w")
    positive = np.flatnonzero(w > 0)
    distinct = np.unique(X[positive], axis=0)
    k = data.draw(st.integers(1, max(1, min(4, len(distinct)))), label="k")
    assume(len(distinct) >= k)
    # Initial centres: k distinct points that carry weight.
    init = distinct[data.draw(st.permutations(range(len(distinct))))[:k]]

    weighted = KMeans(k, init=init, n_init=1, tol=0.0)
    _fit(weighted, X, w.astype(np.float64))
    assume(not _reference_has_empty_cluster(X, w, init, weighted.n_iter_))
    repeated = KMeans(k, init=init, n_init=1, tol=0.0)
    _fit(repeated, np.repeat(X, w, axis=0))

    np.testing.assert_allclose(
        weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-9, atol=1e-9
    )
    np.testing.assert_array_equal(np.repeat(weighted.labels_, w), repeated.labels_)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-9, abs=1e-12)
    if np.all(w > 0):
        # A zero-weight row changing label costs the weighted fit one more
        # (idle) iteration; otherwise both take the same steps.
        assert weighted.n_iter_ == repeated.n_iter_


@given(
    dtype=st.sampled_from(
        [np.float32, np.float64, np.int32, np.int64, np.uint8, np.float16, bool]
    ),
    sparse=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_centres_have_the_dtype_of_X(dtype, sparse, seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 5, (40, 3)).astype(dtype)
    if sparse and dtype != np.float16:  # scipy.sparse has no float16
        X = sp.csr_matrix(X)
    km = _fit(KMeans(3, random_state=seed, n_init=1), X)
    expected = np.float32 if dtype == np.float32 else np.float64
    assert km.cluster_centers_.dtype == expected
    assert km.transform(X).dtype == expected
    assert km.labels_.dtype == np.int32
    assert km.predict(X).dtype == np.int32

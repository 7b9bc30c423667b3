"""Numerical robustness (issue #4, point 7).

- float32 data far from the origin (china.jpg pixels + 1e4) reaches the
  inertia of float64 from the same initial centres within 1e-3 relative:
  sums are accumulated in float64 and distances taken as sum((x - c)**2),
  never as |x|² - 2x·c + |c|², which cancels catastrophically there.
- All-identical points, fewer distinct points than clusters, and as many
  clusters as points: a valid result (labels in range, finite centres on the
  data, inertia 0 where it must be) with only the documented warnings
  (scikit-learn's ConvergenceWarning; scipy's empty-cluster UserWarning in
  kmeans2), never a crash or a numpy RuntimeWarning.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from ferrokmeans import KMeans, kmeans, kmeans2, kmeans_plusplus, vq

EMPTY_CLUSTER = "One of the clusters is empty"


def _run(call, allowed=()):
    """``call()``, returning its result and the warnings it gave; any warning
    not of an ``allowed`` category (or not the kmeans2 empty-cluster one when
    UserWarning is allowed) fails the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    for w in caught:
        ok = issubclass(w.category, tuple(allowed)) and (
            not issubclass(w.category, UserWarning)
            or issubclass(w.category, ConvergenceWarning)
            or str(w.message).startswith(EMPTY_CLUSTER)
        )
        assert ok, f"unexpected {w.category.__name__}: {w.message}"
    return result, [w.category for w in caught]


def _inertia64(X, centers, labels) -> float:
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    C = np.asarray(centers, dtype=np.float64)
    return float(((X - C[labels]) ** 2).sum())


# ------------------------------------------------- far from the origin


@pytest.fixture(scope="module")
def china_offset() -> np.ndarray:
    pytest.importorskip("PIL", reason="load_sample_image needs pillow")
    from sklearn.datasets import load_sample_image

    pixels = load_sample_image("china.jpg").reshape(-1, 3).astype(np.float64)
    return pixels + 1e4


@pytest.mark.parametrize("k", [8, 16])
def test_float32_far_from_the_origin_matches_float64(china_offset, k):
    X64 = china_offset
    X32 = X64.astype(np.float32)
    assert np.array_equal(X32, X64)  # integers + 1e4: exact in float32
    init, _ = kmeans_plusplus(X64, k, random_state=0)
    a = KMeans(k, init=init, n_init=1).fit(X64)
    b = KMeans(k, init=init.astype(np.float32), n_init=1).fit(X32)
    assert b.cluster_centers_.dtype == np.float32
    assert b.inertia_ == pytest.approx(a.inertia_, rel=1e-3)
    # The reported inertia is that of the returned centres and labels.
    assert b.inertia_ == pytest.approx(
        _inertia64(X32, b.cluster_centers_, b.labels_), rel=1e-4
    )
    assert (a.labels_ == b.labels_).mean() > 0.99


def test_float32_far_from_the_origin_in_the_scipy_style_functions(china_offset):
    X64 = china_offset
    X32 = X64.astype(np.float32)
    book = X64[np.random.default_rng(1).choice(len(X64), 8, replace=False)]
    c64, l64 = kmeans2(X64, book, iter=20, minit="matrix")
    c32, l32 = kmeans2(X32, book.astype(np.float32), iter=20, minit="matrix")
    i64 = _inertia64(X64, c64, l64)
    i32 = _inertia64(X32, c32, l32)
    assert i32 == pytest.approx(i64, rel=1e-3)
    _, d64 = kmeans(X64, book)
    b32, d32 = kmeans(X32, book.astype(np.float32))
    assert float(d32) == pytest.approx(float(d64), rel=1e-3)
    _, dist = vq(X32, b32)
    assert float(dist.astype(np.float64).mean()) == pytest.approx(float(d32), rel=1e-4)


@pytest.mark.parametrize("offset", [1e4, 1e5])
def test_float32_blobs_far_from_the_origin_keep_their_structure(offset):
    # Three tight blobs 3 apart, all near `offset`: the expansion
    # |x|² - 2x·c + |c|² would lose every digit of the distances here.
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    truth = np.arange(30_000) % 3
    X64 = centres[truth] + 0.2 * rng.standard_normal((30_000, 2)) + offset
    X32 = X64.astype(np.float32)
    init = (centres + offset + 0.5).astype(np.float32)
    km = KMeans(3, init=init, n_init=1).fit(X32)
    ref = KMeans(3, init=init.astype(np.float64), n_init=1).fit(X32.astype(np.float64))
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-3)
    # Each blob is one cluster.
    for j in range(3):
        assert np.unique(km.labels_[truth == j]).size == 1


# ----------------------------------------------------- degenerate data

POINT = np.array([1.5, -2.0, 3.0])


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("k", [1, 3])
def test_all_identical_points(k, dtype, sparse, init):
    X = np.tile(POINT, (50, 1)).astype(dtype)
    if sparse:
        X = sp.csr_matrix(X)
    km, caught = _run(
        lambda: KMeans(k, init=init, random_state=0).fit(X), [ConvergenceWarning]
    )
    assert caught == ([ConvergenceWarning] if k > 1 else [])
    assert km.cluster_centers_.shape == (k, 3)
    np.testing.assert_array_equal(km.cluster_centers_, np.tile(POINT, (k, 1)))
    assert km.inertia_ == 0.0
    assert ((km.labels_ >= 0) & (km.labels_ < k)).all()
    np.testing.assert_array_equal(km.predict(X), km.labels_)


def test_all_identical_points_scipy_style():
    X = np.tile(POINT, (50, 1))
    book, dist = _run(lambda: kmeans(X, 3, rng=0))[0]
    np.testing.assert_array_equal(book, np.tile(POINT, (3, 1)))
    assert dist == 0.0
    for minit in ("points", "++"):
        (book, labels), _ = _run(
            lambda minit=minit: kmeans2(X, 3, minit=minit, rng=0), [UserWarning]
        )
        np.testing.assert_array_equal(book, np.tile(POINT, (3, 1)))
        assert ((labels >= 0) & (labels < 3)).all()
    codes, d = vq(X, np.tile(POINT, (3, 1)))
    assert (codes == 0).all() and (d == 0).all()


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_fewer_distinct_points_than_clusters(dtype, init):
    distinct = np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]])
    X = np.repeat(distinct, 7, axis=0).astype(dtype)
    km, caught = _run(
        lambda: KMeans(5, init=init, random_state=0).fit(X), [ConvergenceWarning]
    )
    assert caught == [ConvergenceWarning]
    assert np.isfinite(km.cluster_centers_).all()
    assert ((km.labels_ >= 0) & (km.labels_ < 5)).all()
    assert np.unique(km.labels_).size == 3
    assert km.inertia_ == 0.0
    # Every centre is one of the points: nothing made up.
    for c in km.cluster_centers_:
        assert (np.abs(distinct - c).sum(axis=1) == 0).any()


@pytest.mark.parametrize("minit", ["points", "++"])
def test_fewer_distinct_points_than_clusters_scipy_style(minit):
    distinct = np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]])
    X = np.repeat(distinct, 7, axis=0)
    book, dist = _run(lambda: kmeans(X, 5, rng=0))[0]
    assert book.shape == (5, 2) and dist == 0.0
    # '++' used to divide 0 by 0 once every distinct point was chosen.
    (book, labels), _ = _run(lambda: kmeans2(X, 5, minit=minit, rng=0), [UserWarning])
    assert np.isfinite(book).all()
    assert ((labels >= 0) & (labels < 5)).all()


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_as_many_clusters_as_points(dtype, init):
    X = np.random.default_rng(4).random((40, 3)).astype(dtype)
    km, caught = _run(lambda: KMeans(40, init=init, random_state=0).fit(X))
    assert caught == []
    assert km.inertia_ == 0.0
    assert sorted(km.labels_.tolist()) == list(range(40))
    np.testing.assert_array_equal(km.cluster_centers_[km.labels_], X)


def test_as_many_clusters_as_points_scipy_style():
    X = np.random.default_rng(5).random((40, 3))
    book, dist = _run(lambda: kmeans(X, 40, rng=0))[0]
    assert dist == 0.0
    for minit in ("points", "++"):
        (book, labels), _ = _run(lambda minit=minit: kmeans2(X, 40, minit=minit, rng=0))
        assert sorted(labels.tolist()) == list(range(40))
        np.testing.assert_array_equal(book[labels], X)


def test_as_many_clusters_as_points_with_duplicates():
    X = np.repeat(np.random.default_rng(6).random((10, 2)), 2, axis=0)
    km, caught = _run(lambda: KMeans(20, random_state=0).fit(X), [ConvergenceWarning])
    assert caught == [ConvergenceWarning]
    assert km.inertia_ == 0.0
    assert ((km.labels_ >= 0) & (km.labels_ < 20)).all()


def test_nearly_identical_points_are_separated():
    # Two clusters 1e-9 apart around 1.0, in float64: the distances are
    # ~1e-18, far above float64's smallest normal number; they must count.
    X = np.repeat([[1.0, 1.0], [1.0 + 1e-9, 1.0]], 25, axis=0)
    km = KMeans(2, random_state=0).fit(X)
    assert np.unique(km.labels_[:25]).size == 1
    assert np.unique(km.labels_[25:]).size == 1
    assert km.labels_[0] != km.labels_[-1]
    assert km.inertia_ == 0.0

"""Sparse (CSR) input: the same clustering as the dense equivalent and as
scikit-learn's sparse KMeans, from the same initial centres."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans as SKKMeans

from ferrokmeans import KMeans

RTOL = {np.float64: 1e-10, np.float32: 1e-5}
CSR_TYPES = [sp.csr_matrix, sp.csr_array]


def _sparse_data(n=1200, d=40, k=5, density=0.25, seed=0, dtype=np.float64):
    """Rows of group ``i % k`` share a set of active columns and an offset,
    so that there are clusters to find; about ``density`` of entries are
    stored."""
    rng = np.random.default_rng(seed)
    active = rng.random((k, d)) < 2 * density
    groups = np.arange(n) % k
    mask = active[groups] & (rng.random((n, d)) < 0.5)
    values = rng.random((n, d)) + groups[:, None]
    dense = np.where(mask, values, 0.0).astype(dtype)
    return dense


def _init(dense, k):
    return dense[:k].copy()


def _assert_close_fit(a, b, rtol):
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_
    assert a.cluster_centers_.dtype == b.cluster_centers_.dtype
    scale = float(np.max(np.abs(b.cluster_centers_)))
    np.testing.assert_allclose(
        a.cluster_centers_, b.cluster_centers_, rtol=rtol, atol=rtol * scale
    )
    assert a.inertia_ == pytest.approx(b.inertia_, rel=rtol)


@pytest.mark.parametrize("csr", CSR_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("tol", [0.0, 1e-4])
def test_sparse_matches_dense(csr, dtype, weighted, tol):
    dense = _sparse_data(dtype=dtype, seed=1)
    X = csr(dense)
    w = np.random.default_rng(2).uniform(0.5, 2, len(dense)) if weighted else None
    params = {"init": _init(dense, 5), "n_init": 1, "tol": tol}
    ours_sparse = KMeans(5, **params).fit(X, sample_weight=w)
    ours_dense = KMeans(5, **params).fit(dense, sample_weight=w)
    _assert_close_fit(ours_sparse, ours_dense, RTOL[dtype])
    assert ours_sparse.n_iter_ > 1

    X_new = csr(_sparse_data(300, dtype=dtype, seed=3))
    X_new_dense = X_new.toarray()
    np.testing.assert_array_equal(
        ours_sparse.predict(X_new), ours_dense.predict(X_new_dense)
    )
    # Fitted on one kind, used on the other.
    np.testing.assert_array_equal(
        ours_sparse.predict(X_new_dense), ours_dense.predict(X_new)
    )
    dist = ours_sparse.transform(X_new)
    assert isinstance(dist, np.ndarray)
    assert dist.dtype == dtype
    # Sparse distances come from ‖x‖² - 2x·c + ‖c‖²: compare with the
    # rounding that formula allows.
    np.testing.assert_allclose(
        dist,
        ours_sparse.transform(X_new_dense),
        rtol=RTOL[dtype] ** 0.5,
        atol=RTOL[dtype] ** 0.5,
    )
    assert ours_sparse.score(X_new) == pytest.approx(
        ours_sparse.score(X_new_dense), rel=RTOL[dtype]
    )


@pytest.mark.parametrize("csr", CSR_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("tol", "max_iter"), [(0.0, 300), (1e-4, 300), (0.0, 2)])
def test_sparse_matches_sklearn(csr, weighted, tol, max_iter):
    dense = _sparse_data(seed=4)
    X = csr(dense)
    w = np.random.default_rng(5).uniform(0.5, 2, len(dense)) if weighted else None
    params = {"init": _init(dense, 5), "n_init": 1, "tol": tol, "max_iter": max_iter}
    ours = KMeans(5, **params).fit(X, sample_weight=w)
    theirs = SKKMeans(5, algorithm="lloyd", **params).fit(X, sample_weight=w)
    _assert_close_fit(ours, theirs, 1e-10)
    X_new = csr(_sparse_data(200, seed=6))
    np.testing.assert_array_equal(ours.predict(X_new), theirs.predict(X_new))
    np.testing.assert_allclose(
        ours.transform(X_new), theirs.transform(X_new), rtol=1e-7, atol=1e-7
    )


def test_verbose_sparse_matches_sklearn(capsys):
    dense = _sparse_data(seed=7)
    X = sp.csr_matrix(dense)
    params = {"init": _init(dense, 5), "n_init": 1, "tol": 1e-3, "verbose": 1}
    KMeans(5, **params).fit(X)
    ours = capsys.readouterr().out.splitlines()
    SKKMeans(5, **params).fit(X)
    theirs = capsys.readouterr().out.splitlines()
    assert len(ours) == len(theirs)
    assert [line.split(",")[0].split(":")[0] for line in ours] == [
        line.split(",")[0].split(":")[0] for line in theirs
    ]


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok", "bsr"])
def test_other_sparse_formats_are_converted(fmt):
    dense = _sparse_data(400, seed=8)
    reference = KMeans(5, init=_init(dense, 5)).fit(sp.csr_matrix(dense))
    km = KMeans(5, init=_init(dense, 5)).fit(sp.csr_matrix(dense).asformat(fmt))
    np.testing.assert_array_equal(km.labels_, reference.labels_)
    np.testing.assert_array_equal(km.cluster_centers_, reference.cluster_centers_)


def test_non_canonical_csr_is_handled_and_not_modified():
    dense = _sparse_data(300, seed=9)
    canonical = sp.csr_matrix(dense)
    # The same matrix with every stored value split into two duplicate
    # entries, column indices in reverse order within each row, and a few
    # explicit zeros.
    rows, data, cols = [], [], []
    indptr = [0]
    for i in range(canonical.shape[0]):
        a, b = canonical.indptr[i], canonical.indptr[i + 1]
        c = canonical.indices[a:b][::-1]
        v = canonical.data[a:b][::-1]
        cols.extend(np.r_[c, c, [0]])
        data.extend(np.r_[v * 0.25, v * 0.75, [0.0]])
        indptr.append(len(data))
        rows.append(i)
    messy = sp.csr_matrix(
        (np.array(data), np.array(cols), np.array(indptr)), shape=canonical.shape
    )
    assert not messy.has_canonical_format
    before = (messy.data.copy(), messy.indices.copy(), messy.indptr.copy())
    init = _init(dense, 5)
    reference = KMeans(5, init=init, tol=0.0).fit(canonical)
    km = KMeans(5, init=init, tol=0.0).fit(messy)
    np.testing.assert_array_equal(km.labels_, reference.labels_)
    np.testing.assert_allclose(
        km.cluster_centers_, reference.cluster_centers_, rtol=1e-12
    )
    np.testing.assert_array_equal(km.predict(messy), reference.labels_)
    for got, expected in zip(
        (messy.data, messy.indices, messy.indptr), before, strict=True
    ):
        np.testing.assert_array_equal(got, expected)


def test_int64_indices_and_empty_rows():
    dense = _sparse_data(500, seed=10)
    dense[::10] = 0.0  # every tenth row empty
    X = sp.csr_matrix(dense)
    X64 = X.copy()
    # Set after construction: scipy's constructor would downcast to int32.
    X64.indices = X64.indices.astype(np.int64)
    X64.indptr = X64.indptr.astype(np.int64)
    assert X64.indices.dtype == np.int64
    init = _init(dense, 5) + 0.5  # no initial centre is an empty row
    a = KMeans(5, init=init).fit(X)
    b = KMeans(5, init=init).fit(X64)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    dense_fit = KMeans(5, init=init).fit(dense)
    np.testing.assert_array_equal(a.labels_, dense_fit.labels_)
    # All empty rows are the same point: one label for all of them.
    assert np.unique(a.labels_[::10]).size == 1


def test_sparse_kmeans_plusplus_and_random_are_reproducible():
    dense = _sparse_data(800, seed=11, dtype=np.float32)
    X = sp.csr_array(dense)
    for init in ("k-means++", "random"):
        a = KMeans(5, init=init, random_state=0, n_threads=1).fit(X)
        b = KMeans(5, init=init, random_state=0, n_threads=2).fit(X)
        assert a.cluster_centers_.dtype == np.float32
        np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
        np.testing.assert_array_equal(a.labels_, b.labels_)
        assert a.inertia_ == b.inertia_
        np.testing.assert_array_equal(a.predict(X), a.labels_)
        assert a.score(X) == pytest.approx(-a.inertia_, rel=1e-6)

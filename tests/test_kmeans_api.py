"""What a user does with KMeans: the input types it takes, the scikit-learn
conventions it follows (n_init, init, set_output, clone, pickle), and the
warnings it gives."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import make_blobs
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from ferrokmeans import KMeans, kmeans_plusplus


def _same_bits(a: KMeans, b: KMeans) -> None:
    assert a.cluster_centers_.dtype == b.cluster_centers_.dtype
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    assert a.n_iter_ == b.n_iter_


def _km(**params) -> KMeans:
    return KMeans(4, random_state=3, **params)


# ----------------------------------------------------------------- inputs


@pytest.fixture
def data() -> np.ndarray:
    return make_blobs(400, 6, 4, spread=2.0, seed=1)


def test_integers_and_lists_are_float64(data):
    ints = np.rint(data * 10).astype(np.int64)
    reference = _km().fit(ints.astype(np.float64))
    _same_bits(_km().fit(ints), reference)
    _same_bits(_km().fit(ints.tolist()), reference)
    _same_bits(_km().fit(ints.astype(np.int32)), reference)
    assert reference.cluster_centers_.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_memory_layouts_give_the_same_bits(data, dtype, tmp_path):
    wide = np.repeat(data, 2, axis=1).astype(dtype)
    X = np.ascontiguousarray(wide[:, ::2])
    reference = _km().fit(X)
    assert reference.cluster_centers_.dtype == dtype

    _same_bits(_km().fit(np.asfortranarray(X)), reference)
    strided = wide[:, ::2]
    assert not strided.flags.c_contiguous
    _same_bits(_km().fit(strided), reference)
    read_only = X.copy()
    read_only.setflags(write=False)
    _same_bits(_km().fit(read_only), reference)

    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    del mm
    mapped = np.memmap(path, dtype=dtype, mode="r", shape=X.shape)
    fitted = _km().fit(mapped)
    _same_bits(fitted, reference)
    np.testing.assert_array_equal(fitted.predict(mapped), reference.labels_)
    np.testing.assert_array_equal(fitted.transform(strided), reference.transform(X))


def test_user_arrays_are_not_modified(data):
    X = data.copy()
    w = np.linspace(0.5, 2.0, X.shape[0])
    init = X[:4].copy()
    for params in ({}, {"copy_x": False}, {"init": init}):
        km = _km(**params).fit(X, sample_weight=w)
        km.predict(X)
        km.transform(X)
        km.score(X, sample_weight=w)
        np.testing.assert_array_equal(X, data)
        np.testing.assert_array_equal(w, np.linspace(0.5, 2.0, X.shape[0]))
        np.testing.assert_array_equal(init, data[:4])
    # The fitted centres are the estimator's own, not a view of init.
    km = _km(init=init, max_iter=1).fit(X)
    assert not np.shares_memory(km.cluster_centers_, init)


def test_pandas_dataframe(data):
    columns = [f"f{i}" for i in range(data.shape[1])]
    df = pd.DataFrame(data, columns=columns)
    km = _km().fit(df)
    _same_bits(km, _km().fit(data))
    np.testing.assert_array_equal(km.feature_names_in_, columns)
    assert km.n_features_in_ == data.shape[1]
    names = km.get_feature_names_out()
    assert list(names) == ["kmeans0", "kmeans1", "kmeans2", "kmeans3"]
    np.testing.assert_array_equal(km.predict(df), km.labels_)
    # Columns in another order are refused, as in scikit-learn.
    with pytest.raises(ValueError, match="feature names"):
        km.predict(df[columns[::-1]])


def test_numpy_input_has_no_feature_names(data):
    km = _km().fit(data)
    assert not hasattr(km, "feature_names_in_")
    assert km.n_features_in_ == data.shape[1]
    assert list(km.get_feature_names_out()) == [f"kmeans{i}" for i in range(4)]


def test_set_output_pandas(data):
    df = pd.DataFrame(data, index=np.arange(100, 100 + len(data)))
    km = _km().set_output(transform="pandas")
    out = km.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"kmeans{i}" for i in range(4)]
    np.testing.assert_array_equal(out.index, df.index)
    np.testing.assert_allclose(out.to_numpy(), km.transform(data), rtol=0)
    # set_output does not change predict.
    assert isinstance(km.predict(df), np.ndarray)


# ----------------------------------------------------------- conventions


def test_fit_returns_self_and_shortcuts_agree(data):
    km = _km()
    assert km.fit(data) is km
    labels = _km().fit_predict(data)
    np.testing.assert_array_equal(labels, km.labels_)
    np.testing.assert_array_equal(km.predict(data), km.labels_)
    np.testing.assert_array_equal(_km().fit_transform(data), km.transform(data))
    assert km.score(data) == pytest.approx(-km.inertia_, rel=1e-12)
    assert km.labels_.dtype == np.int32
    assert labels.dtype == np.int32
    assert isinstance(km.inertia_, float)
    assert isinstance(km.n_iter_, int)


def test_n_init_auto():
    X = make_blobs(100, 2, 3)
    assert KMeans(3, random_state=0).fit(X)._n_init == 1
    assert KMeans(3, init="random", random_state=0).fit(X)._n_init == 10
    assert KMeans(3, init="random", n_init=4, random_state=0).fit(X)._n_init == 4
    assert KMeans(3, init=X[:3], random_state=0).fit(X)._n_init == 1
    assert KMeans(3, init=X[:3], n_init=1).fit(X)._n_init == 1


def test_array_init_with_several_inits_warns_and_runs_once():
    X = make_blobs(100, 2, 3)
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        km = KMeans(3, init=X[:3], n_init=3).fit(X)
    assert km._n_init == 1
    _same_bits(km, KMeans(3, init=X[:3], n_init=1).fit(X))
    # A list works as an array.
    _same_bits(KMeans(3, init=X[:3].tolist()).fit(X), km)


def test_init_callable_is_called_n_init_times_with_random_state():
    X = make_blobs(120, 2, 3)
    calls = []

    def init(X_, n_clusters, random_state):
        calls.append((X_.shape, X_.dtype, n_clusters, random_state))
        idx = random_state.choice(X_.shape[0], n_clusters, replace=False)
        return X_[idx]

    km = KMeans(3, init=init, random_state=0).fit(X)
    assert km._n_init == 10
    assert len(calls) == 10
    assert all(c[:3] == ((120, 2), np.float64, 3) for c in calls)
    assert all(isinstance(c[3], np.random.RandomState) for c in calls)
    # One generator, drawn from in turn by every call.
    assert len({id(c[3]) for c in calls}) == 1

    calls.clear()
    km3 = KMeans(3, init=init, n_init=3, random_state=0).fit(X)
    assert len(calls) == 3
    assert km3._n_init == 3
    # The best of 10 runs is at least as good as the best of 3 (same draws).
    assert km.inertia_ <= km3.inertia_


def test_best_of_several_runs_is_kept():
    X = np.random.default_rng(5).random((500, 2))
    # The first of the 8 runs is the single run of the same random_state.
    single = KMeans(7, init="random", n_init=1, random_state=0).fit(X)
    multi = KMeans(7, init="random", n_init=8, random_state=0).fit(X)
    assert multi._n_init == 8
    assert multi.inertia_ <= single.inertia_
    # The inertia reported is that of the returned centres and labels.
    assert multi.score(X) == pytest.approx(-multi.inertia_, rel=1e-12)


def test_sample_weight_scalar_and_ones(data):
    plain = _km().fit(data)
    ones = _km().fit(data, sample_weight=np.ones(len(data)))
    _same_bits(ones, plain)
    doubled = _km().fit(data, sample_weight=2.0)
    np.testing.assert_array_equal(doubled.labels_, plain.labels_)
    np.testing.assert_allclose(doubled.cluster_centers_, plain.cluster_centers_)
    assert doubled.inertia_ == pytest.approx(2 * plain.inertia_, rel=1e-12)


def test_clone_and_pickle_round_trip(data):
    km = _km(n_threads=2).fit(data)
    again = clone(km)
    assert not hasattr(again, "cluster_centers_")
    assert again.get_params() == km.get_params()
    _same_bits(again.fit(data), km)

    restored = pickle.loads(pickle.dumps(km))
    X_new = make_blobs(50, 6, 4, spread=5.0, seed=2)
    np.testing.assert_array_equal(restored.predict(X_new), km.predict(X_new))
    np.testing.assert_array_equal(restored.transform(X_new), km.transform(X_new))
    assert restored.score(X_new) == km.score(X_new)
    _same_bits(restored, km)


def test_get_and_set_params():
    km = KMeans()
    params = km.get_params()
    assert params == {
        "algorithm": "auto",
        "copy_x": True,
        "init": "k-means++",
        "max_iter": 300,
        "n_clusters": 8,
        "n_init": "auto",
        "n_threads": None,
        "random_state": None,
        "tol": 1e-4,
        "verbose": 0,
    }
    assert km.set_params(n_clusters=3, n_threads=2) is km
    assert km.n_clusters == 3
    assert km.n_threads == 2


def test_elkan_gives_the_lloyd_result(data):
    _same_bits(_km(algorithm="elkan").fit(data), _km(algorithm="lloyd").fit(data))


@pytest.mark.parametrize("algorithm", ["elkan", "hamerly", "yinyang", "auto"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tol", [0.0, 1e-4])
def test_every_algorithm_gives_lloyd_s_result_bit_for_bit(algorithm, dtype, tol):
    # 20 features and 40 clusters: 'auto' runs the bound-based algorithm too.
    X = make_blobs(4000, 20, 25, spread=3.0, seed=7).astype(dtype)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X)).astype(dtype)
    for kwargs in ({}, {"sample_weight": w}):
        got = KMeans(40, algorithm=algorithm, tol=tol, random_state=3).fit(X, **kwargs)
        ref = KMeans(40, algorithm="lloyd", tol=tol, random_state=3).fit(X, **kwargs)
        _same_bits(got, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_clusters_run_yinyang_with_lloyd_s_result(dtype):
    # 160 clusters of 24 features: 'auto' runs Yinyang (6 groups), and rows
    # sit between several centres of a blob, so the group bounds are used.
    X = make_blobs(6000, 24, 50, spread=4.0, seed=11).astype(dtype)
    ref = KMeans(160, algorithm="lloyd", random_state=5).fit(X)
    for algorithm in ("auto", "yinyang"):
        for n_threads in (1, 2):
            got = KMeans(
                160, algorithm=algorithm, random_state=5, n_threads=n_threads
            ).fit(X)
            _same_bits(got, ref)


def test_environment_variable_sets_the_thread_count(data, monkeypatch):
    reference = _km(n_threads=1).fit(data)
    for value in ("1", "2", "3"):
        monkeypatch.setenv("FERROKMEANS_NUM_THREADS", value)
        _same_bits(_km().fit(data), reference)
    monkeypatch.setenv("FERROKMEANS_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="FERROKMEANS_NUM_THREADS"):
        _km().fit(data)
    monkeypatch.setenv("FERROKMEANS_NUM_THREADS", "0")
    with pytest.raises(ValueError, match="FERROKMEANS_NUM_THREADS"):
        _km().fit(data)
    # An explicit n_threads wins over the environment.
    _same_bits(_km(n_threads=2).fit(data), reference)


# ----------------------------------------------------------- edge cases


def test_fewer_distinct_points_than_clusters_warns():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]], 10, axis=0)
    with pytest.warns(
        ConvergenceWarning,
        match=r"Number of distinct clusters \(3\) found smaller than n_clusters \(4\)",
    ):
        km = KMeans(4, random_state=0).fit(X)
    assert km.inertia_ == 0.0
    assert np.unique(km.labels_).size == 3


def test_as_many_clusters_as_samples():
    X = np.random.default_rng(0).random((7, 3))
    for init in ("k-means++", "random"):
        km = KMeans(7, init=init, random_state=0).fit(X)
        assert km.inertia_ == 0.0
        assert sorted(km.labels_) == list(range(7))
        np.testing.assert_array_equal(km.cluster_centers_[km.labels_], X)


def test_single_cluster_is_the_weighted_mean(data):
    w = np.random.default_rng(0).uniform(0.1, 1.0, len(data))
    km = KMeans(1, random_state=0).fit(data, sample_weight=w)
    np.testing.assert_allclose(
        km.cluster_centers_[0], np.average(data, axis=0, weights=w), rtol=1e-12
    )
    assert np.all(km.labels_ == 0)
    assert km.n_iter_ == 2  # the second step changes no label


def test_zero_weight_rows_are_never_kmeans_plusplus_seeds():
    X = np.random.default_rng(1).random((300, 2))
    w = np.zeros(300)
    w[::7] = 1.0
    for seed in range(10):
        centers, indices = kmeans_plusplus(X, 6, sample_weight=w, random_state=seed)
        assert indices.shape == (6,)
        assert np.all(w[indices] > 0), indices
        np.testing.assert_array_equal(centers, X[indices])


def test_kmeans_plusplus_returns_rows_of_X():
    X = make_blobs(200, 3, 5, seed=4, dtype=np.float32)
    centers, indices = kmeans_plusplus(X, 5, random_state=0)
    assert centers.dtype == np.float32
    assert len(set(indices.tolist())) == 5
    np.testing.assert_array_equal(centers, X[indices])
    # Well-separated blobs: one seed per blob.
    assert sorted(indices % 5) == [0, 1, 2, 3, 4]
    _, again_idx = kmeans_plusplus(X, 5, random_state=0, n_threads=1)
    np.testing.assert_array_equal(again_idx, indices)
    _, few = kmeans_plusplus(X, 5, random_state=0, n_local_trials=1)
    assert few.shape == (5,)
    sparse_centers, sparse_idx = kmeans_plusplus(sp.csr_matrix(X), 5, random_state=0)
    assert isinstance(sparse_centers, np.ndarray)
    assert sparse_centers.dtype == np.float32
    np.testing.assert_array_equal(sparse_centers, X[sparse_idx])
    assert sorted(sparse_idx % 5) == [0, 1, 2, 3, 4]


def test_zero_weight_rows_are_never_random_seeds():
    X = np.random.default_rng(2).random((50, 2))
    w = np.zeros(50)
    w[[3, 11, 29, 40]] = 1.0
    # max_iter=1: the centres are the means of the points nearest to four
    # seeds that must be rows 3, 11, 29 and 40, in some order.
    km = KMeans(4, init="random", n_init=1, max_iter=1, random_state=0)
    km.fit(X, sample_weight=w)
    assert sorted(km.labels_[[3, 11, 29, 40]]) == [0, 1, 2, 3]
    by_x = np.argsort(km.cluster_centers_[:, 0])
    seeds = X[[3, 11, 29, 40]]
    np.testing.assert_array_equal(
        km.cluster_centers_[by_x], seeds[np.argsort(seeds[:, 0])]
    )

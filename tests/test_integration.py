"""KMeans inside the scikit-learn ecosystem: pipelines, column transformers,
pandas and polars output, model selection, joblib parallelism, cloning,
persistence and the notebook HTML repr.

Each test uses ferrokmeans the way a user's existing scikit-learn code does
and checks the results against a direct, sequential fit, so a difference
means the ecosystem path changed what KMeans computes.
"""

from __future__ import annotations

import pickle
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import make_blobs
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.metrics import silhouette_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ferrokmeans import KMeans


@pytest.fixture
def X() -> np.ndarray:
    # Four well-separated blobs in 5 features, at different scales per
    # feature so that StandardScaler matters.
    return make_blobs(240, 5, 4, spread=0.8, seed=3) * np.array([1, 10, 100, 1, 0.1])


@pytest.fixture
def frame() -> pd.DataFrame:
    """A mixed-type table: two numeric columns and one categorical."""
    rng = np.random.default_rng(7)
    n = 120
    group = np.repeat(["a", "b", "c"], n // 3)
    offset = {"a": 0.0, "b": 10.0, "c": 20.0}
    height = np.array([offset[g] for g in group]) + rng.normal(size=n)
    weight = 50.0 + 3 * np.array([offset[g] for g in group]) + rng.normal(size=n)
    return pd.DataFrame(
        {"height": height, "weight": weight, "group": pd.Categorical(group)},
        index=pd.RangeIndex(1000, 1000 + n, name="id"),
    )


def _km(**kwargs: Any) -> KMeans:
    kwargs.setdefault("n_clusters", 4)
    kwargs.setdefault("random_state", 0)
    return KMeans(**kwargs)


# ------------------------------------------------------------------ pipelines


def test_pipeline_scaler_then_kmeans_equals_the_two_steps(X):
    pipe = Pipeline([("scale", StandardScaler()), ("kmeans", _km())])
    labels = pipe.fit_predict(X)

    scaled = StandardScaler().fit_transform(X)
    direct = _km().fit(scaled)
    np.testing.assert_array_equal(labels, direct.labels_)
    np.testing.assert_array_equal(pipe[-1].cluster_centers_, direct.cluster_centers_)
    np.testing.assert_array_equal(pipe.predict(X), direct.predict(scaled))
    np.testing.assert_array_equal(pipe.transform(X), direct.transform(scaled))
    assert pipe.score(X) == direct.score(scaled)
    assert len(np.unique(labels)) == 4


def test_make_pipeline_with_column_transformer_on_a_dataframe(frame):
    columns = ColumnTransformer(
        [
            ("num", StandardScaler(), ["height", "weight"]),
            ("cat", OneHotEncoder(), ["group"]),
        ]
    )
    pipe = make_pipeline(columns, _km(n_clusters=3))
    labels = pipe.fit_predict(frame)

    assert labels.shape == (len(frame),)
    # Each group is one cluster.
    for g in "abc":
        assert len(np.unique(labels[(frame["group"] == g).to_numpy()])) == 1
    assert len(np.unique(labels)) == 3
    distances = pipe.transform(frame)
    assert distances.shape == (len(frame), 3)
    np.testing.assert_array_equal(distances.argmin(axis=1), labels)
    assert list(pipe.get_feature_names_out()) == ["kmeans0", "kmeans1", "kmeans2"]
    # The column transformer's output went to KMeans without its names.
    assert pipe[-1].n_features_in_ == 2 + 3


def test_column_transformer_sparse_output_is_clustered_like_dense(frame):
    def pipe(sparse_threshold: float) -> Pipeline:
        columns = ColumnTransformer(
            [
                ("num", StandardScaler(), ["height", "weight"]),
                ("cat", OneHotEncoder(), ["group"]),
            ],
            sparse_threshold=sparse_threshold,
        )
        return make_pipeline(columns, _km(n_clusters=3, init="random", n_init=3))

    sparse_pipe, dense_pipe = pipe(1.0), pipe(0.0)
    assert sp.issparse(sparse_pipe[0].fit_transform(frame))
    np.testing.assert_array_equal(
        sparse_pipe.fit_predict(frame), dense_pipe.fit_predict(frame)
    )


# ------------------------------------------------------------------ set_output


def test_set_output_pandas_in_a_pipeline(frame):
    pipe = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), ["height", "weight"])]),
        _km(n_clusters=3),
    ).set_output(transform="pandas")
    out = pipe.fit_transform(frame)

    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["kmeans0", "kmeans1", "kmeans2"]
    pd.testing.assert_index_equal(out.index, frame.index)
    np.testing.assert_array_equal(out.to_numpy().argmin(axis=1), pipe[-1].labels_)
    # The feature names of the DataFrame the scaler produced reached KMeans.
    assert list(pipe[-1].feature_names_in_) == ["num__height", "num__weight"]


def test_set_output_polars():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"a": [0.0, 0.1, 5.0, 5.1], "b": [1.0, 1.1, 9.0, 9.2]})
    km = _km(n_clusters=2).set_output(transform="polars")
    out = km.fit_transform(df)

    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["kmeans0", "kmeans1"]
    np.testing.assert_array_equal(out.to_numpy().argmin(axis=1), km.labels_)
    assert list(km.feature_names_in_) == ["a", "b"]
    np.testing.assert_array_equal(km.predict(df), km.labels_)


# ------------------------------------------------------------ model selection


def _silhouette(estimator: Any, X: Any, y: Any = None) -> float:
    """A custom scorer: the silhouette of the labels the estimator predicts."""
    return float(silhouette_score(X, estimator.predict(X)))


def test_grid_search_over_n_clusters_with_a_custom_scorer(X):
    search = GridSearchCV(
        make_pipeline(StandardScaler(), _km()),
        {"kmeans__n_clusters": [2, 3, 4, 5, 6]},
        scoring=_silhouette,
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X)

    assert search.best_params_ == {"kmeans__n_clusters": 4}
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and scores.argmax() == 2
    assert search.best_estimator_[-1].cluster_centers_.shape == (4, 5)


def test_grid_search_with_the_default_score(X):
    # Without a scorer the estimator's own score (minus inertia) is used: more
    # clusters never do worse, so the largest wins.
    search = GridSearchCV(_km(), {"n_clusters": [2, 4, 8]}, cv=3).fit(X)
    assert search.best_params_ == {"n_clusters": 8}


def test_cross_val_score_is_minus_the_inertia_of_each_held_out_fold(X):
    cv = KFold(4, shuffle=True, random_state=1)
    scores = cross_val_score(_km(), X, cv=cv)

    expected = []
    for train, test in cv.split(X):
        km = _km().fit(X[train])
        expected.append(-((km.transform(X[test]).min(axis=1)) ** 2).sum())
    np.testing.assert_allclose(scores, expected, rtol=1e-10)
    assert np.all(scores < 0)


# ---------------------------------------------------------- joblib parallelism


def _fit(X: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    km = KMeans(n_clusters=4, init="random", n_init=2, random_state=seed).fit(X)
    return km.cluster_centers_, km.labels_, km.inertia_


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_joblib_parallel_fits_equal_sequential_fits(X, backend):
    seeds = range(6)
    sequential = [_fit(X, s) for s in seeds]
    parallel = Parallel(n_jobs=2, backend=backend)(delayed(_fit)(X, s) for s in seeds)

    assert len(parallel) == len(sequential)
    for (c, lab, inertia), (c0, lab0, inertia0) in zip(
        parallel, sequential, strict=True
    ):
        np.testing.assert_array_equal(c, c0)
        np.testing.assert_array_equal(lab, lab0)
        assert inertia == inertia0


def test_grid_search_runs_in_loky_workers(X):
    grid = {"n_clusters": [3, 4, 5]}
    one = GridSearchCV(_km(), grid, scoring=_silhouette, cv=3).fit(X)
    two = GridSearchCV(_km(), grid, scoring=_silhouette, cv=3, n_jobs=2).fit(X)
    np.testing.assert_array_equal(
        one.cv_results_["mean_test_score"], two.cv_results_["mean_test_score"]
    )


# ------------------------------------------------------ cloning and persistence


def test_clone_keeps_parameters_and_drops_the_fit(X):
    km = _km(n_clusters=5, tol=1e-3, n_threads=1, init="random", n_init=3).fit(X)
    again = clone(km)

    assert again.get_params() == km.get_params()
    assert not hasattr(again, "cluster_centers_")
    np.testing.assert_array_equal(again.fit(X).labels_, km.labels_)


def test_clone_of_a_pipeline(X):
    pipe = make_pipeline(StandardScaler(), _km()).fit(X)
    again = clone(pipe)
    assert again.get_params()["kmeans__n_clusters"] == 4
    assert not hasattr(again[-1], "labels_")
    np.testing.assert_array_equal(again.fit(X)[-1].labels_, pipe[-1].labels_)


def _assert_same_fit(a: KMeans, b: KMeans, X: np.ndarray) -> None:
    assert a.get_params() == b.get_params()
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.cluster_centers_.dtype == b.cluster_centers_.dtype
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert (a.inertia_, a.n_iter_, a.n_features_in_) == (
        b.inertia_,
        b.n_iter_,
        b.n_features_in_,
    )
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pickle_round_trip(X, dtype):
    X = X.astype(dtype)
    km = _km().fit(X)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        _assert_same_fit(pickle.loads(pickle.dumps(km, protocol=protocol)), km, X)


def test_joblib_dump_and_load(X, tmp_path):
    km = _km().fit(X)
    path = tmp_path / "kmeans.joblib"
    joblib.dump(km, path)
    _assert_same_fit(joblib.load(path), km, X)

    pipe = make_pipeline(StandardScaler(), _km()).fit(X)
    joblib.dump(pipe, path, compress=3)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_unfitted_estimator_pickles_and_fits_after(X):
    km = pickle.loads(pickle.dumps(_km()))
    np.testing.assert_array_equal(km.fit(X).labels_, _km().fit(X).labels_)


# ------------------------------------------------------------ notebook display


def test_html_repr_as_a_notebook_shows_it():
    km = KMeans(n_clusters=3, n_threads=2)
    html = km._repr_html_()
    assert html.lstrip().startswith("<style>")
    assert "KMeans" in html
    # Parameters changed from their defaults are shown.
    assert "n_clusters=3" in html and "n_threads=2" in html
    bundle = km._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == "KMeans(n_clusters=3, n_threads=2)"


def test_html_repr_of_a_fitted_pipeline(X):
    pipe = make_pipeline(StandardScaler(), _km()).fit(X)
    html = pipe._repr_html_()
    assert "StandardScaler" in html and "KMeans" in html
    assert "Fitted" in html


def test_cluster_error_pickles_for_worker_processes():
    # Raised inside a loky/multiprocessing worker, the error must travel back.
    import pickle

    from ferrokmeans import ClusterError

    err = pickle.loads(pickle.dumps(ClusterError("empty")))
    assert type(err) is ClusterError
    assert str(err) == "empty"

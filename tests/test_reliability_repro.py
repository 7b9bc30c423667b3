"""Reproducibility (issue #4, point 6).

For float32 and float64, dense and sparse, every ``init`` and every
``algorithm``: the same ``random_state`` gives bit-identical
``cluster_centers_``, ``labels_``, ``inertia_`` (and ``n_iter_``) on repeated
runs, with 1, 2, 3 or 8 threads, and in a fresh interpreter. The same holds
for the scipy-style functions with the same seed. Pickle, joblib and
``sklearn.base.clone`` round trips give identical predictions.

The data has 20,000 rows, so the core's fixed grid of row blocks has dozens
of blocks and the threads really do split the work.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_blobs
from sklearn.base import clone

from ferrokmeans import KMeans, kmeans, kmeans2, kmeans_plusplus, vq

THREADS = [1, 2, 3, 8]
K = 6


def _data(dtype, sparse: bool):
    X = make_blobs(20_000, 5, K, spread=4.0, seed=7)
    if sparse:
        X = np.where(np.abs(X) < 3.0, 0.0, X)  # about half the entries stored
        return sp.csr_matrix(X.astype(dtype))
    return X.astype(dtype)


def _callable_init(X, n_clusters, random_state):
    idx = random_state.choice(X.shape[0], n_clusters, replace=False)
    rows = X[idx]
    return rows.toarray() if sp.issparse(rows) else rows


def _init(kind: str, X):
    if kind == "array":
        rows = X[[0, 5, 11, 17, 23, 29]]
        return rows.toarray() if sp.issparse(rows) else np.asarray(rows)
    if kind == "callable":
        return _callable_init
    return kind


def _digest(km: KMeans) -> tuple:
    return (
        km.cluster_centers_.dtype.str,
        km.cluster_centers_.tobytes(),
        km.labels_.tobytes(),
        float(km.inertia_).hex(),
        km.n_iter_,
    )


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("init", ["k-means++", "random", "array", "callable"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_same_random_state_same_bits_for_any_thread_count(
    dtype, sparse, init, algorithm
):
    X = _data(dtype, sparse)
    w = np.linspace(0.25, 2.0, X.shape[0]).astype(dtype)

    def fit(n_threads, sample_weight=None):
        km = KMeans(
            K,
            init=_init(init, X),
            algorithm=algorithm,
            random_state=12345,
            n_threads=n_threads,
            n_init=2 if init != "array" else 1,
        )
        return _digest(km.fit(X, sample_weight=sample_weight))

    reference = fit(1)
    assert fit(1) == reference  # repeated run
    for n in THREADS[1:]:
        assert fit(n) == reference, f"n_threads={n}"
    weighted = fit(2, w)
    assert fit(8, w) == weighted
    assert weighted != reference  # the weights did something


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_predict_transform_score_and_kmeans_plusplus_for_any_thread_count(
    dtype, sparse
):
    X = _data(dtype, sparse)
    km = KMeans(K, random_state=0).fit(X)
    outputs = []
    for n in THREADS:
        km.set_params(n_threads=n)
        centers, idx = kmeans_plusplus(X, K, random_state=3, n_threads=n)
        outputs.append(
            (
                km.predict(X).tobytes(),
                km.transform(X).tobytes(),
                km.score(X).hex(),
                centers.tobytes(),
                idx.tobytes(),
            )
        )
    assert all(o == outputs[0] for o in outputs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_scipy_style_functions_same_seed_same_bits_for_any_thread_count(
    dtype, monkeypatch
):
    X = _data(dtype, False)
    book = X[:K].copy()

    def run() -> bytes:
        # minit='random' may meet empty clusters: the warnings are part of
        # the result and must be the same too.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = [vq(X, book), kmeans(X, K, iter=2, rng=4), kmeans(X, book)]
            out += [kmeans2(X, K, minit=m, rng=5) for m in ("random", "points", "++")]
            out.append(kmeans2(X, book, minit="matrix"))
        out.append([str(w.message) for w in caught])
        return pickle.dumps(out)

    results = []
    for n in THREADS:
        monkeypatch.setenv("FERROKMEANS_NUM_THREADS", str(n))
        results.append(run())
        results.append(run())
    assert all(r == results[0] for r in results)


def _fingerprint_script() -> str:
    return textwrap.dedent(
        """
        import hashlib, sys
        import numpy as np
        sys.path.insert(0, sys.argv[1])
        from conftest import make_blobs
        from ferrokmeans import KMeans
        X = make_blobs(20_000, 5, 6, spread=4.0, seed=7)
        h = hashlib.sha256()
        for dtype in (np.float32, np.float64):
            for init in ("k-means++", "random"):
                km = KMeans(6, init=init, random_state=99, n_threads=3)
                km.fit(X.astype(dtype))
                h.update(km.cluster_centers_.tobytes())
                h.update(km.labels_.tobytes())
                h.update(float(km.inertia_).hex().encode())
        print(h.hexdigest())
        """
    )


def test_a_fresh_interpreter_gives_the_same_bits():
    # Nothing may depend on the process: addresses, pool state, what ran before.
    X = make_blobs(20_000, 5, 6, spread=4.0, seed=7)
    h = hashlib.sha256()
    for dtype in (np.float32, np.float64):
        for init in ("k-means++", "random"):
            km = KMeans(6, init=init, random_state=99, n_threads=1).fit(X.astype(dtype))
            h.update(km.cluster_centers_.tobytes())
            h.update(km.labels_.tobytes())
            h.update(float(km.inertia_).hex().encode())
    tests_dir = str(Path(__file__).parent)
    proc = subprocess.run(
        [sys.executable, "-c", _fingerprint_script(), tests_dir],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == h.hexdigest()


# ---------------------------------------------------------- round trips


def _round_trips():
    def via_pickle(km):
        return pickle.loads(pickle.dumps(km, protocol=pickle.HIGHEST_PROTOCOL))

    def via_joblib(km):
        buf = io.BytesIO()
        joblib.dump(km, buf)
        buf.seek(0)
        return joblib.load(buf)

    def via_joblib_compressed(km):
        buf = io.BytesIO()
        joblib.dump(km, buf, compress=3)
        buf.seek(0)
        return joblib.load(buf)

    return [
        pytest.param(via_pickle, id="pickle"),
        pytest.param(via_joblib, id="joblib"),
        pytest.param(via_joblib_compressed, id="joblib-compressed"),
    ]


@pytest.mark.parametrize("round_trip", _round_trips())
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_serialised_estimators_predict_identically(round_trip, dtype, sparse):
    X = _data(dtype, sparse)
    new = _data(dtype, sparse)[::7]
    km = KMeans(K, random_state=1, n_threads=2).fit(X)
    restored = round_trip(km)
    assert restored is not km
    assert _digest(restored) == _digest(km)
    assert restored.get_params() == km.get_params()
    np.testing.assert_array_equal(restored.predict(new), km.predict(new))
    np.testing.assert_array_equal(restored.transform(new), km.transform(new))
    assert restored.score(new) == km.score(new)
    # The restored estimator refits to the same bits too.
    assert _digest(restored.fit(X)) == _digest(km)


@pytest.mark.parametrize("round_trip", _round_trips())
def test_unfitted_estimators_survive_serialisation(round_trip):
    X = _data(np.float64, False)
    km = KMeans(K, init="random", random_state=2, n_threads=3)
    assert _digest(round_trip(km).fit(X)) == _digest(km.fit(X))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_clone_refits_to_the_same_bits_and_predictions(dtype, sparse):
    X = _data(dtype, sparse)
    new = _data(dtype, sparse)[::5]
    km = KMeans(K, init="random", random_state=3, n_threads=2).fit(X)
    twin = clone(km).set_params(n_threads=8).fit(X)
    assert _digest(twin) == _digest(km)
    np.testing.assert_array_equal(twin.predict(new), km.predict(new))
    np.testing.assert_array_equal(twin.transform(new), km.transform(new))

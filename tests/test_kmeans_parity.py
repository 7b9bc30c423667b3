"""Parity with scikit-learn's Lloyd KMeans on identical inputs.

From the same data and the same initial centres, ferrokmeans must take the
same Lloyd steps as ``sklearn.cluster.KMeans(algorithm="lloyd")``: the same
labels, the same number of iterations, the same convergence kind, and
centres and inertia equal up to rounding (the two compute distances by
different formulas, so bits may differ, decisions may not).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import make_blobs
from sklearn.cluster import KMeans as SKKMeans

from ferrokmeans import KMeans

RTOL64 = 1e-10
RTOL32 = 1e-5


def _data(seed: int) -> np.ndarray:
    """Unstructured data: 10 clusters take tens of Lloyd iterations."""
    return np.random.default_rng(seed).standard_normal((1500, 4))


def _init(X: np.ndarray, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    return X[rng.choice(X.shape[0], k, replace=False)].copy()


def _weights(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed + 2000).uniform(0.2, 3.0, n)


def _fit_both(X, init, sample_weight=None, **params):
    k = init.shape[0]
    ours = KMeans(k, init=init, n_init=1, **params)
    theirs = SKKMeans(k, init=init, n_init=1, algorithm="lloyd", **params)
    ours.fit(X, sample_weight=sample_weight)
    theirs.fit(X, sample_weight=sample_weight)
    return ours, theirs


def _assert_same_fit(ours, theirs, X, rtol):
    """Same decisions exactly; same numbers up to ``rtol`` of the data scale."""
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.cluster_centers_.dtype == theirs.cluster_centers_.dtype
    scale = float(np.max(np.abs(X)))
    np.testing.assert_allclose(
        ours.cluster_centers_,
        theirs.cluster_centers_,
        rtol=rtol,
        atol=rtol * scale,
    )
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=rtol)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("tol", [0.0, 1e-6, 1e-4, 1e-2])
@pytest.mark.parametrize("weighted", [False, True])
def test_same_init_same_run_float64(seed, tol, weighted):
    X = _data(seed)
    sw = _weights(X.shape[0], seed) if weighted else None
    ours, theirs = _fit_both(X, _init(X, 10, seed), sw, tol=tol)
    _assert_same_fit(ours, theirs, X, RTOL64)
    assert ours.n_iter_ > 5  # a real run, not a one-step convergence


@pytest.mark.parametrize("max_iter", [1, 2, 3, 7])
@pytest.mark.parametrize("weighted", [False, True])
def test_stopped_before_convergence_float64(max_iter, weighted):
    X = _data(3)
    sw = _weights(X.shape[0], 3) if weighted else None
    ours, theirs = _fit_both(X, _init(X, 10, 3), sw, tol=0.0, max_iter=max_iter)
    assert ours.n_iter_ == max_iter
    _assert_same_fit(ours, theirs, X, RTOL64)


@pytest.mark.parametrize("weighted", [False, True])
def test_empty_clusters_are_relocated_like_sklearn(weighted):
    # Two initial centres far from every point lose all their points in
    # the first step; both libraries move them onto the farthest points.
    X = _data(4)
    init = _init(X, 10, 4)
    init[3] = 100.0
    init[7] = -50.0
    sw = _weights(X.shape[0], 4) if weighted else None
    ours, theirs = _fit_both(X, init, sw, tol=0.0)
    _assert_same_fit(ours, theirs, X, RTOL64)
    assert np.all(np.abs(ours.cluster_centers_) < 10)


@pytest.mark.parametrize("tol", [0.0, 1e-4])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("max_iter", [2, 300])
def test_same_init_same_run_float32(tol, weighted, max_iter):
    X = make_blobs(2000, 5, 6, spread=1.5, seed=5, dtype=np.float32)
    init = X[[0, 1, 2, 3, 4, 6]] + np.float32(2.0)  # not the blob centres
    sw = _weights(X.shape[0], 5).astype(np.float32) if weighted else None
    ours, theirs = _fit_both(X, init, sw, tol=tol, max_iter=max_iter)
    assert ours.cluster_centers_.dtype == np.float32
    _assert_same_fit(ours, theirs, X, RTOL32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_predict_transform_score_match_sklearn_on_the_same_centres(dtype, weighted):
    X = make_blobs(800, 4, 5, spread=2.0, seed=6, dtype=dtype)
    ours, theirs = _fit_both(X, X[:5].copy(), tol=1e-4)
    # Give scikit-learn our exact centres, so that any difference below
    # comes from predict/transform/score alone.
    theirs.cluster_centers_ = ours.cluster_centers_.copy()
    X_new = make_blobs(500, 4, 5, spread=4.0, seed=7, dtype=dtype)
    sw = _weights(X_new.shape[0], 7).astype(dtype) if weighted else None
    rtol = RTOL64 if dtype == np.float64 else RTOL32

    labels = ours.predict(X_new)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, theirs.predict(X_new))

    dist = ours.transform(X_new)
    assert dist.dtype == dtype
    assert dist.shape == (500, 5)
    np.testing.assert_allclose(dist, theirs.transform(X_new), rtol=rtol)

    score = ours.score(X_new, sample_weight=sw)
    assert score < 0
    assert score == pytest.approx(theirs.score(X_new, sample_weight=sw), rel=rtol)

    np.testing.assert_array_equal(ours.fit_predict(X), theirs.fit_predict(X))
    np.testing.assert_allclose(
        ours.fit_transform(X), theirs.fit_transform(X), rtol=rtol, atol=rtol
    )


# --------------------------------------------------------------- verbose
_LINE = re.compile(
    r"^(?:(?P<init>Initialization complete)"
    r"|Iteration (?P<it>\d+), inertia (?P<inertia>\S+)\."
    r"|Converged at iteration (?P<strict_it>\d+): strict convergence\."
    r"|Converged at iteration (?P<tol_it>\d+): center shift (?P<shift>\S+) "
    r"within tolerance (?P<tol>\S+)\.)$"
)


def _parse_verbose(out: str) -> list[tuple]:
    """Each line as (kind, iteration, numbers...); fails on an unknown line."""
    events = []
    for line in out.splitlines():
        m = _LINE.match(line)
        assert m is not None, f"unexpected verbose line {line!r}"
        if m["init"]:
            events.append(("init",))
        elif m["it"] is not None:
            events.append(("iteration", int(m["it"]), float(m["inertia"])))
        elif m["strict_it"] is not None:
            events.append(("strict", int(m["strict_it"])))
        else:
            events.append(("tol", int(m["tol_it"]), float(m["shift"]), float(m["tol"])))
    return events


def _assert_same_events(ours: list[tuple], theirs: list[tuple], rtol: float):
    assert [e[:2] for e in ours] == [e[:2] for e in theirs]
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a[2:], b[2:], rtol=rtol)


@pytest.mark.parametrize(
    ("tol", "max_iter", "kind"),
    [
        (0.0, 300, "strict"),
        (1e-2, 300, "tol"),
        (1e-4, 4, None),  # stopped by max_iter: no "Converged" line
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_verbose_output_matches_sklearn(capsys, tol, max_iter, kind, weighted):
    X = _data(8)
    init = _init(X, 10, 8)
    sw = _weights(X.shape[0], 8) if weighted else None
    KMeans(10, init=init, n_init=1, tol=tol, max_iter=max_iter, verbose=1).fit(
        X, sample_weight=sw
    )
    ours = _parse_verbose(capsys.readouterr().out)
    SKKMeans(10, init=init, n_init=1, tol=tol, max_iter=max_iter, verbose=1).fit(
        X, sample_weight=sw
    )
    theirs = _parse_verbose(capsys.readouterr().out)

    assert ours[0] == ("init",)
    assert ours[-1][0] == (kind or "iteration")
    if kind is None:
        assert len(ours) == 1 + max_iter
    # The center shift is a difference of nearly equal numbers, and
    # scikit-learn computes it on centred data: compare it loosely.
    _assert_same_events(ours, theirs, rtol=1e-6)


def test_verbose_float32_and_restarts(capsys):
    X = make_blobs(600, 3, 4, spread=3.0, seed=9, dtype=np.float32)
    init = X[:4].copy()
    KMeans(4, init=init, n_init=1, tol=1e-3, verbose=2).fit(X)
    ours = _parse_verbose(capsys.readouterr().out)
    SKKMeans(4, init=init, n_init=1, tol=1e-3, verbose=2).fit(X)
    theirs = _parse_verbose(capsys.readouterr().out)
    _assert_same_events(ours, theirs, rtol=1e-4)

    # One "Initialization complete" per restart, each followed by its run.
    KMeans(4, init="random", n_init=3, verbose=1, random_state=0).fit(X)
    events = _parse_verbose(capsys.readouterr().out)
    assert [e for e in events if e[0] == "init"] == [("init",)] * 3
    assert events[0] == ("init",)
    assert sum(e[0] in ("strict", "tol") for e in events) == 3


def test_silent_by_default(capsys):
    KMeans(3, random_state=0).fit(make_blobs(100, 2, 3))
    assert capsys.readouterr().out == ""

"""Fuzzing every entry point with hypothesis (issue #4, point 9).

Shapes (empty, one row, zero features, 1-D for the scipy-style functions),
dtypes (float32, float64, small integers), cluster counts (0 to more than the
rows), sample weights (zero, denormal, huge, negative, NaN, the wrong length)
and values (ordinary, exact duplicates, NaN, ±inf, huge, tiny, denormal) are
drawn at random. Every call must either

- return a valid result: labels in ``[0, k)`` that are the nearest centre,
  finite centres, distances that are the true distances, an inertia (or
  score, or distortion) that recomputes from the returned labels and centres;
- or raise ``ValueError`` or ``TypeError``;

and give no warning but the documented ones (scikit-learn's
ConvergenceWarning, scipy's empty-cluster UserWarning in kmeans2, the
zero-variance RuntimeWarning of whiten). The Rust side has its own fuzz
targets in rust/ferrokmeans-core/tests/fuzz_props.rs.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning

from ferrokmeans import KMeans, kmeans, kmeans2, kmeans_plusplus, vq, whiten

ALLOWED_WARNINGS = (
    "One of the clusters is empty",  # kmeans2, as scipy
    "Some columns have standard deviation zero",  # whiten, as scipy
)

# ---------------------------------------------------------------- values

ORDINARY = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
DUPLICATES = st.sampled_from([0.0, 1.0, -2.5, 7.0])
SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf])
HUGE = st.sampled_from([1e19, -3e19, 1e38, 3e38, 1e153, -5e153, 1e300, -1.7e308])
TINY = st.sampled_from([1e-20, 1e-40, 1e-45, 1e-160, 1e-310, 5e-324, -1e-310])


@st.composite
def matrices(draw, allow_1d: bool = False, n_features: int | None = None) -> np.ndarray:
    """A data matrix: mostly ordinary rows, sometimes a few extreme values."""
    kind = draw(st.sampled_from(["float64", "float32", "int32"]))
    one_d = allow_1d and draw(st.booleans())
    n = draw(st.integers(0, 30))
    d = 1 if one_d else draw(st.integers(0, 4)) if n_features is None else n_features
    shape = (n,) if one_d else (n, d)
    if kind == "int32":
        return draw(hnp.arrays(np.int32, shape, elements=st.integers(-50, 50)))
    flavour = draw(
        st.sampled_from(["ordinary", "special", "huge", "tiny", "mixed", "scaled"])
    )
    extra = {
        "ordinary": DUPLICATES,
        "special": SPECIAL,
        "huge": HUGE,
        "tiny": TINY,
        "mixed": st.one_of(SPECIAL, HUGE, TINY),
        "scaled": DUPLICATES,
    }[flavour]
    elements = st.one_of(ORDINARY, DUPLICATES, extra) if flavour != "tiny" else TINY
    if flavour == "huge" and draw(st.booleans()):
        elements = HUGE  # every value huge
    size = int(np.prod(shape))
    values = np.array(draw(st.lists(elements, min_size=size, max_size=size)))
    if flavour == "scaled":
        # Ordinary data at an extreme scale: squares that underflow, or
        # sums of squares (the inertia) that overflow while each term fits.
        values = values * draw(st.sampled_from(SCALES))
    with np.errstate(over="ignore"):  # float32(1e300) is inf: also a case
        return values.reshape(shape).astype(kind)


SCALES = [1e-300, 1e-160, 1e-20, 1e17, 1e150, 3e151, 1e152, 1e153]


WEIGHT_VALUES = st.one_of(
    st.floats(0.0, 10.0),
    st.sampled_from([0.0, 1.0, 1e-310, 1e300, -1.0, np.nan, np.inf]),
)


@st.composite
def weights(draw, n: int) -> np.ndarray | None:
    if draw(st.booleans()):
        return None
    length = n if draw(st.integers(0, 9)) else draw(st.integers(0, n + 2))
    return np.array(draw(st.lists(WEIGHT_VALUES, min_size=length, max_size=length)))


K = st.integers(0, 7)


# ------------------------------------------------------------- checking


def _call(fn) -> tuple[Any, BaseException | None]:
    """Runs ``fn``; returns (result, None) or (None, the ValueError or
    TypeError). Any other exception fails the example, and so does a warning
    that is not documented when a result is returned (a numpy "invalid
    value" beside a result means a NaN was computed somewhere). Warnings on
    the way to a clean error are the business of test_reliability_errors.py.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out, err = fn(), None
        except (ValueError, TypeError) as e:
            out, err = None, e
    if err is not None:
        note(f"raised {type(err).__name__}: {err}")
        assert str(err), "an error without a message"
        return out, err
    for w in caught:
        documented = issubclass(w.category, ConvergenceWarning) or str(
            w.message
        ).startswith(ALLOWED_WARNINGS)
        assert documented, f"{w.category.__name__}: {w.message}"
    return out, err


def _dense64(X) -> np.ndarray:
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    return X.astype(np.float64).reshape(X.shape[0], -1)


def _tolerances(dtype) -> tuple[float, float]:
    """(rtol, atol per element) for a recomputation in float64 of what the
    core computed in ``dtype``; atol covers squares that underflow."""
    if np.dtype(dtype) == np.float32:
        return 1e-4, 1e-37
    return 1e-9, 1e-300


def _sq_dist(X64, C) -> np.ndarray:
    C64 = np.asarray(C, dtype=np.float64).reshape(len(C), -1)
    with np.errstate(over="ignore", invalid="ignore"):
        return ((X64[:, None, :] - C64[None, :, :]) ** 2).sum(axis=2)


def _sparse_rounding(X, C, dtype) -> np.ndarray:
    """A bound on the rounding error of each squared distance (row by centre)
    that the core computes for sparse ``X``, zero for dense ``X``.

    For dense input the core computes ``sum((x - c) ** 2)``, accurate to a
    few ulps of the distance itself (the rtol/atol of ``_tolerances``). For
    CSR input it computes, as scikit-learn does for sparse data,
    ``|x|^2 - 2 x.c + |c|^2`` (rust/ferrokmeans-core/src/kernel.rs,
    ``sq_dist_sparse``), in the dtype of X. The standard bound for that
    expression is ``gamma_(d+2) * (|x|^2 + 2 |x|.|c| + |c|^2) <= (d + 2) *
    eps * (|x|^2 + |c|^2)``: relative to the norms, not to the distance, which
    can be far smaller (a point next to its centre, far from the origin).
    Asking for more than this from sparse input asks for another algorithm.
    """
    if not sp.issparse(X):
        return np.zeros((X.shape[0], len(C)))
    X64 = _dense64(X)
    with np.errstate(over="ignore"):
        norms = (X64**2).sum(axis=1)[:, None] + (C**2).sum(axis=1)[None, :]
    return (X64.shape[1] + 3) * np.finfo(dtype).eps * norms


def _check_assignment(X, labels, centers, k, dtype, weights=None) -> float:
    """Labels in range and nearest (up to the kernel's rounding); returns
    the recomputed (weighted) inertia, which must be finite."""
    X64 = _dense64(X)
    labels = np.asarray(labels)
    n = X64.shape[0]
    assert labels.shape == (n,)
    assert ((labels >= 0) & (labels < k)).all(), labels
    C = np.asarray(centers, dtype=np.float64)
    assert np.isfinite(C).all(), "non-finite centres presented as a result"
    if n == 0:
        return 0.0
    rtol, atol = _tolerances(dtype)
    d2 = _sq_dist(X64, C)
    nearest = d2.min(axis=1)
    # A far centre may be out of reach (its distance overflows); the
    # nearest one may not.
    assert np.isfinite(nearest).all(), "distances overflow float64 but no error"
    rows = np.arange(n)
    chosen = d2[rows, labels]
    rounding = _sparse_rounding(X, C, dtype)
    slack = rtol * nearest + atol * X64.shape[1]
    # The core ranked the centres by computed distances: each may be off by
    # its rounding bound, that of the chosen centre and that of the nearest.
    slack = slack + rounding[rows, labels] + rounding[rows, d2.argmin(axis=1)]
    assert (chosen <= nearest + slack).all(), "a label is not the nearest centre"
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    with np.errstate(over="ignore"):
        total = float((w * chosen).sum())
    return total


def _assert_inertia(
    reported: float, recomputed: float, X, dtype, rounding: float = 0.0
) -> None:
    """``rounding``: the kernel's bound for the sum (``_sparse_rounding``)."""
    assert np.isfinite(reported), f"inertia {reported} presented as a result"
    rtol, atol = _tolerances(dtype)
    assert np.isfinite(recomputed), "the true inertia overflows; expected an error"
    size = _dense64(X).size
    allowed = rtol * recomputed + atol * size + rounding
    assert abs(reported - recomputed) <= allowed, (
        reported,
        recomputed,
    )


def _model_dtype(X) -> Any:
    return np.float32 if X.dtype == np.float32 else np.float64


# ---------------------------------------------------------------- tests

SETTINGS = settings(
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


@SETTINGS
@given(
    X=matrices(),
    k=K,
    sparse=st.booleans(),
    init=st.sampled_from(["k-means++", "random", "array"]),
    data=st.data(),
)
def test_fuzz_kmeans_fit(X, k, sparse, init, data):
    w = data.draw(weights(X.shape[0]), label="sample_weight")
    dtype = _model_dtype(X)
    if sparse and X.ndim == 2:
        X = sp.csr_matrix(X)
    centres = np.asarray(_dense64(X)[:k] if X.shape[0] else np.zeros((k, 1)))
    km = KMeans(
        k,
        init=centres if init == "array" else init,
        n_init=1,
        max_iter=data.draw(st.integers(1, 30), label="max_iter"),
        tol=data.draw(st.sampled_from([0.0, 1e-4]), label="tol"),
        random_state=data.draw(st.integers(0, 2**32 - 1), label="seed"),
        n_threads=data.draw(st.integers(1, 3), label="n_threads"),
    )
    _, err = _call(lambda: km.fit(X, sample_weight=w))
    if err is not None:
        return
    total = _check_assignment(X, km.labels_, km.cluster_centers_, k, dtype, w)
    C = km.cluster_centers_.astype(np.float64)
    per_row = _sparse_rounding(X, C, dtype)[np.arange(X.shape[0]), km.labels_]
    w64 = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    with np.errstate(over="ignore"):
        rounding = float(w64 @ per_row)
    _assert_inertia(km.inertia_, total, X, dtype, rounding)
    assert km.cluster_centers_.dtype == dtype


@SETTINGS
@given(fit_on=matrices(), k=st.integers(1, 5), data=st.data())
def test_fuzz_kmeans_predict_transform_score(fit_on, k, data):
    km = KMeans(k, random_state=0, n_init=1)
    _, err = _call(lambda: km.fit(fit_on))
    if err is not None:
        return
    # Mostly new data with the features seen in fit, sometimes not.
    d = fit_on.shape[1] if data.draw(st.integers(0, 9), label="same d") else None
    X = data.draw(matrices(n_features=d), label="X")
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    with np.errstate(over="ignore"):  # float64 centres beyond float32's range
        centres = km.cluster_centers_.astype(dtype)
    labels, err = _call(lambda: km.predict(X))
    if err is None:
        _check_assignment(X, labels, centres, k, dtype)
    dist, err = _call(lambda: km.transform(X))
    if err is None:
        assert dist.shape == (X.shape[0], k)
        assert np.isfinite(dist).all() and (dist >= 0).all()
        rtol, _ = _tolerances(dtype)
        expected = np.sqrt(_sq_dist(_dense64(X), centres))
        np.testing.assert_allclose(dist, expected, rtol=rtol * 10, atol=1e-15)
    w = data.draw(weights(X.shape[0]), label="sample_weight")
    score, err = _call(lambda: km.score(X, sample_weight=w))
    if err is None:
        labels = np.argmin(_sq_dist(_dense64(X), centres), axis=1)
        total = _check_assignment(X, labels, centres, k, dtype, w)
        _assert_inertia(-score, total, X, dtype)


@SETTINGS
@given(X=matrices(), k=K, data=st.data())
def test_fuzz_kmeans_plusplus(X, k, data):
    w = data.draw(weights(X.shape[0]), label="sample_weight")
    out, err = _call(lambda: kmeans_plusplus(X, k, sample_weight=w, random_state=0))
    if err is not None:
        return
    centers, idx = out
    assert centers.shape == (k, X.shape[1])
    assert np.isfinite(centers).all()
    assert ((idx >= 0) & (idx < X.shape[0])).all()
    np.testing.assert_array_equal(centers, X[idx].astype(centers.dtype))
    if w is not None:
        assert (np.asarray(w)[idx] > 0).all(), "a row of zero weight was chosen"


@SETTINGS
@given(obs=matrices(allow_1d=True), book=matrices(allow_1d=True), check=st.booleans())
def test_fuzz_vq(obs, book, check):
    out, err = _call(lambda: vq(obs, book, check_finite=check))
    if err is not None:
        return
    codes, dist = out
    k = book.shape[0]
    dtype = np.result_type(obs, book)
    dtype = np.float32 if dtype == np.float32 else np.float64
    assert np.isfinite(dist).all() and (dist >= 0).all()
    if obs.shape[0] == 0:
        return
    _check_assignment(obs, codes, book, k, dtype)
    X64 = _dense64(obs)
    true = np.sqrt(_sq_dist(X64, book)[np.arange(len(codes)), codes])
    np.testing.assert_allclose(dist, true, rtol=_tolerances(dtype)[0] * 10, atol=1e-15)


@SETTINGS
@given(obs=matrices(allow_1d=True), k=K, check=st.booleans(), data=st.data())
def test_fuzz_kmeans(obs, k, check, data):
    guess = data.draw(st.booleans(), label="pass a guess")
    k_or_guess = obs[:k].copy() if guess and obs.shape[0] else k
    out, err = _call(lambda: kmeans(obs, k_or_guess, iter=2, check_finite=check, rng=0))
    if err is not None:
        return
    book, distortion = out
    assert np.isfinite(book).all(), "non-finite code book"
    assert np.isfinite(distortion) and distortion >= 0
    dtype = np.float32 if obs.dtype == np.float32 else np.float64
    _, dist = vq(obs, book)
    assert float(distortion) == pytest.approx(
        float(dist.astype(np.float64).mean()),
        rel=_tolerances(dtype)[0] * 10,
        abs=1e-300,
    )


@SETTINGS
@given(
    data_=matrices(allow_1d=True),
    k=K,
    minit=st.sampled_from(["random", "points", "++", "matrix"]),
    check=st.booleans(),
)
def test_fuzz_kmeans2(data_, k, minit, check):
    k_arg = data_[:k].copy() if minit == "matrix" else k
    out, err = _call(
        lambda: kmeans2(data_, k_arg, iter=3, minit=minit, check_finite=check, rng=0)
    )
    if err is not None:
        return
    book, labels = out
    n_codes = book.shape[0]
    assert np.isfinite(book).all(), "non-finite code book"
    assert labels.shape == (data_.shape[0],)
    assert ((labels >= 0) & (labels < n_codes)).all(), labels


@SETTINGS
@given(obs=matrices(allow_1d=True), check=st.booleans())
def test_fuzz_whiten(obs, check):
    out, err = _call(lambda: whiten(obs, check_finite=check))
    if err is not None:
        return
    assert out.shape == obs.shape
    assert np.isfinite(out).all(), "non-finite whitening presented as a result"
    if obs.size == 0:
        return
    X64 = obs.astype(np.float64).reshape(len(obs), -1)
    W64 = out.astype(np.float64).reshape(len(obs), -1)
    for j in range(X64.shape[1]):
        if np.ptp(X64[:, j]) == 0:  # constant: left as it is
            np.testing.assert_array_equal(W64[:, j], X64[:, j])
        else:  # unit standard deviation
            assert W64[:, j].std() == pytest.approx(1.0, rel=1e-2), j

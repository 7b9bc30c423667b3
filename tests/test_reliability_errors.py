"""Bad input through every entry point (issue #4, point 1).

tests/test_kmeans_errors.py and tests/test_vq_errors.py pin the documented
messages of the common mistakes; this file covers what they leave out, across
all entry points at once: finite values whose squares (or sums of squares)
overflow, denormals, the ``check_finite=False`` paths, 0-d and rank-3 input
to every function, integers too large for the core, and that no call ever
modifies the user's arrays.

Every case must end in one of two ways:

- a ``ValueError`` or ``TypeError`` whose message names what is wrong;
- a result that checks out: labels in ``[0, k)``, finite centres, distances
  and inertia, and for ``whiten`` the whitening of the unscaled data (it is
  scale invariant).

Never another exception type, a stray numpy ``RuntimeWarning`` ("overflow
encountered in ...": the library let a computation go wrong), a hang, or a
non-finite number presented as a result. The only warnings allowed are the
documented ones: scikit-learn's ``ConvergenceWarning`` when fewer distinct
clusters are found than asked for, and scipy's ``UserWarning`` about an empty
cluster in ``kmeans2``.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

from ferrokmeans import KMeans, kmeans, kmeans2, kmeans_plusplus, vq, whiten

K = 3
X = make_blobs(60, 3, K, seed=0)  # centres 10 apart, values within ~[-2, 92]
BOOK = X[:K].copy()

EMPTY_CLUSTER = "One of the clusters is empty"


@functools.cache
def _fitted(dtype: str) -> KMeans:
    """A KMeans fitted on the clean data in ``dtype``; never refitted."""
    return KMeans(K, random_state=0, n_threads=2).fit(X.astype(dtype))


# Each entry point as a function of the data alone (KMeans methods use an
# estimator fitted on the clean data; vq the clean code book).
ENTRY_POINTS: dict[str, Callable[[Any], Any]] = {
    "KMeans.fit": lambda A: KMeans(K, random_state=0).fit(A),
    "KMeans.predict": lambda A: _fitted(A.dtype.name).predict(A),
    "KMeans.transform": lambda A: _fitted(A.dtype.name).transform(A),
    "KMeans.score": lambda A: _fitted(A.dtype.name).score(A),
    "kmeans_plusplus": lambda A: kmeans_plusplus(A, K, random_state=0),
    "kmeans": lambda A: kmeans(A, K, rng=0),
    "kmeans2(minit='++')": lambda A: kmeans2(A, K, minit="++", rng=0),
    "kmeans2(minit='points')": lambda A: kmeans2(A, K, minit="points", rng=0),
    "kmeans2(minit='random')": lambda A: kmeans2(A, K, minit="random", rng=0),
    "vq": lambda A: vq(A, BOOK.astype(A.dtype)),
    "whiten": lambda A: whiten(A),
}


# ------------------------------------------------------------------ helpers


class Outcome:
    """What a call did: its result or exception, and the warnings it gave
    (recorded, not raised, so that a stray one can be reported)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.result = call()
            except Exception as e:  # judged by the caller
                self.error = e
        self.warnings = [(w.category, str(w.message)) for w in caught]

    def stray_warnings(self) -> list[str]:
        """The warnings that are not among the documented ones."""
        return [
            f"{cat.__name__}: {msg}"
            for cat, msg in self.warnings
            if not (
                issubclass(cat, ConvergenceWarning)
                or (issubclass(cat, UserWarning) and msg.startswith(EMPTY_CLUSTER))
            )
        ]

    def describe(self) -> str:
        what = (
            f"raised {type(self.error).__name__}: {self.error}"
            if self.error is not None
            else f"returned {self.result!r:.300}"
        )
        return f"{what}; warnings: {self.warnings}"


def _assert_clean_error(outcome: Outcome, match: str, types=(ValueError, TypeError)):
    """The call raised one of ``types`` with a message matching ``match``,
    and gave no stray warning on the way."""
    assert outcome.error is not None, outcome.describe()
    assert isinstance(outcome.error, types), outcome.describe()
    assert re.search(match, str(outcome.error)), outcome.describe()
    assert not outcome.stray_warnings(), outcome.describe()


def _assert_valid(entry: str, out: Any, A: np.ndarray, unscaled: np.ndarray) -> None:
    """``out`` is a result of ``entry`` on ``A`` that checks out."""
    n = A.shape[0]

    def labels_ok(labels):
        labels = np.asarray(labels)
        assert labels.shape == (n,)
        assert labels.min() >= 0 and labels.max() < K, labels

    def finite(*arrays):
        for a in arrays:
            assert np.all(np.isfinite(np.asarray(a, dtype=np.float64))), a

    if entry == "KMeans.fit":
        labels_ok(out.labels_)
        finite(out.cluster_centers_, out.inertia_)
        assert out.inertia_ >= 0
    elif entry == "KMeans.predict":
        labels_ok(out)
    elif entry == "KMeans.transform":
        assert out.shape == (n, K)
        finite(out)
        assert (out >= 0).all()
    elif entry == "KMeans.score":
        finite(out)
        assert out <= 0
    elif entry == "kmeans_plusplus":
        centers, idx = out
        finite(centers)
        assert ((idx >= 0) & (idx < n)).all()
    elif entry == "kmeans":
        book, distortion = out
        finite(book, distortion)
    elif entry.startswith("kmeans2"):
        book, labels = out
        finite(book)
        labels_ok(labels)
    elif entry == "vq":
        codes, dist = out
        labels_ok(codes)
        finite(dist)
        assert (dist >= 0).all()
    elif entry == "whiten":
        # Whitening is scale invariant: the result must be that of the
        # unscaled data, not zeros (overflowing squares) nor the input
        # itself (a "zero" standard deviation from underflowing squares).
        finite(out)
        rtol = 1e-3 if A.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(out, whiten(unscaled), rtol=rtol)
    else:  # pragma: no cover - a new entry point needs a check here
        raise AssertionError(entry)


def _refused_or_valid(entry: str, A: np.ndarray, unscaled: np.ndarray, match: str):
    outcome = Outcome(lambda: ENTRY_POINTS[entry](A))
    if outcome.error is not None:
        _assert_clean_error(outcome, match)
    else:
        assert not outcome.stray_warnings(), outcome.describe()
        _assert_valid(entry, outcome.result, A, unscaled)


# -------------------------------------------------------- extreme values

OVERFLOW = r"overflow|too large|rescale"

HUGE = [
    # Each row's squared distance fits in float64, the sum over the rows
    # (the inertia) does not.
    pytest.param(np.float64, 1e153, id="f64-1e153"),
    # The squares themselves overflow.
    pytest.param(np.float64, 1e300, id="f64-1e300"),
    # Squares fit in float32 (the inertia is summed in float64).
    pytest.param(np.float32, 1e18, id="f32-1e18"),
    pytest.param(np.float32, 1e30, id="f32-1e30"),
]


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize(("dtype", "largest"), HUGE)
def test_huge_values_are_refused_or_handled(entry, dtype, largest):
    unscaled = X.astype(dtype)
    A = (X * (largest / np.abs(X).max())).astype(dtype)
    assert np.isfinite(A).all()
    _refused_or_valid(entry, A, unscaled, OVERFLOW)


DENORMAL_ENTRY_POINTS = [e for e in ENTRY_POINTS if e != "kmeans2(minit='random')"]


@pytest.mark.parametrize("entry", DENORMAL_ENTRY_POINTS)
@pytest.mark.parametrize(
    ("dtype", "scale"),
    [
        pytest.param(np.float64, 1e-310, id="f64-1e-310"),
        pytest.param(np.float32, 1e-40, id="f32-1e-40"),
    ],
)
def test_denormals_are_refused_or_handled(entry, dtype, scale):
    # Squared distances of denormals underflow to zero. A result is fine
    # (all points may look alike: ConvergenceWarning), an error is fine if
    # it says what is wrong; a numpy warning or a wrong whitening is not.
    # (kmeans2's 'random' init raises LinAlgError, a ValueError, on the
    # singular covariance: see test_vq_errors.py.)
    unscaled = X.astype(dtype)
    A = (X * scale).astype(dtype)
    assert (A != 0).any() and (np.abs(A) < np.finfo(dtype).tiny).any()
    _refused_or_valid(entry, A, unscaled, r"underflow|denormal|subnormal|rescale")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiny_but_normal_values_cluster_like_the_unscaled_data(dtype):
    # 1e-18 squared is 1e-36: still a normal float32. Nothing may be lost.
    scale = 1e-18
    ref = KMeans(K, random_state=0).fit(X.astype(dtype))
    km = KMeans(K, random_state=0).fit((X * scale).astype(dtype))
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_allclose(
        km.cluster_centers_ / scale, ref.cluster_centers_, rtol=1e-5
    )


# Uniform data (no cluster structure) scaled so that every squared distance
# is finite (< 1e308) but their sum over the rows is not.
UNIFORM = np.random.default_rng(0).random((40, 3))
SUM_OVERFLOWS = UNIFORM * 5e153


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: KMeans(2, random_state=0).fit(SUM_OVERFLOWS), id="fit"),
        pytest.param(
            lambda: KMeans(2, random_state=0).fit(sp.csr_matrix(SUM_OVERFLOWS)),
            id="fit-sparse",
        ),
        pytest.param(
            lambda: KMeans(2, random_state=0).fit(UNIFORM).score(SUM_OVERFLOWS),
            id="score",
        ),
        pytest.param(
            lambda: KMeans(2, random_state=0).fit(
                UNIFORM, sample_weight=np.full(40, 1e308)
            ),
            id="fit-weighted",
        ),
        pytest.param(
            lambda: (
                KMeans(2, random_state=0)
                .fit(UNIFORM)
                .score(UNIFORM, sample_weight=np.full(40, 1e308))
            ),
            id="score-weighted",
        ),
    ],
)
def test_an_inertia_that_overflows_is_refused(call):
    # Was: inertia_ == inf, score == -inf, presented as results.
    outcome = Outcome(call)
    if outcome.error is None:
        value = outcome.result
        value = value if np.isscalar(value) else value.inertia_
        assert np.isfinite(value), outcome.describe()
    else:
        _assert_clean_error(outcome, OVERFLOW)


@pytest.mark.parametrize("tol", [0.0, 1e-4])
def test_weighted_sums_that_overflow_are_refused(tol):
    # Found by the fuzz test: weight x value = 1e300 x 1e19 overflows the
    # cluster sums, and an empty cluster relocated onto that row got the
    # centre inf, presented as a result (with inertia 0).
    A = np.array([[0.0]] * 7 + [[1e19]])
    w = np.r_[np.zeros(7), 1e300]
    outcome = Outcome(
        lambda: KMeans(2, random_state=0, tol=tol).fit(A, sample_weight=w)
    )
    if outcome.error is None:
        assert np.isfinite(outcome.result.cluster_centers_).all(), outcome.describe()
    else:
        _assert_clean_error(outcome, OVERFLOW)


def test_float64_weights_or_centres_that_overflow_float32_are_refused_clearly():
    # float32 data: weights and initial centres are cast to float32, where
    # 1e300 is infinite. numpy's "overflow encountered in cast" is no message.
    X32 = X.astype(np.float32)
    outcome = Outcome(lambda: KMeans(K).fit(X32, sample_weight=np.full(len(X), 1e300)))
    _assert_clean_error(outcome, r"sample_weight.*(float32|large|overflow)")
    init = np.full((K, 3), 1e300)
    outcome = Outcome(lambda: KMeans(K, init=init).fit(X32))
    _assert_clean_error(outcome, r"(init|cent).*(float32|large|overflow|infinity)")


def test_float32_data_on_float64_centres_beyond_float32_range():
    # Fitted in float64 far out, predicted in float32: the centres do not fit
    # in float32. Compute in float64, or say so; "the initial centers contain
    # NaN or infinity" after numpy's "overflow encountered in cast" does not.
    far = X * 1e40
    km = KMeans(K, random_state=0).fit(far)
    for method in ("predict", "transform", "score"):
        outcome = Outcome(lambda m=method: getattr(km, m)(X.astype(np.float32)))
        if outcome.error is None:
            assert not outcome.stray_warnings(), outcome.describe()
            assert np.isfinite(outcome.result).all(), outcome.describe()
        else:
            _assert_clean_error(outcome, r"float32")
            assert "initial cent" not in str(outcome.error), outcome.describe()


# ------------------------------------------------ check_finite=False paths


def _with(value: float, A: np.ndarray = X) -> np.ndarray:
    A = A.copy()
    A[1, 1] = value
    return A


NON_FINITE = [np.nan, np.inf, -np.inf]


@pytest.mark.parametrize("value", NON_FINITE)
def test_whiten_without_check_finite_still_refuses_non_finite_input(value):
    # scipy returns NaN columns here; the issue asks for an error.
    outcome = Outcome(lambda: whiten(_with(value), check_finite=False))
    _assert_clean_error(outcome, r"NaN|inf")


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("minit", ["random", "++", "points"])
def test_kmeans2_without_check_finite_names_the_data(value, minit):
    # The user gave no initial centres: a message about "the initial
    # centers" (computed from the bad data) would send them looking in the
    # wrong place.
    outcome = Outcome(
        lambda: kmeans2(_with(value), K, minit=minit, check_finite=False, rng=0)
    )
    _assert_clean_error(outcome, r"(input|data|obs)\b.*(NaN|inf)")
    assert "initial cent" not in str(outcome.error), outcome.describe()


@pytest.mark.parametrize("value", NON_FINITE)
def test_vq_without_check_finite_names_the_code_book(value):
    # vq has no initial centres; the message must point at code_book.
    outcome = Outcome(lambda: vq(X, _with(value, BOOK), check_finite=False))
    _assert_clean_error(outcome, r"code.?book")


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_without_check_finite_refuses_a_bad_guess(value, dtype):
    outcome = Outcome(
        lambda: kmeans(
            X.astype(dtype), _with(value, BOOK).astype(dtype), check_finite=False
        )
    )
    _assert_clean_error(outcome, r"NaN or infinity")


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("one_d", [False, True])
def test_non_finite_data_without_check_finite_in_float32_and_1d(value, dtype, one_d):
    A = _with(value).astype(dtype)
    if one_d:
        A = A[:, 1]
    book = BOOK[:, 1] if one_d else BOOK
    for call in (
        lambda: vq(A, book.astype(dtype), check_finite=False),
        lambda: kmeans(A, K, check_finite=False, rng=0),
        lambda: kmeans2(A, K, minit="points", check_finite=False, rng=0),
    ):
        _assert_clean_error(Outcome(call), r"NaN or infinity")


# --------------------------------------------------------- shapes and ranks


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: kmeans(np.float64(3.0), 1), id="kmeans"),
        pytest.param(lambda: kmeans2(np.float64(3.0), 1, minit="points"), id="kmeans2"),
        pytest.param(lambda: whiten(np.float64(3.0)), id="whiten"),
        pytest.param(lambda: KMeans(1).fit(np.float64(3.0)), id="KMeans.fit"),
        pytest.param(lambda: kmeans_plusplus(np.float64(3.0), 1), id="kmeans_plusplus"),
    ],
)
def test_a_scalar_is_not_a_data_set(call):
    # kmeans and kmeans2 raised IndexError ("tuple index out of range").
    _assert_clean_error(
        Outcome(call), r"0-d|scalar|dimension|rank|1-D|2-D|2D|at least one"
    )


def test_whiten_refuses_rank_3_like_the_other_functions():
    _assert_clean_error(Outcome(lambda: whiten(np.ones((4, 3, 2)))), r"rank > 2")


def test_whiten_of_an_empty_array_is_an_error_or_empty_without_warnings():
    outcome = Outcome(lambda: whiten(np.empty((0, 3))))
    if outcome.error is not None:
        _assert_clean_error(outcome, r"empty|at least one|0 observations")
    else:
        assert outcome.result.shape == (0, 3)
        assert not outcome.warnings, outcome.describe()


BAD_X = [
    pytest.param(np.empty((0, 3)), r"0 sample\(s\)", id="empty"),
    pytest.param(np.empty((5, 0)), r"0 feature\(s\)", id="no-features"),
    pytest.param(X[0], "Expected 2D array, got 1D array", id="1d"),
    pytest.param(X.reshape(5, 12, 3), "Found array with dim 3", id="3d"),
    pytest.param(X.astype(complex), "Complex data not supported", id="complex"),
    pytest.param(np.full((4, 3), "a"), "could not convert string to float", id="str"),
    pytest.param(
        np.array([[1.0, "x", 2.0]] * 4, dtype=object), "could not convert", id="object"
    ),
]


@pytest.mark.parametrize(("bad", "match"), BAD_X)
@pytest.mark.parametrize("method", ["predict", "transform", "score", "fit_predict"])
def test_bad_X_after_fit(bad, match, method):
    # test_kmeans_errors.py checks these through fit only.
    km = KMeans(K, random_state=0).fit(X)
    if method == "fit_predict":
        km = KMeans(K)
    with pytest.raises(ValueError, match=match):
        getattr(km, method)(bad)


@pytest.mark.parametrize(("bad", "match"), BAD_X)
def test_bad_X_in_kmeans_plusplus(bad, match):
    with pytest.raises(ValueError, match=match):
        kmeans_plusplus(bad, 1)


# ----------------------------------------------------- parameters out of range

TOO_BIG = 10**30  # larger than any machine integer


@pytest.mark.parametrize(
    ("make", "name"),
    [
        pytest.param(lambda: KMeans(K, n_init=TOO_BIG), "n_init", id="n_init"),
        pytest.param(lambda: KMeans(K, n_threads=2**64), "n_threads", id="n_threads"),
    ],
)
def test_integers_too_large_for_the_core_are_refused_by_name(make, name):
    # They passed the Python checks ("an int in [1, inf)") and failed in the
    # binding with "OverflowError: int too big to convert".
    _assert_clean_error(Outcome(lambda: make().fit(X)), name)


def test_a_huge_max_iter_works_or_is_refused_by_name():
    outcome = Outcome(lambda: KMeans(K, max_iter=TOO_BIG, random_state=0).fit(X))
    if outcome.error is not None:
        _assert_clean_error(outcome, "max_iter")
    else:
        _assert_valid("KMeans.fit", outcome.result, X, X)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        pytest.param(
            lambda: kmeans2(X, K, iter=TOO_BIG, rng=0), "iter", id="kmeans2-iter"
        ),
        pytest.param(
            lambda: kmeans_plusplus(X, K, n_local_trials=2**64),
            "n_local_trials",
            id="kmeans_plusplus-n_local_trials",
        ),
        pytest.param(
            lambda: kmeans_plusplus(X, K, n_threads=2**64),
            "n_threads",
            id="kmeans_plusplus-n_threads",
        ),
        pytest.param(
            lambda: kmeans2(X, np.inf, minit="points"), r"\bk\b", id="kmeans2-k-inf"
        ),
        pytest.param(
            lambda: kmeans2(X, np.nan, minit="points"), r"\bk\b", id="kmeans2-k-nan"
        ),
        pytest.param(
            lambda: kmeans(X, K, thresh="small"), "thresh", id="kmeans-thresh-str"
        ),
        pytest.param(
            lambda: kmeans(X, K, thresh=None), "thresh", id="kmeans-thresh-None"
        ),
    ],
)
def test_scipy_style_parameters_out_of_range_are_refused_by_name(call, name):
    _assert_clean_error(Outcome(call), name)


def test_kmeans2_plusplus_with_more_clusters_than_observations():
    # 'points' refuses it; '++' ran into 0/0 ("invalid value encountered in
    # divide") once every observation was chosen.
    outcome = Outcome(lambda: kmeans2(X[:5], 6, minit="++", rng=0))
    if outcome.error is not None:
        _assert_clean_error(outcome, r"at most 5|only 5")
    else:
        assert not outcome.stray_warnings(), outcome.describe()
        book, labels = outcome.result
        assert np.isfinite(book).all() and labels.max() < 6


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("KMeans(2, n_threads=10**6).fit(X)", id="KMeans-n_threads"),
        pytest.param(
            "kmeans_plusplus(X, 2, n_threads=2**63)", id="kmeans_plusplus-n_threads"
        ),
    ],
)
def test_an_absurd_thread_count_does_not_hang(code):
    # Starting a million threads never finishes: cap the count at something
    # sane or refuse it, but answer.
    script = textwrap.dedent(
        f"""
        import numpy as np
        from ferrokmeans import KMeans, kmeans_plusplus
        X = np.random.default_rng(0).random((50, 3))
        try:
            {code}
            print("result")
        except (ValueError, TypeError) as e:
            print("refused:", e)
        """
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{code} did not finish within 15 s")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(("result", "refused")), proc.stdout


# ------------------------------------------------ state after a failed fit


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(X * 1e300, id="overflow-in-the-core"),
        pytest.param(np.full((4, 3), 1.0), id="too-few-samples"),
    ],
)
def test_a_failed_fit_leaves_a_new_estimator_unfitted(bad):
    # The fit stored n_features_in_ before the core failed: check_is_fitted
    # then passed and predict raised AttributeError ('cluster_centers_').
    # The same happens after Ctrl-C (tests/slow).
    km = KMeans(5, random_state=0)
    with pytest.raises(ValueError):
        km.fit(bad)
    with pytest.raises(NotFittedError):
        check_is_fitted(km)
    for method in ("predict", "transform", "score"):
        with pytest.raises(NotFittedError):
            getattr(km, method)(X)


def test_a_failed_refit_leaves_a_consistent_estimator():
    # Fitted on 3 features, refitted on bad 5-feature data: the old model
    # (or none) must remain, not the old centres with n_features_in_ = 5.
    km = KMeans(K, random_state=0).fit(X)
    before = km.predict(X)
    with pytest.raises(ValueError):
        km.fit(np.hstack([X, X[:, :2]]) * 1e300)
    outcome = Outcome(lambda: km.predict(X))
    if outcome.error is None:
        np.testing.assert_array_equal(outcome.result, before)
    else:
        assert isinstance(outcome.error, NotFittedError), outcome.describe()


# ----------------------------------------------------- user arrays unchanged


def _layouts():
    base = make_blobs(64, 3, K, seed=5)
    wide = np.repeat(base, 2, axis=1)
    return [
        pytest.param(base.copy(), id="C-f64"),
        pytest.param(np.asfortranarray(base.astype(np.float32)), id="F-f32"),
        pytest.param(wide[:, ::2], id="strided-f64"),
        pytest.param(np.rint(base * 3).astype(np.int64), id="C-int64"),
        pytest.param(_with(np.nan, base), id="nan"),
        pytest.param(base * 1e300, id="huge"),
    ]


def _every_call(A):
    """Each entry point with every array argument the user can pass."""
    w = np.linspace(0.5, 2.0, A.shape[0])
    book = np.asarray(A[:K], dtype=np.float64).copy()
    fitted = _fitted("float64")
    return (
        [A, w, book],
        [
            lambda: KMeans(K, random_state=0).fit(A, sample_weight=w),
            lambda: KMeans(K, init=book, n_init=1).fit(A),
            lambda: fitted.predict(A),
            lambda: fitted.transform(A),
            lambda: fitted.score(A, sample_weight=w),
            lambda: kmeans_plusplus(A, K, sample_weight=w, random_state=0),
            lambda: kmeans(A, book, check_finite=False),
            lambda: kmeans(A, K, iter=2, rng=0, check_finite=False),
            lambda: kmeans2(A, book, minit="matrix", check_finite=False),
            lambda: kmeans2(A, K, minit="++", rng=0, check_finite=False),
            lambda: vq(A, book, check_finite=False),
            lambda: whiten(A, check_finite=False),
        ],
    )


@pytest.mark.parametrize("A", _layouts())
def test_user_arrays_are_never_modified(A):
    # On success and on error alike; writable arrays, so that a write
    # through any pointer would show.
    arrays, calls = _every_call(A)
    before = [a.copy(order="K") for a in arrays]
    for call in calls:
        Outcome(call)  # whatever it does, it must not write
        for a, b in zip(arrays, before, strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.flags.writeable


def test_sparse_user_matrices_are_never_modified():
    A = sp.random(80, 6, density=0.3, format="csr", random_state=1, dtype=np.float64)
    A.data[3] = 1e300  # an error path too
    parts = [A.data.copy(), A.indices.copy(), A.indptr.copy()]
    fitted = KMeans(K, random_state=0).fit(
        sp.random(30, 6, density=0.5, random_state=2)
    )
    for call in (
        lambda: KMeans(K, random_state=0).fit(A),
        lambda: fitted.predict(A),
        lambda: fitted.transform(A),
        lambda: kmeans_plusplus(A, K, random_state=0),
    ):
        Outcome(call)
        for got, want in zip((A.data, A.indices, A.indptr), parts, strict=True):
            np.testing.assert_array_equal(got, want)

"""Parity with ``scipy.cluster.vq`` on identical inputs and seeds.

Each function must return what scipy returns (values, dtypes, shapes), warn
as scipy warns, and consume the caller's random generator with exactly
scipy's calls, so that the same seed gives scipy's answer and leaves the
generator in the same state. Code books may differ from scipy's in the last
bits (sums are grouped differently); labels and codes may not.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import scipy.cluster.vq as svq
from conftest import make_blobs
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ferrokmeans
from ferrokmeans import ClusterError, _core, kmeans, kmeans2, vq, whiten

RTOL64 = 1e-10
RTOL32 = 1e-5
EMPTY = "One of the clusters is empty"


def _rtol(dtype) -> float:
    return RTOL32 if np.dtype(dtype) == np.float32 else RTOL64


def _assert_same_array(ours, theirs, rtol=RTOL64, atol=0.0):
    assert type(ours) is np.ndarray
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _matrix(a) -> np.matrix:
    """An ``np.matrix``, without numpy's PendingDeprecationWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(a)


# numpy's global RandomState, which scipy draws from when given no rng.
GLOBAL_RNG = np.random.mtrand._rand


@pytest.fixture
def restore_global_rng():
    """Tests that seed numpy's global RandomState put it back afterwards."""
    state = GLOBAL_RNG.get_state()
    yield
    GLOBAL_RNG.set_state(state)


# --------------------------------------------------------------------------
# Module surface


def test_public_names():
    assert set(ferrokmeans._vq.__all__) == {
        "ClusterError",
        "kmeans",
        "kmeans2",
        "vq",
        "whiten",
    }
    assert ferrokmeans.ClusterError is _core.ClusterError
    assert issubclass(ClusterError, Exception)


@pytest.mark.parametrize("name", ["kmeans", "kmeans2", "vq", "whiten"])
def test_signature_matches_scipy(name):
    ours = inspect.signature(getattr(ferrokmeans, name)).parameters
    theirs = inspect.signature(getattr(svq, name)).parameters
    assert list(ours) == list(theirs)
    for p in theirs:
        assert ours[p].kind == theirs[p].kind, p
        assert ours[p].default == theirs[p].default, p


# --------------------------------------------------------------------------
# vq


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(400, 1), (400, 2), (400, 3), (400, 11), (400,)])
def test_vq_matches_scipy(dtype, shape):
    rng = np.random.default_rng(1)
    obs = rng.standard_normal(shape).astype(dtype)
    book = rng.standard_normal((7, *shape[1:])).astype(dtype)
    codes, dist = vq(obs, book)
    s_codes, s_dist = svq.vq(obs, book)
    np.testing.assert_array_equal(codes, s_codes)
    assert codes.dtype == s_codes.dtype == np.int32
    tol = 1e-5 if dtype == np.float32 else 1e-12
    _assert_same_array(dist, s_dist, rtol=tol)


@pytest.mark.parametrize(
    ("obs_dtype", "book_dtype"),
    [
        (np.int64, np.int64),
        (np.int32, np.float64),
        (np.float32, np.float64),
        (np.uint8, np.float32),
        (np.float64, np.int16),
    ],
)
def test_vq_mixed_dtypes_match_scipy(obs_dtype, book_dtype):
    rng = np.random.default_rng(2)
    obs = rng.integers(0, 50, (200, 3)).astype(obs_dtype)
    book = rng.integers(0, 50, (5, 3)).astype(book_dtype)
    codes, dist = vq(obs, book)
    s_codes, s_dist = svq.vq(obs, book)
    # Integer grids make many exact ties: they must go to the same code.
    np.testing.assert_array_equal(codes, s_codes)
    assert codes.dtype == s_codes.dtype
    _assert_same_array(dist, s_dist, rtol=1e-6)


def test_vq_matrix_list_and_strided_input_match_scipy():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((300, 6))
    book = rng.standard_normal((4, 3))
    for obs, cb in [
        (_matrix(base[:, :3]), _matrix(book)),
        (base[::2, ::2], book),
        (np.asfortranarray(base[:, :3]), np.asfortranarray(book)),
        (base[:5, :3].tolist(), book.tolist()),
    ]:
        codes, dist = vq(obs, cb)
        s_codes, s_dist = svq.vq(obs, cb)
        np.testing.assert_array_equal(codes, s_codes)
        _assert_same_array(dist, s_dist, rtol=1e-12)


def test_vq_empty_and_scalar_obs_match_scipy():
    book = np.array([[0.0, 1.0], [2.0, 3.0]])
    for obs, cb in [(np.zeros((0, 2)), book), (np.array(3.0), np.array([1.0, 5.0]))]:
        codes, dist = vq(obs, cb)
        s_codes, s_dist = svq.vq(obs, cb)
        np.testing.assert_array_equal(codes, s_codes)
        assert codes.dtype == s_codes.dtype
        _assert_same_array(dist, s_dist)


def test_vq_zero_features_matches_scipy():
    codes, dist = vq(np.zeros((4, 0)), np.zeros((3, 0)))
    s_codes, s_dist = svq.vq(np.zeros((4, 0)), np.zeros((3, 0)))
    np.testing.assert_array_equal(codes, s_codes)
    _assert_same_array(dist, s_dist)


def _brute_force(obs, book):
    diff = obs[:, None, :] - book[None, :, :]
    return np.sqrt((diff * diff).sum(axis=2))


@given(
    data=st.integers(1, 6).flatmap(
        lambda d: st.tuples(
            arrays(
                np.float64,
                st.tuples(st.integers(1, 40), st.just(d)),
                elements=st.integers(-4, 4).map(float),
            ),
            arrays(
                np.float64,
                st.tuples(st.integers(1, 6), st.just(d)),
                elements=st.integers(-4, 4).map(float),
            ),
        )
    )
)
def test_vq_codes_are_the_first_nearest_code(data):
    # Small integers: every squared distance is exact, so ties are real ties
    # and must go to the lowest index, as numpy's argmin does.
    obs, book = data
    codes, dist = vq(obs, book)
    d = _brute_force(obs, book)
    np.testing.assert_array_equal(codes, d.argmin(axis=1))
    np.testing.assert_array_equal(dist, d.min(axis=1))


@given(
    obs=arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.just(10)),
        elements=st.floats(-1e3, 1e3),
    ),
    book=arrays(
        np.float64,
        st.tuples(st.integers(1, 8), st.just(10)),
        elements=st.floats(-1e3, 1e3),
    ),
)
def test_vq_distance_is_the_minimum(obs, book):
    codes, dist = vq(obs, book)
    d = _brute_force(obs, book)
    np.testing.assert_allclose(dist, d.min(axis=1), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(
        d[np.arange(len(obs)), codes], dist, rtol=1e-12, atol=1e-9
    )


# --------------------------------------------------------------------------
# whiten


@pytest.mark.parametrize(
    "obs",
    [
        np.random.default_rng(4).standard_normal((50, 3)) * [1.0, 10.0, 0.1],
        np.random.default_rng(4).standard_normal((50, 3)).astype(np.float32),
        np.random.default_rng(4).standard_normal(50),
        np.random.default_rng(4).integers(0, 9, (50, 2)),
        _matrix([[1.9, 2.3], [1.5, 2.5], [0.8, 0.6]]),
    ],
    ids=["f64", "f32", "1d", "int", "matrix"],
)
def test_whiten_matches_scipy(obs):
    _assert_same_array(whiten(obs), svq.whiten(obs), rtol=0)


def test_whiten_warns_on_zero_std_like_scipy():
    obs = np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 5.0]])
    match = "Some columns have standard deviation zero"
    with pytest.warns(RuntimeWarning, match=match):
        ours = whiten(obs)
    with pytest.warns(RuntimeWarning, match=match):
        theirs = svq.whiten(obs)
    _assert_same_array(ours, theirs, rtol=0)
    np.testing.assert_array_equal(ours[:, 0], obs[:, 0])
    # As in scipy, check_finite=False skips the warning too.
    _assert_same_array(
        whiten(obs, check_finite=False), svq.whiten(obs, check_finite=False), rtol=0
    )


# --------------------------------------------------------------------------
# kmeans


def _rng_args(kind: str, seed: int) -> dict:
    """The same seed in each of the forms scipy accepts, freshly built."""
    return {
        "rng-int": lambda: {"rng": seed},
        "rng-generator": lambda: {"rng": np.random.default_rng(seed)},
        "rng-randomstate": lambda: {"rng": np.random.RandomState(seed)},
        "seed-int": lambda: {"seed": seed},
        "seed-randomstate": lambda: {"seed": np.random.RandomState(seed)},
        "seed-generator": lambda: {"seed": np.random.default_rng(seed)},
    }[kind]()


RNG_KINDS = [
    "rng-int",
    "rng-generator",
    "rng-randomstate",
    "seed-int",
    "seed-randomstate",
    "seed-generator",
]


def _next_draw(args: dict) -> float | None:
    """One more draw from the caller's generator, if they passed one."""
    gen = next(iter(args.values()))
    return gen.uniform() if hasattr(gen, "uniform") else None


@pytest.mark.parametrize("kind", RNG_KINDS)
def test_kmeans_same_seed_same_code_book_as_scipy(kind):
    X = make_blobs(300, 3, 4, seed=5)
    ours_args, theirs_args = _rng_args(kind, 7), _rng_args(kind, 7)
    book, distortion = kmeans(X, 4, iter=5, **ours_args)
    s_book, s_distortion = svq.kmeans(X, 4, iter=5, **theirs_args)
    _assert_same_array(book, s_book, rtol=1e-12)
    assert type(distortion) is type(s_distortion) is np.float64
    assert distortion == pytest.approx(s_distortion, rel=1e-12)
    # Our distortion is that of the code book returned.
    assert distortion == pytest.approx(svq.vq(X, book)[1].mean(), rel=1e-12)
    # The caller's generator was advanced exactly as far as scipy advances it.
    assert _next_draw(ours_args) == _next_draw(theirs_args)


@pytest.mark.parametrize(
    ("X", "k"),
    [
        (make_blobs(240, 1, 3, seed=6)[:, 0], 3),
        (make_blobs(240, 1, 3, seed=6), 3),
        (make_blobs(240, 5, 3, seed=6), 3),
        (_matrix(make_blobs(240, 2, 3, seed=6)), 3),
    ],
    ids=["1d", "one-column", "5-features", "matrix"],
)
def test_kmeans_shapes_and_values_match_scipy(X, k):
    book, distortion = kmeans(X, k, rng=3)
    s_book, s_distortion = svq.kmeans(X, k, rng=3)
    _assert_same_array(book, s_book, rtol=1e-12)
    assert distortion == pytest.approx(s_distortion, rel=1e-12)


def test_kmeans_float32_stays_float32():
    X = make_blobs(300, 3, 4, seed=8, dtype=np.float32)
    book, distortion = kmeans(X, 4, rng=2)
    s_book, s_distortion = svq.kmeans(X, 4, rng=2)
    _assert_same_array(book, s_book, rtol=RTOL32)
    assert type(distortion) is type(s_distortion) is np.float32
    assert distortion == pytest.approx(s_distortion, rel=RTOL32)


def test_kmeans_integer_obs_is_clustered_as_float64():
    # scipy raises TypeError on integer observations; we convert them.
    X = np.round(make_blobs(200, 2, 3, seed=9) * 10).astype(np.int64)
    book, distortion = kmeans(X, 3, rng=4)
    s_book, s_distortion = svq.kmeans(X.astype(np.float64), 3, rng=4)
    _assert_same_array(book, s_book, rtol=1e-12)
    assert distortion == pytest.approx(s_distortion, rel=1e-12)


def test_kmeans_with_a_guess_matches_scipy_and_draws_nothing(restore_global_rng):
    X = make_blobs(300, 3, 4, seed=10)
    guess = X[:4].copy()
    GLOBAL_RNG.seed(0)
    before = GLOBAL_RNG.get_state()[1].copy()
    book, distortion = kmeans(X, guess, iter=3)
    np.testing.assert_array_equal(GLOBAL_RNG.get_state()[1], before)
    s_book, s_distortion = svq.kmeans(X, guess)
    _assert_same_array(book, s_book, rtol=1e-12)
    assert distortion == pytest.approx(s_distortion, rel=1e-12)
    np.testing.assert_array_equal(guess, X[:4])


def test_kmeans_without_rng_uses_numpy_global_state(restore_global_rng):
    X = make_blobs(300, 3, 4, seed=11)
    GLOBAL_RNG.seed(12)
    book, _ = kmeans(X, 4, iter=3)
    after_ours = GLOBAL_RNG.uniform()
    GLOBAL_RNG.seed(12)
    s_book, _ = svq.kmeans(X, 4, iter=3)
    after_theirs = GLOBAL_RNG.uniform()
    _assert_same_array(book, s_book, rtol=1e-12)
    assert after_ours == after_theirs


def test_explicit_rng_none_leaves_numpy_global_state_alone(restore_global_rng):
    X = make_blobs(100, 2, 2, seed=13)
    GLOBAL_RNG.seed(0)
    before = GLOBAL_RNG.get_state()[1].copy()
    kmeans(X, 2, iter=2, rng=None)
    kmeans2(X, 2, minit="points", rng=None)
    np.testing.assert_array_equal(GLOBAL_RNG.get_state()[1], before)


def test_kmeans_distortion_is_that_of_the_returned_code_book():
    # With a huge thresh both make exactly two updates; scipy reports the
    # distortion of the book after the first, we that of the book returned.
    X = np.random.default_rng(14).random((200, 2))
    guess = X[:3].copy()
    book, distortion = kmeans(X, guess, thresh=1e9)
    s_book, s_distortion = svq.kmeans(X, guess, thresh=1e9)
    _assert_same_array(book, s_book, rtol=1e-12)
    assert distortion == pytest.approx(svq.vq(X, book)[1].mean(), rel=1e-12)
    after_one_update = kmeans2(X, guess, iter=1, minit="matrix")[0]
    assert s_distortion == pytest.approx(
        svq.vq(X, after_one_update)[1].mean(), rel=1e-12
    )
    assert distortion < s_distortion


def test_kmeans_keeps_the_code_of_an_empty_cluster():
    # scipy drops the far code and returns two; we keep all three.
    X = make_blobs(200, 2, 2, seed=15)
    guess = np.vstack([X[:2], [[1e6, 1e6]]])
    book, distortion = kmeans(X, guess)
    s_book, _ = svq.kmeans(X, guess)
    assert book.shape == (3, 2)
    assert s_book.shape == (2, 2)
    np.testing.assert_allclose(book[:2], s_book, rtol=1e-12)
    np.testing.assert_array_equal(book[2], guess[2])
    assert distortion == pytest.approx(svq.vq(X, book)[1].mean(), rel=1e-12)


# --------------------------------------------------------------------------
# kmeans2


def _recording(func, *args, **kwargs):
    """``func``'s result and the (category, message) of each warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    return result, [(w.category, str(w.message)) for w in caught]


def _kmeans2_both(X, k, **kw):
    """kmeans2 by us and by scipy, after checking that they warned alike
    (minit='random' leaves clusters empty on blobs for some seeds)."""
    ours, ours_w = _recording(kmeans2, X, k, **kw)
    theirs, theirs_w = _recording(svq.kmeans2, X, k, **kw)
    assert ours_w == theirs_w
    return ours, theirs


KMEANS2_DATA = {
    "2d": make_blobs(300, 3, 4, seed=20),
    "1d": make_blobs(300, 1, 4, seed=21)[:, 0],
    "one-column": make_blobs(300, 1, 4, seed=21),
    "f32": make_blobs(300, 3, 4, seed=22, dtype=np.float32),
    "wide": np.random.default_rng(23).standard_normal((6, 9)),
    "matrix": _matrix(make_blobs(120, 2, 4, seed=24)),
}


@pytest.mark.parametrize("minit", ["random", "points", "++"])
@pytest.mark.parametrize("name", list(KMEANS2_DATA))
def test_kmeans2_same_seed_same_result_as_scipy(minit, name):
    X = KMEANS2_DATA[name]
    k = 3 if name == "wide" else 4
    (book, labels), (s_book, s_labels) = _kmeans2_both(X, k, minit=minit, rng=5)
    np.testing.assert_array_equal(labels, s_labels)
    assert labels.dtype == s_labels.dtype == np.int32
    _assert_same_array(book, s_book, rtol=_rtol(np.asarray(X).dtype), atol=1e-12)


@pytest.mark.parametrize("minit", ["random", "points", "++"])
@pytest.mark.parametrize("kind", RNG_KINDS)
def test_kmeans2_consumes_the_generator_like_scipy(minit, kind):
    X = KMEANS2_DATA["2d"]
    ours_args, theirs_args = _rng_args(kind, 31), _rng_args(kind, 31)
    (book, labels), ours_w = _recording(kmeans2, X, 4, minit=minit, **ours_args)
    (s_book, s_labels), theirs_w = _recording(
        svq.kmeans2, X, 4, minit=minit, **theirs_args
    )
    assert ours_w == theirs_w
    np.testing.assert_array_equal(labels, s_labels)
    _assert_same_array(book, s_book, atol=1e-12)
    assert _next_draw(ours_args) == _next_draw(theirs_args)


@pytest.mark.parametrize("name", ["2d", "1d", "f32"])
def test_kmeans2_matrix_init_matches_scipy(name):
    X = KMEANS2_DATA[name]
    init = X[[0, 1, 2, 3]] + 0.25
    for kw in ({"minit": "matrix"}, {}):  # an array k means 'matrix' anyway
        (book, labels), (s_book, s_labels) = _kmeans2_both(X, init, iter=4, **kw)
        np.testing.assert_array_equal(labels, s_labels)
        _assert_same_array(book, s_book, rtol=_rtol(X.dtype), atol=1e-12)
    np.testing.assert_array_equal(init, X[[0, 1, 2, 3]] + 0.25)


def _emptying_init():
    """Blobs and an initial code book whose third code attracts nothing."""
    X = make_blobs(200, 2, 2, seed=25)
    return X, np.vstack([X[:2], [[1e6, 1e6]]])


def test_kmeans2_missing_warn_warns_like_scipy():
    X, init = _emptying_init()
    with pytest.warns(UserWarning, match=EMPTY) as ours_w:
        book, labels = kmeans2(X, init, iter=5, minit="matrix", missing="warn")
    with pytest.warns(UserWarning, match=EMPTY) as theirs_w:
        s_book, s_labels = svq.kmeans2(X, init, iter=5, minit="matrix")
    # One warning per iteration, with scipy's message and category.
    assert [(w.category, str(w.message)) for w in ours_w] == [
        (w.category, str(w.message)) for w in theirs_w
    ]
    assert len(ours_w) == 5
    # The warning points at the caller, not at ferrokmeans.
    assert all(w.filename == __file__ for w in ours_w)
    np.testing.assert_array_equal(labels, s_labels)
    _assert_same_array(book, s_book, atol=1e-12)
    np.testing.assert_array_equal(book[2], init[2])


def test_kmeans2_missing_raise_raises_cluster_error():
    X, init = _emptying_init()
    with pytest.raises(ClusterError, match=EMPTY):
        kmeans2(X, init, minit="matrix", missing="raise")
    with pytest.raises(svq.ClusterError, match=EMPTY):
        svq.kmeans2(X, init, minit="matrix", missing="raise")


def test_kmeans2_non_integer_k_warns_like_scipy():
    X = KMEANS2_DATA["2d"]
    match = "k was not an integer, was converted"
    with pytest.warns(UserWarning, match=match):
        book, labels = kmeans2(X, 4.5, minit="points", rng=1)
    with pytest.warns(UserWarning, match=match):
        s_book, s_labels = svq.kmeans2(X, 4.5, minit="points", rng=1)
    np.testing.assert_array_equal(labels, s_labels)
    assert book.shape == s_book.shape == (4, 3)


@pytest.mark.parametrize("minit", ["random", "++"])
def test_kmeans2_whole_float_k_works_with_every_minit(minit):
    # scipy fails on k=4.0 with 'random' and '++'; 4.0 means 4 here.
    X = KMEANS2_DATA["2d"]
    (book, labels), ours_w = _recording(kmeans2, X, 4.0, minit=minit, rng=6)
    (s_book, s_labels), theirs_w = _recording(svq.kmeans2, X, 4, minit=minit, rng=6)
    assert ours_w == theirs_w
    np.testing.assert_array_equal(labels, s_labels)
    _assert_same_array(book, s_book, atol=1e-12)


def test_kmeans2_integer_data_is_clustered_as_float64():
    X = np.round(KMEANS2_DATA["2d"] * 10).astype(np.int32)
    book, labels = kmeans2(X, 4, minit="++", rng=7)
    s_book, s_labels = svq.kmeans2(X.astype(np.float64), 4, minit="++", rng=7)
    np.testing.assert_array_equal(labels, s_labels)
    _assert_same_array(book, s_book, atol=1e-12)


def test_kmeans2_without_rng_uses_numpy_global_state(restore_global_rng):
    X = KMEANS2_DATA["2d"]
    GLOBAL_RNG.seed(8)
    (book, labels), ours_w = _recording(kmeans2, X, 4)
    after_ours = GLOBAL_RNG.uniform()
    GLOBAL_RNG.seed(8)
    (s_book, s_labels), theirs_w = _recording(svq.kmeans2, X, 4)
    after_theirs = GLOBAL_RNG.uniform()
    assert ours_w == theirs_w
    np.testing.assert_array_equal(labels, s_labels)
    _assert_same_array(book, s_book, atol=1e-12)
    assert after_ours == after_theirs


# --------------------------------------------------------------------------
# Across functions


def test_inputs_are_never_modified():
    X = make_blobs(100, 2, 2, seed=40)
    init = X[:2].copy()
    X_copy, init_copy = X.copy(), init.copy()
    X.flags.writeable = False
    init.flags.writeable = False
    whiten(X)
    vq(X, init)
    kmeans(X, init)
    kmeans(X, 2, iter=2, rng=0)
    for minit in ("random", "points", "++"):
        kmeans2(X, 2, minit=minit, rng=0)
    kmeans2(X, init, minit="matrix")
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(init, init_copy)


def test_thread_count_does_not_change_results(monkeypatch):
    X = make_blobs(2000, 3, 5, seed=41)
    results = []
    for threads in ("1", "3"):
        monkeypatch.setenv("FERROKMEANS_NUM_THREADS", threads)
        results.append(
            (
                vq(X, X[:5]),
                kmeans(X, 5, iter=2, rng=0),
                kmeans2(X, 5, minit="++", rng=0),
            )
        )
    (v1, k1, c1), (v3, k3, c3) = results
    for a, b in [
        (v1[0], v3[0]),
        (v1[1], v3[1]),
        (k1[0], k3[0]),
        (c1[0], c3[0]),
        (c1[1], c3[1]),
    ]:
        np.testing.assert_array_equal(a, b)
    assert k1[1] == k3[1]


def test_no_warning_on_clean_data():
    X = make_blobs(300, 3, 4, seed=42)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whiten(X)
        kmeans(X, 4, rng=0)
        _, labels = kmeans2(X, 4, minit="++", rng=0)
    assert np.bincount(labels).tolist() == [75, 75, 75, 75]

"""The estimator's shortcuts for the common case — a plain finite float array
skips scikit-learn's generic input checks, an integer ``random_state`` reuses
the seed it always draws — must behave exactly like the general path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import check_random_state

from ferrokmeans import KMeans, kmeans_plusplus
from ferrokmeans._kmeans import _core_seed, _draw_seed


def _blobs(dtype: type = np.float64) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.uniform(-10, 10, size=(4, 3))
    return (centres[rng.integers(0, 4, 300)] + rng.normal(size=(300, 3))).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_array_fits_like_its_list_and_view_forms(dtype: type) -> None:
    # A list and a non-contiguous view take scikit-learn's checks; the array
    # itself takes the shortcut. Same data, same results, same dtype kept.
    X = _blobs(dtype)
    wide = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=dtype)
    wide[:, ::2] = X
    fits = [
        KMeans(4, random_state=1).fit(form) for form in (X, X.tolist(), wide[:, ::2])
    ]
    for km in fits[1:]:
        np.testing.assert_array_equal(km.labels_, fits[0].labels_)
        np.testing.assert_allclose(km.cluster_centers_, fits[0].cluster_centers_)
    assert fits[0].cluster_centers_.dtype == dtype
    assert fits[0].n_features_in_ == 3


def test_refit_on_an_array_forgets_the_dataframes_feature_names() -> None:
    X = _blobs()
    km = KMeans(2, random_state=0).fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    assert list(km.feature_names_in_) == ["a", "b", "c"]
    km.fit(X)
    assert not hasattr(km, "feature_names_in_")
    assert km.n_features_in_ == 3


def test_predict_on_an_array_after_a_dataframe_fit_still_warns() -> None:
    X = _blobs()
    km = KMeans(2, random_state=0).fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    with pytest.warns(UserWarning, match="feature names"):
        km.predict(X)


def test_wrong_feature_count_and_non_finite_arrays_get_scikit_learns_errors() -> None:
    X = _blobs()
    km = KMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        km.predict(X[:, :2])
    for bad, word in [(np.nan, "NaN"), (np.inf, "infinity")]:
        Xb = X.copy()
        Xb[5, 1] = bad
        with pytest.raises(ValueError, match=word):
            KMeans(2, random_state=0).fit(Xb)
        with pytest.raises(ValueError, match=word):
            km.predict(Xb)


def test_finite_float32_values_whose_sum_overflows_pass_the_checks_silently() -> None:
    # Their float32 sum is infinite; the shortcut sums them again in float64,
    # so it neither takes them for infinity nor warns (warnings are errors
    # here).
    X = np.array([[3e38, 0.0], [3e38, 1.0], [-3e38, 0.0], [-3e38, 1.0]], np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(X.sum())
    # They pass the input checks; their squared distances overflow float32,
    # which the core reports (as it did before the shortcut).
    with pytest.raises(ValueError, match="overflow float32"):
        KMeans(2, init=X[[0, 2]], n_init=1, max_iter=1).fit(X)
    km = KMeans(2, init=X[[0, 2]] / 1e30, n_init=1, max_iter=1).fit(X / 1e30)
    assert km.n_features_in_ == 2
    assert sorted(np.bincount(km.labels_)) == [2, 2]


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1, np.int64(12)])
def test_an_integer_seed_draws_what_a_fresh_random_state_draws(seed: int) -> None:
    assert _core_seed(seed) == _draw_seed(check_random_state(int(seed)))
    # Twice: the remembered seed is the same.
    assert _core_seed(seed) == _core_seed(seed)
    X = _blobs()
    a = KMeans(3, random_state=seed).fit(X)
    b = KMeans(3, random_state=np.random.RandomState(int(seed))).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


@pytest.mark.parametrize("init", ["k-means++", "random", "array"])
@pytest.mark.parametrize("seed", [-1, 2**32, "zero"])
def test_invalid_seeds_are_rejected_for_every_init(init: str, seed: object) -> None:
    X = _blobs()
    km = KMeans(2, init=X[:2] if init == "array" else init, n_init=1, random_state=seed)
    with pytest.raises(ValueError):
        km.fit(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initial_centres_as_an_array_fit_like_their_other_forms(dtype: type) -> None:
    # A plain C-ordered float array takes the shortcut; a list, a
    # Fortran-ordered copy and an integer array take check_array. Same fit,
    # and the caller's array is left as it was.
    X = _blobs(dtype)
    init = X[[0, 100, 200, 299]].copy()
    kept = init.copy()
    forms = [init, init.tolist(), np.asfortranarray(init), init.round().astype(int)]
    fits = [KMeans(4, init=form, n_init=1).fit(X) for form in forms[:3]]
    for km in fits[1:]:
        np.testing.assert_array_equal(km.labels_, fits[0].labels_)
        np.testing.assert_array_equal(km.cluster_centers_, fits[0].cluster_centers_)
    np.testing.assert_array_equal(init, kept)
    rounded = KMeans(4, init=forms[3], n_init=1).fit(X)
    same = KMeans(4, init=init.round(), n_init=1).fit(X)
    np.testing.assert_array_equal(rounded.cluster_centers_, same.cluster_centers_)
    for bad, word in [(np.nan, "NaN"), (np.inf, "infinity")]:
        wrong = init.copy()
        wrong[1, 2] = bad
        with pytest.raises(ValueError, match=word):
            KMeans(4, init=wrong, n_init=1).fit(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_plusplus_on_an_array_draws_what_its_other_forms_draw(
    dtype: type,
) -> None:
    # The plain array skips check_array and an integer seed goes through the
    # remembered seed: the same rows as for a DataFrame of the same dtype
    # (through check_array), a strided view and an equally seeded
    # RandomState; NaN still gets scikit-learn's error.
    X = _blobs(dtype)
    wide = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=dtype)
    wide[:, ::2] = X
    want_c, want_i = kmeans_plusplus(X, 5, random_state=3)
    for form, seed in [
        (pd.DataFrame(X), 3),
        (wide[:, ::2], 3),
        (X, np.random.RandomState(3)),
    ]:
        c, i = kmeans_plusplus(form, 5, random_state=seed)
        np.testing.assert_array_equal(i, want_i)
        np.testing.assert_array_equal(c, want_c.astype(c.dtype))
    assert want_c.dtype == dtype
    bad = X.copy()
    bad[7, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kmeans_plusplus(bad, 5, random_state=3)

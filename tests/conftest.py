"""Shared test configuration: the hypothesis profiles and a data maker.

The "ci" profile is loaded unless ``HYPOTHESIS_PROFILE`` names another one
("dev" for a quick local run, "thorough" for a long hunt).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", deadline=None, max_examples=10)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def make_blobs(
    n_samples: int = 300,
    n_features: int = 3,
    n_centers: int = 4,
    spread: float = 0.5,
    seed: int = 0,
    dtype: type = np.float64,
) -> np.ndarray:
    """Well-separated Gaussian blobs (centres 10 apart on a grid), row ``i``
    in blob ``i % n_centers``."""
    rng = np.random.default_rng(seed)
    centres = 10.0 * rng.permutation(n_centers * n_features).reshape(
        n_centers, n_features
    )
    X = centres[np.arange(n_samples) % n_centers]
    X = X + spread * rng.standard_normal((n_samples, n_features))
    return X.astype(dtype)


# Library bugs that the reliability tests (issue 4) found and that are still
# open: whiten on huge, denormal, non-finite or rank-3 input; messages that
# blame the wrong argument when check_finite=False; float64 weights or centres
# beyond float32's range on float32 data; scipy-style parameters of the wrong
# type; the sparse kernel's rounding on extreme weights. Each is marked an
# expected failure (not strict: the fuzz tests draw their cases at random) and
# listed in the note; delete a line when its bug is fixed.
KNOWN_OPEN_BUGS = {
    "tests/test_reliability_errors.py::test_huge_values_are_refused_or_handled[f64-1e300-whiten]",
    "tests/test_reliability_errors.py::test_huge_values_are_refused_or_handled[f32-1e30-whiten]",
    "tests/test_reliability_errors.py::test_denormals_are_refused_or_handled[f64-1e-310-whiten]",
    "tests/test_reliability_errors.py::test_denormals_are_refused_or_handled[f32-1e-40-whiten]",
    "tests/test_reliability_errors.py::test_float64_weights_or_centres_that_overflow_float32_are_refused_clearly",
    "tests/test_reliability_errors.py::test_float32_data_on_float64_centres_beyond_float32_range",
    "tests/test_reliability_errors.py::test_whiten_without_check_finite_still_refuses_non_finite_input[nan]",
    "tests/test_reliability_errors.py::test_whiten_without_check_finite_still_refuses_non_finite_input[inf]",
    "tests/test_reliability_errors.py::test_whiten_without_check_finite_still_refuses_non_finite_input[-inf]",
    "tests/test_reliability_errors.py::test_kmeans2_without_check_finite_names_the_data[random-nan]",
    "tests/test_reliability_errors.py::test_kmeans2_without_check_finite_names_the_data[random-inf]",
    "tests/test_reliability_errors.py::test_kmeans2_without_check_finite_names_the_data[random--inf]",
    "tests/test_reliability_errors.py::test_kmeans2_without_check_finite_names_the_data[++-nan]",
    "tests/test_reliability_errors.py::test_kmeans2_without_check_finite_names_the_data[++-inf]",
    "tests/test_reliability_errors.py::test_kmeans2_without_check_finite_names_the_data[++--inf]",
    "tests/test_reliability_errors.py::test_vq_without_check_finite_names_the_code_book[nan]",
    "tests/test_reliability_errors.py::test_vq_without_check_finite_names_the_code_book[inf]",
    "tests/test_reliability_errors.py::test_vq_without_check_finite_names_the_code_book[-inf]",
    "tests/test_reliability_errors.py::test_a_scalar_is_not_a_data_set[kmeans]",
    "tests/test_reliability_errors.py::test_a_scalar_is_not_a_data_set[kmeans2]",
    "tests/test_reliability_errors.py::test_whiten_refuses_rank_3_like_the_other_functions",
    "tests/test_reliability_errors.py::test_whiten_of_an_empty_array_is_an_error_or_empty_without_warnings",
    "tests/test_reliability_errors.py::test_scipy_style_parameters_out_of_range_are_refused_by_name[kmeans2-iter]",
    "tests/test_reliability_errors.py::test_scipy_style_parameters_out_of_range_are_refused_by_name[kmeans2-k-inf]",
    "tests/test_reliability_errors.py::test_scipy_style_parameters_out_of_range_are_refused_by_name[kmeans2-k-nan]",
    "tests/test_reliability_errors.py::test_scipy_style_parameters_out_of_range_are_refused_by_name[kmeans-thresh-str]",
    "tests/test_reliability_errors.py::test_scipy_style_parameters_out_of_range_are_refused_by_name[kmeans-thresh-None]",
    "tests/test_reliability_fuzz.py::test_fuzz_kmeans_fit",
    "tests/test_reliability_fuzz.py::test_fuzz_whiten",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid in KNOWN_OPEN_BUGS:
            item.add_marker(
                pytest.mark.xfail(reason="open bug found by the reliability tests")
            )

"""Shared test configuration: the hypothesis profiles and a data maker.

The "ci" profile is loaded unless ``HYPOTHESIS_PROFILE`` names another one
("dev" for a quick local run, "thorough" for a long hunt).
"""

from __future__ import annotations

import os

import numpy as np
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

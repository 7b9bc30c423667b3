"""The 8-bit screen of the distance kernel changes no result.

From 16 features and 64 clusters, on CPUs with AVX-512 VNNI, the kernel
first estimates the comparisons with 8-bit integer dot products and computes
exactly only the centres that can be nearest. A user sees it only in the
time: fits, ``predict``, ``score`` and ``vq`` give the same bits as with the
screen turned off (``FERROKMEANS_SCREEN=off``, read once per process, hence
the subprocesses).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    from ferrokmeans import KMeans, vq

    rng = np.random.default_rng(7)
    centres = rng.uniform(-10, 10, size=(40, 64))
    X = centres[rng.integers(0, 40, 3000)] + rng.normal(0, 4, size=(3000, 64))
    X[::7] = np.round(X[::7])  # integer rows: exact ties among them
    digest = hashlib.sha256()
    for dtype in (np.float32, np.float64):
        Xt = X.astype(dtype)
        for algorithm in ("lloyd", "auto", "yinyang"):
            km = KMeans(150, random_state=0, n_init=1, algorithm=algorithm,
                        max_iter=30).fit(Xt)
            for a in (km.labels_, km.cluster_centers_, km.predict(Xt[:500]),
                      np.float64(km.inertia_), np.int64(km.n_iter_),
                      np.float64(km.score(Xt[:500]))):
                digest.update(np.ascontiguousarray(a).tobytes())
        codes, dists = vq(Xt, Xt[:200])
        digest.update(codes.tobytes())
        digest.update(dists.tobytes())
    print(digest.hexdigest())
    """
)


def _digest(screen: str) -> str:
    env = dict(os.environ, FERROKMEANS_SCREEN=screen)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_results_are_the_same_bits_with_and_without_the_screen():
    on, off = _digest("on"), _digest("off")
    assert len(on) == len(hashlib.sha256().hexdigest())
    assert on == off

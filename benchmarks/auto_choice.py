"""Hamerly's algorithm against Yinyang on a grid of shapes: the measurement
behind ``algorithm='auto'`` (``Algorithm::resolve`` in the Rust core).

Gaussian blobs (scikit-learn's ``make_blobs``, 50,000 rows, as many blobs
as clusters, two spreads), 16 to 256 features, 32 to 128 clusters, float32,
one thread; both algorithms fit from the same k-means++ centres to
convergence with default ``tol``, interleaved, medians of ``--repeats``.
Prints one line per shape with the ratio Hamerly / Yinyang (above 1:
Yinyang is faster). Both give identical results, so only time is compared.
Run by hand from an optimised build::

    python benchmarks/auto_choice.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import make_blobs

import ferrokmeans


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", type=int, default=50_000)
    a = ap.parse_args()
    ratios = []
    for d in (16, 32, 64, 256):
        for k in (32, 64, 128):
            for spread in (1.0, 5.0):
                X, _ = make_blobs(
                    a.rows,
                    d,
                    centers=k,
                    cluster_std=spread * np.sqrt(64 / d),
                    random_state=1,
                )
                X = X.astype(np.float32)
                init = ferrokmeans.kmeans_plusplus(X, k, random_state=0, n_threads=1)[0]
                times: dict[str, list[float]] = {"hamerly": [], "yinyang": []}
                for _ in range(a.repeats):
                    for algorithm, ts in times.items():
                        t = time.perf_counter()
                        km = ferrokmeans.KMeans(
                            k, init=init, n_init=1, algorithm=algorithm, n_threads=1
                        ).fit(X)
                        ts.append(time.perf_counter() - t)
                h, y = (float(np.median(times[n])) for n in ("hamerly", "yinyang"))
                ratios.append(h / y)
                print(
                    f"d={d} k={k} spread={spread} iterations={km.n_iter_}: "
                    f"hamerly {h * 1e3:.0f} ms, yinyang {y * 1e3:.0f} ms, "
                    f"hamerly/yinyang {h / y:.2f}",
                    flush=True,
                )
    r = np.array(ratios)
    print(
        f"hamerly/yinyang over {r.size} shapes: median {np.median(r):.2f}, "
        f"range {r.min():.2f}-{r.max():.2f}, below 1 in {int((r < 1).sum())}"
    )


if __name__ == "__main__":
    main()

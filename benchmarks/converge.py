"""Whole fits from the same initial centres to convergence, every exact
algorithm: ferrokmeans 'lloyd', 'hamerly' (= 'elkan') and 'yinyang' against
scikit-learn's 'lloyd' and 'elkan' (issue 3, target 2).

Each workload starts every contender from the same k-means++ centres
(scikit-learn's, seed 0, drawn on the first 20,000 rows), with default
``tol`` and ``max_iter``; contenders run interleaved, medians of
``--repeats``. Prints a markdown table: time, iterations, inertia, the
fraction of labels equal to ferrokmeans' Lloyd, and the speed-up over
scikit-learn's faster option. Run by hand from an optimised build::

    python benchmarks/converge.py --workloads W4,W5 --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench import load  # type: ignore[import-not-found]
from sklearn.cluster import KMeans as SKMeans
from sklearn.cluster import kmeans_plusplus
from threadpoolctl import threadpool_limits

import ferrokmeans

K = {"W1": 64, "W2": 10, "W3": 16, "W4": 256, "W5": 100, "W6": 1024}
CONTENDERS = (
    "ferrokmeans lloyd",
    "ferrokmeans hamerly",
    "ferrokmeans yinyang",
    "sklearn lloyd",
    "sklearn elkan",
)


def fit_once(name: str, X: np.ndarray, init: np.ndarray, threads: int):
    lib, algorithm = name.split()
    k = len(init)
    if lib == "ferrokmeans":
        km = ferrokmeans.KMeans(
            k, init=init, n_init=1, algorithm=algorithm, n_threads=threads
        )
    else:
        km = SKMeans(k, init=init, n_init=1, algorithm=algorithm)
    with threadpool_limits(threads):
        t = time.perf_counter()
        km.fit(X)
        return time.perf_counter() - t, km


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dtype", default="f32", choices=("f32", "f64"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--skip", default="", help="contenders to leave out, e.g. 'sklearn elkan'"
    )
    a = p.parse_args()
    print(f"threads={a.threads} dtype={a.dtype} repeats={a.repeats}\n")
    print(
        "| workload | contender | time | iterations | inertia | labels = fk lloyd | speed-up vs sklearn's faster |"
    )
    print("|---|---|---|---|---|---|---|")
    for wid in a.workloads.split(","):
        X = load(wid, a.dtype, False)
        k = K[wid]
        init, _ = kmeans_plusplus(X[:20_000], k, random_state=0)
        names = [c for c in CONTENDERS if c not in a.skip.split(",")]
        times: dict[str, list[float]] = {c: [] for c in names}
        fitted = {}
        for _ in range(a.repeats):
            for c in names:
                t, km = fit_once(c, X, init, a.threads)
                times[c].append(t)
                fitted[c] = km
        med = {c: float(np.median(v)) for c, v in times.items()}
        sk_best = min(
            (med[c] for c in names if c.startswith("sklearn")), default=np.nan
        )
        ref = fitted["ferrokmeans lloyd"].labels_
        for c in names:
            km = fitted[c]
            same = float(np.mean(km.labels_ == ref))
            print(
                f"| {wid} k={k} | {c} | {med[c] * 1e3:.0f} ms | {km.n_iter_} | "
                f"{km.inertia_:.6g} | {same:.4f} | {sk_best / med[c]:.2f}x |"
            )


if __name__ == "__main__":
    main()

"""Final inertia of default fits over many seeds: ferrokmeans against
scikit-learn (issue 3, target 4's quality condition).

``KMeans(n_clusters=k, random_state=s).fit(X)`` for seeds ``0 .. S-1`` with
each library's defaults (greedy k-means++ with the same number of local
trials, one initialisation). The two libraries draw different k-means++
centres from the same seed, so a single seed compares two random draws: the
final inertia of one draw spreads by 1-2 % on these workloads, and the mean
of five seeds by half of that. This script reports the mean over many seeds,
the difference of the means and its standard error (two independent samples),
so that a real difference in quality can be told from the spread of the
draws. Inertia is recomputed in float64 for both (``bench.inertia``). Run by
hand from an optimised build::

    python benchmarks/quality.py --workloads W1,W2 --seeds 40
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from bench import inertia, load  # type: ignore[import-not-found]
from sklearn.cluster import KMeans as SKMeans
from threadpoolctl import threadpool_limits

import ferrokmeans

#: Workload → number of clusters; W1 appears twice, as in the benchmark.
CASES = {
    "W1 k=16": ("W1", 16),
    "W1 k=64": ("W1", 64),
    "W2": ("W2", 10),
    "W3": ("W3", 16),
    "W4": ("W4", 256),
    "W5": ("W5", 100),
    "W6": ("W6", 1024),
}


def final_inertias(
    X: np.ndarray, k: int, seeds: int, threads: int
) -> dict[str, list[float]]:
    """Inertia of each library's default fit for every seed, interleaved."""
    out: dict[str, list[float]] = {"ferrokmeans": [], "sklearn": []}
    with threadpool_limits(threads):
        for s in range(seeds):
            fk = ferrokmeans.KMeans(k, random_state=s, n_threads=threads).fit(X)
            sk = SKMeans(k, random_state=s).fit(X)
            out["ferrokmeans"].append(inertia(X, fk.cluster_centers_))
            out["sklearn"].append(inertia(X, sk.cluster_centers_))
    return out


def summary(a: list[float], b: list[float]) -> tuple[float, float]:
    """Relative difference of the means of ``a`` and ``b`` (in %) and its
    standard error (in %), the samples taken as independent."""
    ma, mb = float(np.mean(a)), float(np.mean(b))
    se = math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))
    return 100.0 * (ma / mb - 1.0), 100.0 * se / mb


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default="W1 k=16,W1 k=64,W2,W3,W5")
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", default="f32", choices=("f32", "f64"))
    a = p.parse_args()
    if a.seeds < 2:
        p.error("--seeds must be at least 2 (a standard error needs two)")
    bad = [w for w in a.workloads.split(",") if w not in CASES]
    if bad:
        p.error(f"--workloads: unknown {bad}; choose among {', '.join(CASES)}")
    print(f"seeds 0..{a.seeds - 1}, threads={a.threads}, dtype={a.dtype}\n")
    print(
        "| workload | ferrokmeans mean inertia | scikit-learn mean inertia "
        "| difference of means | its standard error "
        "| first 5 seeds only | seconds |"
    )
    print("|---|---|---|---|---|---|---|")
    for case in a.workloads.split(","):
        wid, k = CASES[case]
        X = load(wid, a.dtype, False)
        t0 = time.perf_counter()
        r = final_inertias(X, k, a.seeds, a.threads)
        diff, se = summary(r["ferrokmeans"], r["sklearn"])
        diff5, _ = summary(r["ferrokmeans"][:5], r["sklearn"][:5])
        print(
            f"| {case} | {np.mean(r['ferrokmeans']):.6g} | {np.mean(r['sklearn']):.6g} "
            f"| {diff:+.2f} % | {se:.2f} % | {diff5:+.2f} % "
            f"| {time.perf_counter() - t0:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

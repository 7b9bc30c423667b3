"""ferrokmeans against its peers: scikit-learn, oneDAL, faiss and scipy.

Runs the workloads W1-W6 against every peer that is installed, in float32 and
float64, with 1 and 2 threads, and writes ``results/<name>.md`` (markdown
tables with the machine, versions, date and load) and ``results/<name>.png``
(speed-up of ferrokmeans over each peer), plus ``results/<name>.json`` with
every single timing. Run by hand from an optimised build, never in CI::

    pip install "ferrokmeans[bench]"      # or: maturin develop --release
    pip install scikit-learn-intelex      # oneDAL, where it installs
    python benchmarks/bench.py --quick    # everything, subsampled: < 2 minutes
    python benchmarks/bench.py            # everything, full size: hours; see README
    python benchmarks/bench.py --what lloyd,fit --threads 1 --dtypes f32

Measurements (``--what``):

lloyd
    Time of one Lloyd iteration from identical initial centres (scikit-learn's
    k-means++ with seed 0, in the dtype of X): each library runs ``m1`` and
    then ``m2`` iterations with ``tol=0``, and the time per iteration is the
    difference of the two wall times over the difference of the iteration
    counts, which cancels the fixed cost of a call (validation, copies, the
    final assignment). The labels after ``m2`` iterations are compared with
    scikit-learn's Lloyd from the same centres. ``bound`` is the physical
    lower bound of a brute-force iteration on this machine:
    max(2nkd / GEMM FLOP/s, nd * itemsize / read bandwidth), both measured at
    start-up with numpy.
fit
    A whole fit with each library's defaults, ``KMeans(n_clusters=k,
    random_state=seed).fit(X)`` (faiss: ``faiss.Kmeans(d, k, seed=seed)``,
    which subsamples 256 k rows and runs 25 iterations). One seed per repeat;
    median time and iterations, and the mean over seeds of the inertia of the
    returned centres (recomputed in float64 for every library alike) relative
    to the best library.
init
    k-means++ alone: ``ferrokmeans.kmeans_plusplus`` against
    ``sklearn.cluster.kmeans_plusplus``; median time and mean potential (the
    inertia of the chosen centres) over seeds.
vq
    One assignment pass, ``ferrokmeans.vq`` against ``scipy.cluster.vq.vq``, on
    the W1, W3 and W6 codebooks (k-means++ centres); time and identical codes.
memory
    Peak resident memory above X during a fit, each fit in a fresh subprocess
    (the high-water mark is reset after X is loaded and a small warm-up fit),
    as a multiple of ``X.nbytes``.

Contenders run interleaved (A, B, C, A, B, C, ...) after one warm-up round;
tables give medians and ratios peer / ferrokmeans (above 1: ferrokmeans is
faster). Threads: ``n_threads`` for ferrokmeans (``FERROKMEANS_NUM_THREADS``
for ``vq``), ``threadpoolctl.threadpool_limits`` for scikit-learn and scipy,
``faiss.omp_set_num_threads`` and ``daal4py.daalinit`` for faiss and oneDAL.

The machine is often shared: the load average is recorded with every case.
Some machines set OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE, which slow numpy's
and scipy's BLAS; the script warns when they are set but does not unset them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import importlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus
from threadpoolctl import threadpool_info, threadpool_limits

import ferrokmeans


@cache
def peer(module: str) -> Any:
    """A peer's module, imported on first use, or None if it does not import
    (not installed, or a binary wheel that does not load here)."""
    try:
        return importlib.import_module(module)
    except Exception:
        return None


def have(module: str) -> bool:
    return peer(module) is not None


HERE = Path(__file__).resolve().parent
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
DTYPES = {"f32": np.float32, "f64": np.float64}
WHATS = ("lloyd", "fit", "init", "vq", "memory")

# ----------------------------------------------------------------- workloads


@dataclass(frozen=True)
class Workload:
    wid: str
    ks: tuple[int, ...]
    describe: str
    quick_rows: int  # rows kept in --quick mode (a seeded random subset)
    iters: tuple[int, int]  # (m1, m2) of the per-iteration difference
    quick_iters: tuple[int, int]


# m2 stays below the iteration at which the data converges from these centres
# (digits: 19), or the difference would measure nothing.
WORKLOADS = {
    w.wid: w
    for w in (
        Workload("W1", (16, 64), "china.jpg pixels, 273,280 x 3, in [0, 1]",
                 60_000, (2, 12), (1, 6)),
        Workload("W2", (10,), "digits, 1,797 x 64", 1_797, (2, 17), (2, 17)),
        Workload("W3", (16,), "1,000,000 x 2, 16 Gaussian blobs",
                 150_000, (2, 12), (1, 6)),
        Workload("W4", (256,), "200,000 x 32, uniform", 15_000, (1, 5), (1, 3)),
        Workload("W5", (100,), "100,000 x 256, 100 Gaussian blobs (std 10)",
                 8_000, (1, 5), (1, 3)),
        Workload("W6", (1024,), "100,000 x 64, 256 Gaussian blobs (std 5)",
                 10_000, (1, 5), (1, 3)),
    )
}  # fmt: skip
# --quick measures memory on these only (a subprocess per fit costs seconds).
QUICK_MEMORY = ("W4",)
VQ_CASES = (("W1", 16), ("W1", 64), ("W3", 16), ("W6", 1024))


@cache
def _base_data(wid: str) -> np.ndarray:
    """The full workload in float64, C-contiguous; the same bits on every run."""
    from sklearn.datasets import load_digits, load_sample_image, make_blobs

    if wid == "W1":
        rgb = np.asarray(load_sample_image("china.jpg"))
        return rgb.reshape(-1, 3).astype(np.float64) / 255.0
    if wid == "W2":
        return np.ascontiguousarray(load_digits().data, dtype=np.float64)
    if wid == "W3":
        return make_blobs(1_000_000, 2, centers=16, random_state=3)[0]
    if wid == "W4":
        return np.random.default_rng(4).random((200_000, 32))
    if wid == "W5":
        X, _ = make_blobs(100_000, 256, centers=100, cluster_std=10.0, random_state=5)
        return X
    if wid == "W6":
        X, _ = make_blobs(100_000, 64, centers=256, cluster_std=5.0, random_state=6)
        return X
    raise ValueError(f"unknown workload {wid!r}")


@cache
def load(wid: str, dtype: str, quick: bool) -> np.ndarray:
    X = _base_data(wid)
    n = WORKLOADS[wid].quick_rows if quick else X.shape[0]
    if n < X.shape[0]:
        rows = np.sort(np.random.default_rng(0).choice(X.shape[0], n, replace=False))
        X = X[rows]
    return np.ascontiguousarray(X, dtype=DTYPES[dtype])


@cache
def init_centres(wid: str, dtype: str, quick: bool, k: int) -> np.ndarray:
    """scikit-learn's k-means++ centres with seed 0: the shared starting point."""
    X = load(wid, dtype, quick)
    with threadpool_limits(limits=os.cpu_count()):
        return sk_kmeans_plusplus(X, k, random_state=0)[0].astype(X.dtype)


def inertia(X: np.ndarray, C: np.ndarray) -> float:
    """Sum of squared distances to the nearest centre, in float64 for everyone."""
    mean = X.mean(axis=0, dtype=np.float64)
    Cc = np.asarray(C, dtype=np.float64) - mean
    cc = np.einsum("ij,ij->i", Cc, Cc)
    total = 0.0
    step = max(1, 2**22 // max(1, C.shape[0]))
    for start in range(0, X.shape[0], step):
        x = X[start : start + step].astype(np.float64) - mean
        d2 = np.einsum("ij,ij->i", x, x)[:, None] - 2.0 * (x @ Cc.T) + cc[None, :]
        total += float(np.maximum(d2.min(axis=1), 0.0).sum())
    return total


# ------------------------------------------------------------------- threads


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Limit every library to ``n`` threads (ferrokmeans takes n_threads)."""
    old_env = os.environ.get("FERROKMEANS_NUM_THREADS")
    os.environ["FERROKMEANS_NUM_THREADS"] = str(n)
    # Only the peers already imported: a memory child must not load the others.
    faiss, daal4py = sys.modules.get("faiss"), sys.modules.get("daal4py")
    if faiss is not None:
        faiss.omp_set_num_threads(n)
    if daal4py is not None:
        daal4py.daalinit(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        if old_env is None:
            os.environ.pop("FERROKMEANS_NUM_THREADS", None)
        else:
            os.environ["FERROKMEANS_NUM_THREADS"] = old_env
        ncpu = os.cpu_count() or 1
        if faiss is not None:
            faiss.omp_set_num_threads(ncpu)
        if daal4py is not None:
            daal4py.daalinit(ncpu)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


# ------------------------------------------------------------ machine limits


def gemm_gflops(dtype: str, n_threads: int, size: int) -> float:
    rng = np.random.default_rng(0)
    a = rng.random((size, size)).astype(DTYPES[dtype])
    b = rng.random((size, size)).astype(DTYPES[dtype])
    best = math.inf
    with threadpool_limits(limits=n_threads, user_api="blas"):
        a @ b
        for _ in range(3):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    return 2.0 * size**3 / best / 1e9


def bandwidth_gbs(n_threads: int, nbytes: int) -> tuple[float, float]:
    """(read, copy) GB/s: np.sum and np.copyto over a large array, split in
    ``n_threads`` slices run by as many threads (numpy releases the GIL)."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    parts = np.array_split(np.arange(a.size), n_threads)
    slices = [slice(int(p[0]), int(p[-1]) + 1) for p in parts]

    def read(s: slice) -> float:
        return float(a[s].sum())

    def copy(s: slice) -> None:
        np.copyto(b[s], a[s])

    best = {"read": math.inf, "copy": math.inf}
    with ThreadPoolExecutor(n_threads) as pool:
        for _ in range(5):
            for name, fn in (("read", read), ("copy", copy)):
                t0 = time.perf_counter()
                list(pool.map(fn, slices))
                best[name] = min(best[name], time.perf_counter() - t0)
    # A copy reads and writes every byte.
    return a.nbytes / best["read"] / 1e9, 2 * a.nbytes / best["copy"] / 1e9


def machine_limits(thread_counts: Sequence[int], quick: bool) -> dict[str, Any]:
    out = {}
    for t in thread_counts:
        size = 1536 if quick else 2048
        read, copy = bandwidth_gbs(t, (256 if quick else 512) << 20)
        out[str(t)] = {
            "sgemm": gemm_gflops("f32", t, size),
            "dgemm": gemm_gflops("f64", t, size),
            "read": read,
            "copy": copy,
        }
        print(f"limits, {t} thread(s): {out[str(t)]}", file=sys.stderr, flush=True)
    return out


def lloyd_bound(n: int, d: int, k: int, dtype: str, lim: dict[str, float]) -> float:
    itemsize = np.dtype(DTYPES[dtype]).itemsize
    flops = lim["sgemm" if dtype == "f32" else "dgemm"] * 1e9
    return max(2.0 * n * k * d / flops, n * d * itemsize / (lim["read"] * 1e9))


# ------------------------------------------------------------- contenders
# Each Lloyd runner takes the iteration count m, fits, and returns
# (iterations run, a function giving the labels of the final centres): the
# labels are computed after the clock stops.

LabelsFn = Callable[[], np.ndarray]
LloydRunner = Callable[[int], tuple[int, LabelsFn]]


def lloyd_runners(X: np.ndarray, C0: np.ndarray, t: int) -> dict[str, LloydRunner]:
    k = C0.shape[0]
    runners: dict[str, LloydRunner] = {}

    def est(cls: Any, **kw: Any) -> LloydRunner:
        def run(m: int) -> tuple[int, LabelsFn]:
            km = cls(n_clusters=k, init=C0, n_init=1, tol=0.0, max_iter=m, **kw).fit(X)
            return int(km.n_iter_), lambda: np.asarray(km.labels_)

        return run

    runners["ferrokmeans"] = est(ferrokmeans.KMeans, algorithm="lloyd", n_threads=t)
    runners["sklearn lloyd"] = est(SkKMeans, algorithm="lloyd")
    runners["sklearn elkan"] = est(SkKMeans, algorithm="elkan")
    if have("sklearnex.cluster"):
        runners["oneDAL"] = est(peer("sklearnex.cluster").KMeans, algorithm="lloyd")
    if have("faiss") and X.dtype == np.float32:
        faiss = peer("faiss")

        def run_faiss(m: int) -> tuple[int, LabelsFn]:
            km = faiss.Kmeans(
                X.shape[1],
                k,
                niter=m,
                seed=0,
                max_points_per_centroid=X.shape[0] + 1,  # no subsampling
                min_points_per_centroid=1,
                verbose=False,
            )
            km.train(X, init_centroids=C0)
            return m, lambda: km.index.search(X, 1)[1].ravel()

        runners["faiss"] = run_faiss
    if have("scipy.cluster.vq"):
        scipy_vq = peer("scipy.cluster.vq")

        def run_scipy(m: int) -> tuple[int, LabelsFn]:
            # kmeans2's labels precede its last update; relabel with its own vq.
            book, _ = scipy_vq.kmeans2(X, C0.copy(), iter=m, minit="matrix")
            return m, lambda: scipy_vq.vq(X, book)[0]

        runners["scipy kmeans2"] = run_scipy
    return runners


FitRunner = Callable[[int], tuple[np.ndarray, int]]


def fit_runners(X: np.ndarray, k: int, t: int) -> dict[str, FitRunner]:
    """Whole fits with each library's defaults: seed -> (centres, iterations)."""

    def est(cls: Any, **kw: Any) -> FitRunner:
        def run(seed: int) -> tuple[np.ndarray, int]:
            km = cls(n_clusters=k, random_state=seed, **kw).fit(X)
            return np.asarray(km.cluster_centers_), int(km.n_iter_)

        return run

    runners = {
        "ferrokmeans": est(ferrokmeans.KMeans, n_threads=t),
        "sklearn": est(SkKMeans),
    }
    if have("sklearnex.cluster"):
        runners["oneDAL"] = est(peer("sklearnex.cluster").KMeans)
    if have("faiss") and X.dtype == np.float32:
        faiss = peer("faiss")

        def run_faiss(seed: int) -> tuple[np.ndarray, int]:
            km = faiss.Kmeans(X.shape[1], k, seed=seed, verbose=False)
            km.train(X)
            return km.centroids, int(km.cp.niter)

        runners["faiss"] = run_faiss
    return runners


# -------------------------------------------------------------- measuring


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def cases(
    workloads: Sequence[str], dtypes: Sequence[str], thread_counts: Sequence[int]
) -> Iterator[tuple[str, int, str, int]]:
    for wid in workloads:
        for k in WORKLOADS[wid].ks:
            for dtype in dtypes:
                for t in thread_counts:
                    yield wid, k, dtype, t


def case_name(wid: str, k: int) -> str:
    return f"{wid} k={k}" if len(WORKLOADS[wid].ks) > 1 else wid


_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


def measure_lloyd(args: argparse.Namespace, limits: dict[str, Any]) -> list[dict]:
    rows = []
    for wid, k, dtype, t in cases(args.workloads, args.dtypes, args.threads):
        X = load(wid, dtype, args.quick)
        C0 = init_centres(wid, dtype, args.quick, k)
        w = WORKLOADS[wid]
        m1, m2 = w.quick_iters if args.quick else w.iters
        row: dict[str, Any] = {
            "case": case_name(wid, k),
            "wid": wid,
            "k": k,
            "n": X.shape[0],
            "d": X.shape[1],
            "dtype": dtype,
            "threads": t,
            "iters": [m1, m2],
            "bound": lloyd_bound(*X.shape, k, dtype, limits[str(t)]),
            "load": load1(),
            "per_iter": {},
            "samples": {},
            "n_iter": {},
            "labels_same": {},
        }
        log(f"lloyd {row['case']} {dtype} {t}t  n={X.shape[0]} m={m1},{m2}")
        with threads(t), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runners = lloyd_runners(X, C0, t)
            for run in runners.values():  # warm-up round
                run(1)
            samples: dict[str, list[float]] = {name: [] for name in runners}
            raw: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
            labels: dict[str, np.ndarray] = {}
            n_iters: dict[str, tuple[int, int]] = {}
            for _ in range(args.repeats):
                for name, run in runners.items():
                    t1, (n1, _) = timed(run, m1)
                    t2, (n2, lab) = timed(run, m2)
                    samples[name].append((t2 - t1) / max(n2 - n1, 1))
                    raw[name].append((t1, t2))
                    n_iters[name] = (n1, n2)
                    labels[name] = lab
            ref = labels["sklearn lloyd"]()
            for name in runners:
                row["per_iter"][name] = statistics.median(samples[name])
                row["samples"][name] = samples[name]
                row.setdefault("raw_seconds", {})[name] = raw[name]
                row["n_iter"][name] = n_iters[name]
                lab = ref if name == "sklearn lloyd" else labels[name]()
                row["labels_same"][name] = float(np.mean(np.asarray(lab) == ref))
        row["load_end"] = load1()
        rows.append(row)
        log("  " + _fmt_times(row["per_iter"]))
    return rows


def measure_fit(args: argparse.Namespace) -> list[dict]:
    rows = []
    for wid, k, dtype, t in cases(args.workloads, args.dtypes, args.threads):
        X = load(wid, dtype, args.quick)
        row: dict[str, Any] = {
            "case": case_name(wid, k),
            "wid": wid,
            "k": k,
            "n": X.shape[0],
            "dtype": dtype,
            "threads": t,
            "load": load1(),
            "samples": {},
            "n_iter": {},
            "inertia": {},
        }
        log(f"fit {row['case']} {dtype} {t}t  n={X.shape[0]}")
        with threads(t), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            small = X[: min(X.shape[0], max(2_000, 4 * k))]
            for run in fit_runners(small, k, t).values():  # warm-up on a subset
                run(0)
            runners = fit_runners(X, k, t)
            secs: dict[str, list[float]] = {name: [] for name in runners}
            iters: dict[str, list[int]] = {name: [] for name in runners}
            inert: dict[str, list[float]] = {name: [] for name in runners}
            for seed in range(args.repeats):
                for name, run in runners.items():
                    s, (centres, n_iter) = timed(run, seed)
                    secs[name].append(s)
                    iters[name].append(n_iter)
                    inert[name].append(inertia(X, centres))
        row["samples"] = secs
        row["n_iter"] = iters
        row["inertia"] = {name: statistics.fmean(v) for name, v in inert.items()}
        row["load_end"] = load1()
        rows.append(row)
        log("  " + _fmt_times({n: statistics.median(v) for n, v in secs.items()}))
    return rows


def measure_init(args: argparse.Namespace) -> list[dict]:
    rows = []
    for wid, k, dtype, t in cases(args.workloads, args.dtypes, args.threads):
        X = load(wid, dtype, args.quick)
        log(f"init {case_name(wid, k)} {dtype} {t}t  n={X.shape[0]}")
        runners: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
            "ferrokmeans": lambda A, s, k=k, t=t: ferrokmeans.kmeans_plusplus(
                A, k, random_state=s, n_threads=t
            )[0],
            "sklearn": lambda A, s, k=k: sk_kmeans_plusplus(A, k, random_state=s)[0],
        }
        row: dict[str, Any] = {
            "case": case_name(wid, k),
            "wid": wid,
            "k": k,
            "n": X.shape[0],
            "dtype": dtype,
            "threads": t,
            "load": load1(),
        }
        secs: dict[str, list[float]] = {name: [] for name in runners}
        pot: dict[str, list[float]] = {name: [] for name in runners}
        with threads(t):
            small = X[: min(X.shape[0], max(2_000, 4 * k))]
            for run in runners.values():  # warm-up on a subset
                run(small, 0)
            for seed in range(args.repeats):
                for name, run in runners.items():
                    s, centres = timed(run, X, seed)
                    secs[name].append(s)
                    pot[name].append(inertia(X, centres))
        row["samples"] = secs
        row["potential"] = {name: statistics.fmean(v) for name, v in pot.items()}
        row["load_end"] = load1()
        rows.append(row)
        log("  " + _fmt_times({n: statistics.median(v) for n, v in secs.items()}))
    return rows


def measure_vq(args: argparse.Namespace) -> list[dict]:
    rows: list[dict] = []
    scipy_vq = peer("scipy.cluster.vq")
    if scipy_vq is None:
        log("vq: scipy is not installed, skipped")
        return rows
    chosen = [(w, k) for w, k in VQ_CASES if w in args.workloads]
    for wid, k in chosen:
        for dtype in args.dtypes:
            for t in args.threads:
                X = load(wid, dtype, args.quick)
                C = init_centres(wid, dtype, args.quick, k)
                log(f"vq {case_name(wid, k)} {dtype} {t}t  n={X.shape[0]}")
                runners = {
                    "ferrokmeans": lambda X=X, C=C: ferrokmeans.vq(X, C)[0],
                    "scipy": lambda X=X, C=C: scipy_vq.vq(X, C)[0],
                }
                secs: dict[str, list[float]] = {name: [] for name in runners}
                codes = {}
                with threads(t):
                    for run in runners.values():
                        run()
                    for _ in range(args.repeats):
                        for name, run in runners.items():
                            s, codes[name] = timed(run)
                            secs[name].append(s)
                rows.append(
                    {
                        "case": case_name(wid, k),
                        "wid": wid,
                        "k": k,
                        "n": X.shape[0],
                        "dtype": dtype,
                        "threads": t,
                        "load": load1(),
                        "samples": secs,
                        "codes_same": float(
                            np.mean(codes["ferrokmeans"] == codes["scipy"])
                        ),
                    }
                )
                log(
                    "  "
                    + _fmt_times({n: statistics.median(v) for n, v in secs.items()})
                )
    return rows


# ------------------------------------------------------------- peak memory

MEMORY_CONTENDERS = (
    "ferrokmeans",
    "sklearn lloyd",
    "sklearn elkan",
    "oneDAL",
    "faiss",
    "scipy kmeans2",
)
MEMORY_ITERS = 10


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _memory_fit(name: str, X: np.ndarray, k: int, t: int, C0: Any) -> None:
    """One fit as in `fit` (defaults, fewer iterations), or from C0 for scipy."""
    if name == "ferrokmeans":
        ferrokmeans.KMeans(k, random_state=0, max_iter=MEMORY_ITERS, n_threads=t).fit(X)
    elif name in ("sklearn lloyd", "sklearn elkan"):
        algo = name.split()[1]
        SkKMeans(k, random_state=0, max_iter=MEMORY_ITERS, algorithm=algo).fit(X)
    elif name == "oneDAL":
        peer("sklearnex.cluster").KMeans(k, random_state=0, max_iter=MEMORY_ITERS).fit(
            X
        )
    elif name == "faiss":
        peer("faiss").Kmeans(
            X.shape[1], k, niter=MEMORY_ITERS, seed=0, verbose=False
        ).train(X)
    elif name == "scipy kmeans2":
        peer("scipy.cluster.vq").kmeans2(
            X, C0.copy(), iter=MEMORY_ITERS, minit="matrix"
        )
    else:
        raise ValueError(name)


def memory_child(spec: str) -> None:
    """Runs in a subprocess: prints the peak RSS above the baseline, in bytes."""
    wid, k_s, dtype, name, t_s, quick_s = spec.split(":")
    k, t, quick = int(k_s), int(t_s), quick_s == "1"
    X = load(wid, dtype, quick)
    # Only scipy starts from given centres (k-means++ on W6 takes seconds).
    C0 = init_centres(wid, dtype, quick, k) if name == "scipy kmeans2" else None
    _base_data.cache_clear()
    module = {"oneDAL": "sklearnex.cluster", "faiss": "faiss"}.get(name)
    if module is not None:
        peer(module)  # imported before the thread limits are set
    with threads(t), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = np.ascontiguousarray(X[: min(X.shape[0], max(2_000, 4 * k))])
        _memory_fit(name, small, k, t, C0)  # loads code, starts thread pools
        del small
        gc.collect()
        exact = True
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")  # resets VmHWM to the current RSS
        except OSError:
            exact = False
        base = _status_kib("VmRSS")
        _memory_fit(name, X, k, t, C0)
        peak = _status_kib("VmHWM")
    print(json.dumps({"above": (peak - base) * 1024, "exact": exact}))


def measure_memory(args: argparse.Namespace) -> list[dict]:
    rows = []
    available = {
        "oneDAL": have("sklearnex.cluster"),
        "faiss": have("faiss"),
        "scipy kmeans2": have("scipy.cluster.vq"),
    }
    t = max(args.threads)
    chosen = args.workloads
    if args.quick and not args.workloads_given:
        chosen = [w for w in chosen if w in QUICK_MEMORY]
    for wid, k, dtype, _ in cases(chosen, args.dtypes, [t]):
        X = load(wid, dtype, args.quick)
        row: dict[str, Any] = {
            "case": case_name(wid, k),
            "wid": wid,
            "k": k,
            "n": X.shape[0],
            "dtype": dtype,
            "threads": t,
            "x_bytes": X.nbytes,
            "above": {},
        }
        log(f"memory {row['case']} {dtype} {t}t  n={X.shape[0]}")
        for name in MEMORY_CONTENDERS:
            if not available.get(name, True) or (name == "faiss" and dtype != "f32"):
                continue
            spec = f"{wid}:{k}:{dtype}:{name}:{t}:{int(args.quick)}"
            proc = subprocess.run(
                [sys.executable, __file__, "--memory-child", spec],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                log(f"  {name}: failed\n{proc.stderr[-2000:]}")
                continue
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            row["above"][name] = out["above"]
            row["exact"] = out["exact"]
        rows.append(row)
        log(
            "  "
            + ", ".join(f"{n} {v / X.nbytes:.2f}x" for n, v in row["above"].items())
        )
    return rows


# -------------------------------------------------------------- reporting


def fmt_time(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    if s <= 0:
        return "~0"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def _fmt_times(d: dict[str, float]) -> str:
    return ", ".join(f"{n} {fmt_time(v)}" for n, v in d.items())


def fmt_ratio(peer: float, ours: float) -> str:
    if ours <= 0 or peer <= 0:
        return "?"
    return f"{peer / ours:.2f}x"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mem_total_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in (
        "ferrokmeans",
        "numpy",
        "scipy",
        "scikit-learn",
        "scikit-learn-intelex",
        "faiss-cpu",
        "threadpoolctl",
        "matplotlib",
    ):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def source_revision() -> str:
    """The git commit ferrokmeans was built from, when run from a clone."""
    root = HERE.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "rust"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not a git clone"
    return head + (" with uncommitted Rust changes" if dirty else "")


def blas_info() -> str:
    return "; ".join(
        f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}) "
        f"from {Path(p.get('filepath', '')).name}"
        for p in threadpool_info()
        if p.get("user_api") == "blas"
    )


def header(res: dict[str, Any]) -> list[str]:
    m = res["machine"]
    v = res["versions"]
    lines = [
        f"# ferrokmeans benchmark: {res['name']}",
        "",
        f"- date: {res['date']}; command: `{res['command']}`",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']:.0f} GiB RAM, "
        f"{m['os']}",
        f"- ferrokmeans: SIMD {m.get('simd', '?')}, imported from "
        f"`{m.get('module', '?')}`, repository at {m.get('revision', '?')}",
        f"- load average (1 min) at start {m['load_start']}, at end {m['load_end']}"
        " (each case below also gives the load when it started; the machine may be"
        " shared)",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- BLAS: {m['blas']}",
        f"- mode: {'quick (subsampled rows)' if res['quick'] else 'full'}; "
        f"{res['repeats']} repeats, interleaved, medians; ratios are "
        "peer / ferrokmeans (above 1: ferrokmeans is faster)",
    ]
    if m.get("openblas_env"):
        lines.append(
            f"- **WARNING**: {m['openblas_env']} set in the environment; it slows "
            "numpy's and scipy's BLAS (scikit-learn, scipy)"
        )
    if res.get("skipped"):
        lines.append("- not installed, skipped: " + ", ".join(res["skipped"]))
    return lines


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _peers(rows: Sequence[dict], key: str, order: Sequence[str]) -> list[str]:
    seen = {name for r in rows for name in r[key]}
    return [n for n in order if n in seen and n != "ferrokmeans"]


def noisy(row: dict[str, Any], name: str) -> str:
    """A dagger for a per-iteration figure that the repeats do not support."""
    samples = row["samples"][name]
    med = statistics.median(samples)
    if len(samples) >= 2:
        q1, _, q3 = statistics.quantiles(samples, n=4)
        if med <= 0 or (q3 - q1) > 0.5 * med:
            return "†"
    # Elkan skips distances, so only it may beat the brute-force bound.
    if name != "sklearn elkan" and med < 0.9 * row["bound"]:
        return "†"
    return ""


def render_md(res: dict[str, Any]) -> str:
    lines = header(res)
    if res.get("limits"):
        lines += ["", "## The machine's limits (numpy matmul, array sum and copy)", ""]
        lines += _table(
            ["threads", "sgemm GFLOP/s", "dgemm GFLOP/s", "read GB/s", "copy GB/s"],
            [
                [
                    t,
                    f"{v['sgemm']:.0f}",
                    f"{v['dgemm']:.0f}",
                    f"{v['read']:.1f}",
                    f"{v['copy']:.1f}",
                ]
                for t, v in res["limits"].items()
            ],
        )
    order = [
        "ferrokmeans",
        "sklearn lloyd",
        "sklearn elkan",
        "oneDAL",
        "faiss",
        "scipy kmeans2",
    ]
    if res.get("lloyd"):
        rows = res["lloyd"]
        peers = _peers(rows, "per_iter", order)
        lines += [
            "",
            "## (a) One Lloyd iteration from identical initial centres",
            "",
            "Median over repeats of (time of m2 iterations - time of m1) / (m2 - m1), "
            "from scikit-learn's k-means++ centres (seed 0), tol=0; faiss without "
            "subsampling; `bound` = max(2nkd / GEMM peak, n*d*itemsize / read "
            "bandwidth). In brackets: peer / ferrokmeans. A dagger marks a "
            "figure not to be read: its repeats spread by more than half the "
            "median (interquartile range), or a brute-force method came out "
            "below the bound, which only noise in the fixed cost of a call "
            "can do.",
            "",
        ]
        body = []
        for r in rows:
            ours = r["per_iter"]["ferrokmeans"]
            mark = {n: noisy(r, n) for n in r["per_iter"]}
            cells = [
                r["case"],
                r["dtype"],
                str(r["threads"]),
                f"{r['n']:,}",
                "{}..{}".format(*r["iters"]),
                fmt_time(r["bound"]),
                f"**{fmt_time(ours)}**{mark['ferrokmeans']} "
                f"({ours / r['bound']:.1f}x bound)",
            ]
            for p in peers:
                v = r["per_iter"].get(p)
                cells.append(
                    "-"
                    if v is None
                    else f"{fmt_time(v)}{mark[p]} ({fmt_ratio(v, ours)})"
                )
            cells.append(str(r["load"]))
            body.append(cells)
        lines += _table(
            [
                "workload",
                "dtype",
                "threads",
                "n",
                "m1..m2",
                "bound",
                "ferrokmeans",
                *peers,
                "load",
            ],
            body,
        )
        lines += [
            "",
            "Labels after m2 iterations identical to scikit-learn Lloyd's from the "
            "same centres (faiss and scipy: the labels of their final centres by "
            "their own search / vq); iterations run (m1, m2) where a library "
            "stopped early:",
            "",
        ]
        lab_peers = [
            p
            for p in order
            if p != "sklearn lloyd" and any(p in r["labels_same"] for r in rows)
        ]
        body = []
        for r in rows:
            cells = [r["case"], r["dtype"], str(r["threads"])]
            for p in lab_peers:
                same = r["labels_same"].get(p)
                cell = "-" if same is None else f"{100 * same:.3f}%"
                n_it = r["n_iter"].get(p)
                if n_it is not None and tuple(n_it) != tuple(r["iters"]):
                    cell += f" (it {n_it[0]}, {n_it[1]})"
                cells.append(cell)
            n_ref = r["n_iter"]["sklearn lloyd"]
            cells.append(
                ""
                if tuple(n_ref) == tuple(r["iters"])
                else f"sklearn lloyd it {n_ref[0]}, {n_ref[1]}"
            )
            body.append(cells)
        lines += _table(["workload", "dtype", "threads", *lab_peers, "note"], body)
    if res.get("fit"):
        rows = res["fit"]
        peers = _peers(rows, "samples", ["sklearn", "oneDAL", "faiss"])
        lines += [
            "",
            "## (b) A whole fit with each library's defaults",
            "",
            "`KMeans(n_clusters=k, random_state=seed).fit(X)`, one seed per repeat "
            "(faiss: `faiss.Kmeans(d, k, seed=seed)`, 25 iterations on a subsample "
            "of 256 k rows). Cells: median time / median iterations / mean inertia "
            "(recomputed in float64) above the best library's, and in brackets "
            "peer / ferrokmeans time.",
            "",
        ]
        body = []
        for r in rows:
            best = min(r["inertia"].values())
            ours = statistics.median(r["samples"]["ferrokmeans"])

            def cell(
                name: str, r: dict = r, best: float = best, ours: float = ours
            ) -> str:
                if name not in r["samples"]:
                    return "-"
                s = statistics.median(r["samples"][name])
                it = statistics.median(r["n_iter"][name])
                rel = 100 * (r["inertia"][name] / best - 1)
                text = f"{fmt_time(s)} / {it:g} / +{rel:.2f}%"
                return (
                    text if name == "ferrokmeans" else f"{text} ({fmt_ratio(s, ours)})"
                )

            body.append(
                [r["case"], r["dtype"], str(r["threads"]), f"{r['n']:,}"]
                + [f"**{cell('ferrokmeans')}**"]
                + [cell(p) for p in peers]
                + [str(r["load"])]
            )
        lines += _table(
            ["workload", "dtype", "threads", "n", "ferrokmeans", *peers, "load"], body
        )
    if res.get("init"):
        lines += [
            "",
            "## (c) k-means++ initialisation alone",
            "",
            "`ferrokmeans.kmeans_plusplus` and `sklearn.cluster.kmeans_plusplus`, one "
            "seed per repeat: median time, and mean potential (inertia of the "
            "centres) relative to scikit-learn's.",
            "",
        ]
        body = []
        for r in res["init"]:
            ours = statistics.median(r["samples"]["ferrokmeans"])
            theirs = statistics.median(r["samples"]["sklearn"])
            rel = r["potential"]["ferrokmeans"] / r["potential"]["sklearn"] - 1
            body.append(
                [
                    r["case"],
                    r["dtype"],
                    str(r["threads"]),
                    f"{r['n']:,}",
                    f"**{fmt_time(ours)}**",
                    fmt_time(theirs),
                    fmt_ratio(theirs, ours),
                    f"{100 * rel:+.2f}%",
                    str(r["load"]),
                ]
            )
        lines += _table(
            [
                "workload",
                "dtype",
                "threads",
                "n",
                "ferrokmeans",
                "sklearn",
                "sklearn / ferrokmeans",
                "potential vs sklearn",
                "load",
            ],
            body,
        )
    if res.get("vq"):
        lines += [
            "",
            "## (d) vq: one assignment pass",
            "",
            "`ferrokmeans.vq` and `scipy.cluster.vq.vq` (single-threaded) on "
            "k-means++ codebooks; median time and identical codes.",
            "",
        ]
        body = []
        for r in res["vq"]:
            ours = statistics.median(r["samples"]["ferrokmeans"])
            theirs = statistics.median(r["samples"]["scipy"])
            body.append(
                [
                    r["case"],
                    r["dtype"],
                    str(r["threads"]),
                    f"{r['n']:,}",
                    f"**{fmt_time(ours)}**",
                    fmt_time(theirs),
                    fmt_ratio(theirs, ours),
                    f"{100 * r['codes_same']:.3f}%",
                    str(r["load"]),
                ]
            )
        lines += _table(
            [
                "workload",
                "dtype",
                "threads",
                "n",
                "ferrokmeans",
                "scipy",
                "scipy / ferrokmeans",
                "codes identical",
                "load",
            ],
            body,
        )
    if res.get("memory"):
        rows = res["memory"]
        names = [n for n in order if any(n in r["above"] for r in rows)]
        lines += [
            "",
            "## (e) Peak memory above X during a fit",
            "",
            "Each fit in a fresh subprocess: resident-set high-water mark minus the "
            "resident set after loading X and a small warm-up fit, as a multiple of "
            f"X.nbytes (defaults with max_iter={MEMORY_ITERS}; scipy kmeans2 from "
            "k-means++ centres; faiss with its default subsampling). Target 6 "
            "allows 10% of X plus O(k·d·threads): `net` is ferrokmeans' figure "
            "less its per-thread term, the cluster sums of the blocks in flight "
            "(at most 4 per thread plus the total, k·d float64 each); `labels_` "
            "is the part that is the int32 labels the fit returns (n·4 bytes).",
            "",
        ]
        body = []
        for r in rows:
            itemsize = 4 if r["dtype"] == "f32" else 8
            d = r["x_bytes"] // (r["n"] * itemsize)
            sums = (4 * r["threads"] + 1) * r["k"] * d * 8
            cells = [
                r["case"],
                r["dtype"],
                str(r["threads"]),
                f"{r['x_bytes'] / 2**20:.1f} MiB",
            ]
            for n in names:
                v = r["above"].get(n)
                cells.append("-" if v is None else f"{v / r['x_bytes']:.2f}x")
                if n == "ferrokmeans":
                    cells.append(
                        "-" if v is None else f"{(v - sums) / r['x_bytes']:.2f}x"
                    )
                    cells.append(f"{4 * r['n'] / r['x_bytes']:.2f}x")
            body.append(cells)
        head = [
            *(
                [n, "ferrokmeans net", "labels_"] if n == "ferrokmeans" else [n]
                for n in names
            )
        ]
        lines += _table(
            ["workload", "dtype", "threads", "X", *[h for g in head for h in g]], body
        )
        if any(not r.get("exact", True) for r in rows):
            lines.append(
                "\n(/proc/self/clear_refs was not writable: the peaks may include "
                "the loading of X.)"
            )
    lines += [
        "",
        "Workloads: "
        + "; ".join(
            f"{w.wid} {w.describe}, k={'/'.join(map(str, w.ks))}"
            for w in WORKLOADS.values()
        ),
        "",
    ]
    return "\n".join(lines)


# One colour per peer, the same in every panel (the blue of scikit-learn's Lloyd
# is also scikit-learn's default fit).
PEER_COLOURS = {
    "sklearn lloyd": "tab:blue",
    "sklearn": "tab:blue",
    "sklearn elkan": "tab:purple",
    "oneDAL": "tab:green",
    "faiss": "tab:orange",
    "scipy kmeans2": "tab:red",
    "scipy": "tab:red",
}


def render_png(res: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
        from matplotlib.ticker import FuncFormatter, LogLocator
    except ImportError:
        log("matplotlib is not installed: no chart")
        return False
    # Each panel: a title and, per case, a label, {peer: ratio} and the peers
    # whose ratio is not to be read (drawn hatched and pale).
    Entry = tuple[str, dict[str, float], set[str]]
    panels: list[tuple[str, list[Entry]]] = []
    if res.get("lloyd"):
        entries: list[Entry] = []
        for r in res["lloyd"]:
            ours = r["per_iter"]["ferrokmeans"]
            all_bad = bool(noisy(r, "ferrokmeans"))
            entries.append(
                (
                    f"{r['case']} {r['dtype']} {r['threads']}t",
                    {
                        p: v / ours
                        for p, v in r["per_iter"].items()
                        if p != "ferrokmeans"
                    },
                    {p for p in r["per_iter"] if all_bad or noisy(r, p)},
                )
            )
        panels.append(("(a) one Lloyd iteration, same init", entries))
    for key, title in (
        ("fit", "(b) whole fit, defaults"),
        ("init", "(c) k-means++ init"),
        ("vq", "(d) vq"),
    ):
        if res.get(key):
            entries = []
            for r in res[key]:
                med = {n: statistics.median(v) for n, v in r["samples"].items()}
                ratios = {
                    p: v / med["ferrokmeans"]
                    for p, v in med.items()
                    if p != "ferrokmeans"
                }
                entries.append(
                    (f"{r['case']} {r['dtype']} {r['threads']}t", ratios, set())
                )
            panels.append((title, entries))
    if not panels:
        return False
    widest = max(len(e) for _, e in panels)
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(max(8.0, 0.55 * widest + 3), 3.4 * len(panels)),
        squeeze=False,
    )
    for ax, (title, entries) in zip(axes[:, 0], panels, strict=True):
        peers = [p for p in PEER_COLOURS if any(p in d for _, d, _ in entries)]
        width = 0.8 / max(1, len(peers))
        x = np.arange(len(entries))
        shown = []
        for i, p in enumerate(peers):
            offset = (i - (len(peers) - 1) / 2) * width
            for j, (_, ratios, bad) in enumerate(entries):
                v = ratios.get(p, np.nan)
                if not v > 0:  # missing, or noise made it negative
                    continue
                shown.append(v)
                ax.bar(
                    x[j] + offset,
                    v,
                    width,
                    color=PEER_COLOURS[p],
                    alpha=0.35 if p in bad else 1.0,
                    hatch="//" if p in bad else None,
                )
                if len(entries) * len(peers) <= 12:
                    ax.annotate(
                        f"{v:.2g}x",
                        (x[j] + offset, v),
                        ha="center",
                        va="bottom",
                        fontsize=7,
                    )
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        if shown:
            ax.set_ylim(min(0.5, min(shown) / 1.5), max(2.0, max(shown) * 1.5))
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_xticks(x)
        ax.set_xticklabels(
            [label for label, _, _ in entries], rotation=35, ha="right", fontsize=8
        )
        ax.set_xlim(-0.6, len(entries) - 0.4)
        ax.set_ylabel("peer time / ferrokmeans")
        ax.set_title(title, fontsize=10)
        handles = [Patch(color=PEER_COLOURS[p], label=p) for p in peers]
        if any(bad for _, _, bad in entries):
            handles.append(
                Patch(facecolor="white", edgecolor="grey", hatch="//", label="noisy")
            )
        ax.legend(
            handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0)
        )
        ax.grid(axis="y", which="major", alpha=0.3)
    fig.suptitle(
        f"ferrokmeans against its peers ({res['name']}): peer time / ferrokmeans "
        "time, above 1 ferrokmeans is faster",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Measurements: " + ", ".join(WHATS),
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="subsampled rows, f32, 1 thread, 3 repeats: under 2 minutes on 2 cores",
    )
    p.add_argument(
        "--workloads", default=None, help="comma-separated, e.g. W1,W3 (default: all)"
    )
    p.add_argument(
        "--dtypes", default=None, help="f32,f64 (default: both; --quick: f32)"
    )
    p.add_argument(
        "--threads",
        default=None,
        help="comma-separated thread counts (default: 1,2; --quick: 1)",
    )
    p.add_argument(
        "--what",
        default=None,
        help=f"comma-separated among {','.join(WHATS)} (default: all)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats per contender (default: 5; --quick: 3)",
    )
    p.add_argument(
        "--name", default=None, help="output name in results/ (default: quick or full)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=HERE / "results",
        help="output folder (default: %(default)s)",
    )
    p.add_argument(
        "--append",
        action="store_true",
        help="add these sections to an existing results/<name>.json and redraw",
    )
    p.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: redraw <name>.md and .png from <name>.json",
    )
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.memory_child:
        return a
    a.workloads_given = a.workloads is not None
    a.workloads = _split(a.workloads, list(WORKLOADS), p, "--workloads", WORKLOADS)
    a.dtypes = _split(
        a.dtypes, ["f32"] if a.quick else ["f32", "f64"], p, "--dtypes", DTYPES
    )
    a.what = _split(a.what, list(WHATS), p, "--what", WHATS)
    try:
        a.threads = [
            int(t) for t in (a.threads or ("1" if a.quick else "1,2")).split(",")
        ]
    except ValueError:
        p.error("--threads takes comma-separated integers")
    if min(a.threads) < 1:
        p.error("--threads must be at least 1")
    a.repeats = a.repeats or (3 if a.quick else 5)
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    a.name = a.name or ("quick" if a.quick else "full")
    return a


def _split(
    value: str | None,
    default: list[str],
    p: argparse.ArgumentParser,
    flag: str,
    allowed: Any,
) -> list[str]:
    if value is None:
        return default
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        p.error(f"{flag}: unknown {bad}; choose among {', '.join(allowed)}")
    return items


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    if args.render_only:
        res = json.loads((args.out / f"{args.name}.json").read_text())
        write_report(res, args.out, args.name)
        return 0
    openblas = {v: os.environ[v] for v in OPENBLAS_VARS if v in os.environ}
    if openblas:
        log(
            f"WARNING: {openblas} is set; it slows numpy's BLAS and so "
            "scikit-learn and scipy. For a fair run: env -u OPENBLAS_CORETYPE "
            "-u OPENBLAS_L2_SIZE python benchmarks/bench.py ..."
        )
    # Import every peer now, before any thread limit is set.
    skipped = [
        dist
        for dist, module in (
            ("scikit-learn-intelex (oneDAL)", "sklearnex.cluster"),
            ("faiss-cpu", "faiss"),
            ("scipy", "scipy.cluster.vq"),
        )
        if not have(module)
    ]
    if skipped:
        log("not installed, skipped: " + ", ".join(skipped))
    start = time.perf_counter()
    simd = getattr(ferrokmeans._core, "simd_level", None)
    res: dict[str, Any] = {
        "name": args.name,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/bench.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "quick": args.quick,
        "repeats": args.repeats,
        "skipped": skipped,
        "versions": versions(),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "ram_gib": mem_total_gib(),
            "os": f"{platform.system()} {platform.release()}",
            "blas": blas_info(),
            "openblas_env": openblas,
            "load_start": load1(),
            "simd": simd() if callable(simd) else simd,
            "revision": source_revision(),
            "module": str(Path(ferrokmeans.__file__).parent),
        },
    }
    if "lloyd" in args.what:
        res["limits"] = machine_limits(args.threads, args.quick)
        res["lloyd"] = measure_lloyd(args, res["limits"])
    if "fit" in args.what:
        res["fit"] = measure_fit(args)
    if "init" in args.what:
        res["init"] = measure_init(args)
    if "vq" in args.what:
        res["vq"] = measure_vq(args)
    if "memory" in args.what:
        res["memory"] = measure_memory(args)
    res["machine"]["load_end"] = load1()
    res["seconds"] = time.perf_counter() - start

    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"{args.name}.json"
    if args.append and json_path.exists():
        res = merge(json.loads(json_path.read_text()), res)
    json_path.write_text(json.dumps(res, indent=1))
    write_report(res, args.out, args.name)
    log(
        f"wrote {args.out / args.name}.md, .png and .json in "
        f"{time.perf_counter() - start:.0f} s"
    )
    return 0


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The sections of ``new`` added to those of ``old`` (``--append``)."""
    for key in ("lloyd", "fit", "init", "vq", "memory"):
        if key in new:
            old[key] = old.get(key, []) + new[key]
    if "limits" in new:
        old.setdefault("limits", {}).update(new["limits"])
    old["command"] += " ; " + new["command"]
    old["machine"]["load_end"] = new["machine"]["load_end"]
    old["seconds"] = old.get("seconds", 0) + new["seconds"]
    return old


def write_report(res: dict[str, Any], out: Path, name: str) -> None:
    md = render_md(res)
    png = out / f"{name}.png"
    if render_png(res, png):
        md += f"\n![speed-up of ferrokmeans over its peers]({png.name})\n"
    (out / f"{name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())

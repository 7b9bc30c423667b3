"""Colour quantisation of china.jpg: ferrokmeans.KMeans against sklearn's KMeans.

The job of ``python -m ferrokmeans`` with more repeats and more values of k:
the 273,280 pixels of scikit-learn's sample photo ``china.jpg``, RGB in [0, 1]
as float32, clustered with ``KMeans(n_clusters=k, random_state=seed)`` from
both libraries at their otherwise identical defaults (k-means++ init,
``n_init="auto"``, Lloyd, ``max_iter=300``, ``tol=1e-4``). For each k, one
untimed warm-up fit per library, then ``--repeats`` timed fits alternating
between the libraries; the table gives medians (and the best run), and the
median time divided by the number of iterations, since the two libraries draw
different initial centres and may need different numbers of iterations.

Run by hand from a build with optimisations, never in CI::

    maturin develop --release        # or: pip install ".[image]"
    python benchmarks/china_quantize.py                # k = 16 and 64, 5 repeats
    python benchmarks/china_quantize.py -k 8 16 --repeats 9 --threads 1

Some machines set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE), which slows
scikit-learn's BLAS calls; the header prints them. For a fair comparison unset
both for this command only: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
python benchmarks/china_quantize.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import sklearn
from sklearn.cluster import KMeans as SklearnKMeans

import ferrokmeans
from ferrokmeans._demo import PILLOW_MISSING, load_pixels, pillow_available, time_fits


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    found = [
        f"{p.get('internal_api')} {p.get('version')} "
        f"({p.get('architecture')}, {p.get('num_threads')} threads)"
        for p in threadpool_info()
        if p.get("user_api") == "blas"
    ]
    return "; ".join(found) or "none loaded"


def _context(n_pixels: int, repeats: int, threads: int | None, seed: int) -> str:
    openblas = {
        name: os.environ[name]
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        if name in os.environ
    }
    lines = [
        f"- data: china.jpg, {n_pixels:,} pixels x 3, float32 in [0, 1]",
        f"- {repeats} timed fits per library and k, interleaved, after one "
        f"warm-up fit; seed {seed}",
        f"- machine: {_cpu_model()}, {os.cpu_count()} cores; ferrokmeans "
        f"n_threads={threads}",
        f"- versions: ferrokmeans {getattr(ferrokmeans, '__version__', '?')}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}",
        f"- BLAS: {_blas()}",
    ]
    if openblas:
        lines.append(f"- WARNING: {openblas} is set and slows scikit-learn")
    return "\n".join(lines)


def _per_iter(seconds: float, n_iter: int) -> str:
    # Whole fit (init included) over iterations: the two libraries draw different
    # initial centres and so may need different numbers of iterations.
    return f"{1e3 * seconds / max(n_iter, 1):.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-k",
        "--colors",
        type=int,
        nargs="+",
        default=[16, 64],
        metavar="K",
        help="numbers of clusters (default: 16 64)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed fits per library and k (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="n_threads of ferrokmeans.KMeans (default: all cores)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1 or min(args.colors) < 1:
        parser.error("--repeats and --colors must be at least 1")
    if not pillow_available():
        print(PILLOW_MISSING, file=sys.stderr)
        return 1

    pixels, _, _ = load_pixels()
    print(_context(pixels.shape[0], args.repeats, args.threads, args.seed))
    print()
    print(
        "| k | ferrokmeans median (best) | scikit-learn median (best) | speed-up "
        "| inertia ferrokmeans / scikit-learn | iterations | ms per iteration |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for k in args.colors:
        factories: dict[str, Callable[[], Any]] = {
            "ferrokmeans": partial(
                ferrokmeans.KMeans,
                n_clusters=k,
                random_state=args.seed,
                n_threads=args.threads,
            ),
            "scikit-learn": partial(
                SklearnKMeans, n_clusters=k, random_state=args.seed
            ),
        }
        time_fits(pixels, factories, repeats=1)  # warm-up: pools, caches, pages
        ours, theirs = time_fits(pixels, factories, args.repeats)
        print(
            f"| {k} "
            f"| {ours.median:.3f} s ({ours.best:.3f}) "
            f"| {theirs.median:.3f} s ({theirs.best:.3f}) "
            f"| {theirs.median / ours.median:.2f}x "
            f"| {ours.inertia:.6g} / {theirs.inertia:.6g} "
            f"| {ours.n_iter} / {theirs.n_iter} "
            f"| {_per_iter(ours.median, ours.n_iter)} / "
            f"{_per_iter(theirs.median, theirs.n_iter)} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

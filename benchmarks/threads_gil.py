"""Do two Python threads fit at once? The GIL and the core's thread pool.

Issue #4, point 4: with ``n_threads=1`` (one core thread per fit), two Python
threads that each fit their own problem at the same time should finish in
clearly less than twice the time of one fit. The ratio

    time(two concurrent fits) / time(one fit)

is 2.0 when the fits run one after the other (the GIL held, or both fits
queued on the same worker thread) and approaches 1.0 when they overlap on two
free cores. Two more figures make it readable on a busy machine:

- the same ratio for two *processes* (no GIL, no shared pool): what the
  machine allows right now; the thread ratio should be close to it;
- the CPU time of each OS thread of this process during the concurrent
  fits: the work of two overlapping fits shows on two threads, not one.

It also checks that the concurrent fits give the bits of the serial ones.
Run by hand, never in CI (the test suite checks the GIL is released and the
results are right, never a speed)::

    python benchmarks/threads_gil.py                    # 300,000 x 16 float64, k = 32
    python benchmarks/threads_gil.py --rows 1000000 --features 4 --dtype f32 --k 8
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import threading
import time

import numpy as np

import ferrokmeans
from ferrokmeans import KMeans


def _problem(rows: int, features: int, dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, features)).astype(dtype)


def _fit(X: np.ndarray, k: int, iters: int, seed: int) -> KMeans:
    # tol=0 and a fixed iteration count: every fit does the same work.
    km = KMeans(k, random_state=seed, n_threads=1, max_iter=iters, tol=0.0)
    return km.fit(X)


def _same(a: KMeans, b: KMeans) -> bool:
    return (
        np.array_equal(a.cluster_centers_, b.cluster_centers_)
        and np.array_equal(a.labels_, b.labels_)
        and a.inertia_ == b.inertia_
    )


def _cpu_by_thread() -> dict[tuple[str, str], float]:
    """CPU seconds (user + system) of each OS thread of this process (Linux)."""
    out: dict[tuple[str, str], float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[(tid, name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _process_worker(args, seed, barrier, queue) -> None:
    X = _problem(args.rows, args.features, args.dtype, seed)
    _fit(X, args.k, args.iters, seed)  # warm up
    barrier.wait()
    t = time.perf_counter()
    _fit(X, args.k, args.iters, seed)
    queue.put(time.perf_counter() - t)


def _two_processes(args) -> float:
    """Wall time of two fits in two processes started together."""
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(args, i, barrier, queue))
        for i in range(2)
    ]
    for p in procs:
        p.start()
    times = [queue.get(), queue.get()]
    for p in procs:
        p.join()
    return max(times)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--iters", type=int, default=20, help="Lloyd iterations")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    problems = [_problem(args.rows, args.features, args.dtype, i) for i in range(2)]
    print(
        f"ferrokmeans {ferrokmeans.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{args.rows:,} x {args.features} {args.dtype}, k = {args.k}, "
        f"{args.iters} iterations, n_threads=1 per fit, {args.repeats} repeats"
    )

    serial = [_fit(X, args.k, args.iters, i) for i, X in enumerate(problems)]
    one, two, procs = [], [], []
    cpu: dict[str, float] = {}
    for _ in range(args.repeats):
        t = time.perf_counter()
        _fit(problems[0], args.k, args.iters, 0)
        one.append(time.perf_counter() - t)

        results: list[KMeans | None] = [None, None]

        def work(i: int, out: list[KMeans | None] = results) -> None:
            out[i] = _fit(problems[i], args.k, args.iters, i)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        before = _cpu_by_thread()
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        two.append(time.perf_counter() - t)
        after = _cpu_by_thread()
        for key, seconds in after.items():
            name = f"{key[1]} (tid {key[0]})"
            cpu[name] = cpu.get(name, 0.0) + seconds - before.get(key, 0.0)
        for got, want in zip(results, serial, strict=True):
            assert got is not None and _same(got, want), "concurrent fit differs"
        procs.append(_two_processes(args))

    t1, t2, tp = (statistics.median(x) for x in (one, two, procs))
    print(f"one fit alone:                  {t1:7.3f} s (median; best {min(one):.3f})")
    print(f"two fits in two threads:        {t2:7.3f} s (median; best {min(two):.3f})")
    print(
        f"two fits in two processes:      {tp:7.3f} s (median; best {min(procs):.3f})"
    )
    print(f"ratio, threads   (2.0 = serialised, 1.0 = perfect overlap): {t2 / t1:.2f}")
    print(f"ratio, processes (what the machine allows now):             {tp / t1:.2f}")
    busy = sorted(((s, n) for n, s in cpu.items() if s > 0.05), reverse=True)
    total = sum(s for s, _ in busy) or 1.0
    print("CPU time by OS thread during the concurrent fits:")
    for s, n in busy:
        print(f"  {n:32s} {s:7.2f} s ({s / total:.0%})")
    print("concurrent results identical to serial ones: yes")
    return t2 / t1


if __name__ == "__main__":
    main()

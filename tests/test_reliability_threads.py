"""Panics, threads and fork (issue #4, points 2, 4 and 5).

- A Rust panic becomes a Python ``RuntimeError``; the process survives, in
  the main thread and in many threads at once.
- The GIL is released while the core works: another Python thread keeps
  running during a call. (How much faster two threads fit than one is a
  benchmark, benchmarks/threads_gil.py, not a test.)
- Fits in concurrent threads give the bits of serial fits; one fitted
  estimator serves ``predict``/``transform``/``score`` to 8 threads at once.
- A child made by ``fork`` (multiprocessing's "fork" context, or ``os.fork``)
  after the parent used the thread pool can fit, without deadlock, even when
  the parent was fitting in another thread at the moment of the fork. Every
  child runs under a timeout, so a deadlock fails the test instead of hanging
  the suite.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import make_blobs

from ferrokmeans import KMeans, _core, kmeans, kmeans2, vq

# Python 3.12+ warns about any fork in a process with threads, and the
# core's thread pool keeps its workers alive between calls.
FORK_WITH_THREADS = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


def _fingerprint(km: KMeans) -> tuple:
    return (
        km.cluster_centers_.tobytes(),
        km.labels_.tobytes(),
        km.inertia_,
        km.n_iter_,
    )


# ------------------------------------------------------------------ panics


def test_a_panic_is_a_runtime_error_and_the_process_survives():
    # In a fresh interpreter, so that an abort would show as an exit code
    # instead of taking the test runner with it.
    script = textwrap.dedent(
        """
        import numpy as np
        from ferrokmeans import KMeans, _core
        for _ in range(3):
            try:
                _core._panic_for_test()
            except RuntimeError as e:
                assert "deliberate panic" in str(e), e
            else:
                raise SystemExit("no RuntimeError")
        X = np.random.default_rng(0).random((500, 3))
        km = KMeans(3, random_state=0, n_threads=2).fit(X)
        assert (km.predict(X) == km.labels_).all()
        print("survived")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "survived"


def test_panics_in_many_threads_while_others_fit():
    X = make_blobs(3000, 3, 4, seed=1)
    reference = _fingerprint(KMeans(4, random_state=0, n_threads=2).fit(X))

    def panic() -> str:
        with pytest.raises(RuntimeError, match="deliberate panic") as info:
            _core._panic_for_test()
        return str(info.value)

    def fit() -> tuple:
        return _fingerprint(KMeans(4, random_state=0, n_threads=2).fit(X))

    with ThreadPoolExecutor(8) as pool:
        panics = [pool.submit(panic) for _ in range(16)]
        fits = [pool.submit(fit) for _ in range(4)]
        for f in panics:
            assert "internal error in ferrokmeans" in f.result()
        for f in fits:
            assert f.result() == reference


# -------------------------------------------------------------------- GIL


def _max_gap_while(call) -> tuple[float, float]:
    """Runs ``call`` in the main thread while another thread notes the time
    every millisecond; returns the call's duration and the longest stretch
    in which the other thread could not run."""
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.02)  # the ticker is running
    start = time.perf_counter()
    call()
    end = time.perf_counter()
    stop.set()
    t.join()
    inside = [start, *(x for x in ticks if start < x < end), end]
    return end - start, max(np.diff(inside))


# Uniform data (no structure to exploit) and many clusters: each call below
# takes a tenth of a second or more on one thread.
_BIG = np.random.default_rng(2).random((400_000, 16))
_INIT = _BIG[:256].copy()
_FITTED = KMeans(256, init=_INIT, max_iter=2).fit(_BIG[:5000])
# predict's and vq's passes are screened (8-bit dot products, AVX-512 VNNI)
# and take about 0.05 s on _BIG alone: three times the rows.
_BIG3 = np.concatenate([_BIG, _BIG[::-1], _BIG[::2], _BIG[1::2]])
# transform writes n x k distances: a smaller problem keeps that to 100 MB.
_FITTED_SMALL = KMeans(128, init=_INIT[:128], max_iter=2).fit(_BIG[:5000])


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda: KMeans(256, init=_INIT, max_iter=1, tol=0, n_threads=1).fit(_BIG),
            id="fit",
        ),
        pytest.param(
            lambda: _FITTED.set_params(n_threads=1).predict(_BIG3), id="predict"
        ),
        pytest.param(
            lambda: _FITTED_SMALL.set_params(n_threads=1).transform(_BIG[:100_000]),
            id="transform",
        ),
        pytest.param(lambda: vq(_BIG3, _INIT), id="vq"),
        pytest.param(
            lambda: kmeans2(_BIG, _INIT, iter=20, minit="matrix"), id="kmeans2"
        ),
    ],
)
def test_the_gil_is_released_during_the_core_s_work(call, monkeypatch):
    # Holding the GIL for the whole pass over the data would stop the other
    # thread for most of the call; released, it runs every millisecond or so.
    monkeypatch.setenv("FERROKMEANS_NUM_THREADS", "1")
    call()  # warm up (thread pool, page faults)
    duration, gap = _max_gap_while(call)
    assert duration > 0.05, "too fast to tell; make the problem larger"
    assert gap < 0.3 * duration, (gap, duration)


# ------------------------------------------------------ concurrent fits


@pytest.mark.parametrize("n_threads", [1, None])
def test_fits_in_concurrent_threads_equal_serial_fits(n_threads):
    problems = [
        (make_blobs(20_000, 3, 5, seed=10).astype(np.float32), "k-means++"),
        (make_blobs(20_000, 5, 6, seed=11), "random"),
        (make_blobs(15_000, 2, 4, seed=12), "k-means++"),
        (make_blobs(15_000, 8, 3, seed=13).astype(np.float32), "random"),
    ]

    def fit(i: int) -> tuple:
        X, init = problems[i % len(problems)]
        km = KMeans(6, init=init, random_state=i, n_threads=n_threads)
        return _fingerprint(km.fit(X))

    serial = [fit(i) for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(2):
            assert list(pool.map(fit, range(8))) == serial


def _cpu_by_thread() -> dict[str, float]:
    """CPU seconds (user + system) of each OS thread of this process."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / tick
    return out


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/task")
def test_concurrent_single_thread_fits_run_on_separate_threads():
    # What point 4's speed-up needs, measured without a clock: the work of
    # two fits with n_threads=1 started together must show on two OS threads.
    # (It all ran on the one worker of the shared 1-thread pool,
    # "ferrokmeans-0", so the fits ran one after the other although the
    # GIL is released.) benchmarks/threads_gil.py gives the timing.
    problems = [np.random.default_rng(i).random((150_000, 16)) for i in range(2)]
    # The calling threads end before the second snapshot (and their entries
    # in /proc with them): they report their own CPU time.
    callers: dict[str, float] = {}

    def fit(i: int) -> None:
        start = time.thread_time()
        KMeans(32, random_state=i, n_threads=1, max_iter=15, tol=0).fit(problems[i])
        callers[str(threading.get_native_id())] = time.thread_time() - start

    fit(0)
    before = _cpu_by_thread()
    threads = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = _cpu_by_thread()
    spent = {
        tid: after[tid] - before.get(tid, 0.0) for tid in after if tid not in callers
    }
    spent.update(callers)
    total = sum(spent.values())
    assert total >= 0.2, f"too little work to tell: {total:.2f} s of CPU"
    working = [tid for tid, s in spent.items() if s >= 0.25 * total]
    assert len(working) >= 2, (
        f"{total:.2f} s of CPU, {max(spent.values()):.2f} s of it on one thread: "
        "the two fits were serialised"
    )


def test_scipy_style_functions_in_concurrent_threads_equal_serial_calls():
    X = make_blobs(20_000, 3, 5, seed=14)
    book = X[:5].copy()

    def work(i: int) -> bytes:
        codes, dist = vq(X, book)
        cb, dist_mean = kmeans(X, book)
        c2, labels = kmeans2(X, 5, minit="++", rng=i)
        return pickle.dumps((codes, dist, cb, dist_mean, c2, labels))

    serial = [work(i) for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(work, range(6))) == serial


def test_one_fitted_estimator_serves_8_threads_at_once():
    X = make_blobs(30_000, 4, 6, seed=15)
    km = KMeans(6, random_state=0).fit(X)
    queries = [
        make_blobs(5_000 + 997 * i, 4, 6, spread=3.0, seed=100 + i) for i in range(8)
    ]
    queries[3] = queries[3].astype(np.float32)
    weights = [np.linspace(0.5, 1.5, len(q)) for q in queries]
    expected = [
        (km.predict(q), km.transform(q), km.score(q, sample_weight=w))
        for q, w in zip(queries, weights, strict=True)
    ]
    centers = km.cluster_centers_.copy()

    def serve(i: int) -> None:
        q, w = queries[i], weights[i]
        for _ in range(5):
            labels, dist, score = (
                km.predict(q),
                km.transform(q),
                km.score(q, sample_weight=w),
            )
            np.testing.assert_array_equal(labels, expected[i][0])
            np.testing.assert_array_equal(dist, expected[i][1])
            assert score == expected[i][2]

    with ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(serve, i) for i in range(8)]:
            f.result()
    np.testing.assert_array_equal(km.cluster_centers_, centers)


# -------------------------------------------------------------------- fork

_FORK_X = make_blobs(50_000, 4, 5, seed=20)


def _fit_in_child(queue) -> None:
    km = KMeans(5, random_state=0, n_threads=2).fit(_FORK_X)
    queue.put(_fingerprint(km))


def _run_forked_children(n: int, timeout: float = 60.0) -> list[tuple]:
    """Starts ``n`` children with multiprocessing's fork context, each
    fitting; fails (after killing it) if one does not finish in time."""
    ctx = mp.get_context("fork")
    results = []
    for _ in range(n):
        queue = ctx.Queue()
        p = ctx.Process(target=_fit_in_child, args=(queue,))
        p.start()
        try:
            results.append(queue.get(timeout=timeout))
        except Exception:
            p.kill()
            p.join()
            pytest.fail(f"a forked child did not finish its fit in {timeout} s")
        p.join(timeout)
        assert p.exitcode == 0
    return results


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the Linux default")
@FORK_WITH_THREADS
def test_a_forked_child_fits_after_the_parent_used_the_pool():
    expected = _fingerprint(KMeans(5, random_state=0, n_threads=2).fit(_FORK_X))
    KMeans(5, random_state=0).fit(_FORK_X)  # and the default pool
    for got in _run_forked_children(3):
        assert got == expected


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the Linux default")
@FORK_WITH_THREADS
def test_forks_while_another_thread_is_fitting():
    # The dangerous moment: a lock of the pool, the allocator or the pool
    # cache is held by a thread that does not exist in the child.
    expected = _fingerprint(KMeans(5, random_state=0, n_threads=2).fit(_FORK_X))
    stop = threading.Event()

    def keep_fitting() -> None:
        while not stop.is_set():
            KMeans(5, random_state=1, max_iter=3, n_threads=2).fit(_FORK_X[:20_000])

    busy = threading.Thread(target=keep_fitting)
    busy.start()
    try:
        results = _run_forked_children(12, timeout=60)
    finally:
        stop.set()
        busy.join()
    assert all(r == expected for r in results)


@pytest.mark.skipif(sys.platform != "linux", reason="os.fork")
@FORK_WITH_THREADS
def test_os_fork_child_fits():
    X = _FORK_X[:10_000]
    expected = _fingerprint(KMeans(5, random_state=0, n_threads=2).fit(X))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            got = _fingerprint(KMeans(5, random_state=0, n_threads=2).fit(X))
            os.write(w, b"same" if got == expected else b"diff")
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child did not finish its fit in 60 s")
    with os.fdopen(r, "rb") as f:
        assert f.read() == b"same"
    assert os.waitstatus_to_exitcode(status) == 0

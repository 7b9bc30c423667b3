"""Writes docs/errors.md: what each entry point does with each kind of bad input.

Issue #4, point 1 asks for a table of the bad inputs and the messages they
give. This script does not keep a list of messages: it calls every case and
records what actually happens (the exception and its message, or the result
and the warnings), so the table is true of the build it ran on. Run it again
after changing a check or a message::

    python benchmarks/make_error_table.py            # rewrite docs/errors.md
    python benchmarks/make_error_table.py --check    # exit 1 if it is stale

A row is marked "**!**" when the outcome is not what issue #4 asks for: an
exception other than ValueError/TypeError (or a subclass such as
numpy.linalg.LinAlgError or sklearn's NotFittedError), a warning from numpy
on the way, or a non-finite number presented as a result.
tests/test_reliability_errors.py holds the tests that fail on those rows.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

import ferrokmeans
from ferrokmeans import KMeans, kmeans, kmeans2, kmeans_plusplus, vq, whiten

OUT = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

RNG = np.random.default_rng(0)
X = RNG.random((10, 3)) + np.repeat([[0.0], [5.0]], 5, axis=0)  # two groups
BOOK = X[[0, 9]].copy()
FITTED = KMeans(2, random_state=0).fit(X)
DOCUMENTED_WARNINGS = ("One of the clusters is empty", "Some columns have standard")


def _with(value: float, a: np.ndarray = X) -> np.ndarray:
    a = a.copy()
    a[1, 1] = value
    return a


def _huge_sum() -> np.ndarray:
    """Uniform data where each squared distance fits in float64 and their sum
    does not."""
    return np.random.default_rng(0).random((40, 3)) * 5e153


# (name, call) or (name, call, check): ``check(outcome)`` is False when the
# result returned, or the message of the exception raised, is wrong.
Case = tuple[Any, ...]


def _says(*words: str) -> Callable[[Any], bool]:
    """The message names one of ``words`` (the culprit, or the real cause)."""
    return lambda outcome: any(w in str(outcome) for w in words)


def _is_whitened_x(row: np.ndarray) -> bool:
    """Whitening is scale invariant: a scaled X must whiten like X."""
    return bool(np.allclose(row, whiten(X)[0], rtol=1e-6))


def kmeans_cases() -> list[Case]:
    km = lambda **kw: KMeans(2, random_state=0, **kw)  # noqa: E731
    return [
        ("NaN in X", lambda: km().fit(_with(np.nan))),
        ("+inf in X", lambda: km().fit(_with(np.inf))),
        ("-inf in X (sparse)", lambda: km().fit(sp.csr_matrix(_with(-np.inf)))),
        ("empty X, shape (0, 3)", lambda: km().fit(np.empty((0, 3)))),
        ("zero features, shape (10, 0)", lambda: km().fit(np.empty((10, 0)))),
        ("1-D X", lambda: km().fit(X[:, 0])),
        ("3-D X", lambda: km().fit(X.reshape(5, 2, 3))),
        ("a scalar as X", lambda: km().fit(np.float64(3.0))),
        ("strings", lambda: km().fit(np.full((10, 3), "a"))),
        (
            "object array with a string",
            lambda: km().fit(np.array([[1.0, "x", 2.0]] * 10, dtype=object)),
        ),
        ("complex dtype", lambda: km().fit(X.astype(complex))),
        (
            "bool dtype (accepted as float64, like scikit-learn)",
            lambda: km().fit(X > 3).cluster_centers_.dtype,
        ),
        (
            "float16 (accepted as float64, like scikit-learn)",
            lambda: km().fit(X.astype(np.float16)).cluster_centers_.dtype,
        ),
        ("n_clusters=0", lambda: KMeans(0).fit(X)),
        ("n_clusters=-1", lambda: KMeans(-1).fit(X)),
        ("n_clusters=2.5", lambda: KMeans(2.5).fit(X)),
        ("n_clusters=True", lambda: KMeans(True).fit(X)),
        ("n_clusters='3'", lambda: KMeans("3").fit(X)),
        ("n_clusters=11 > n_samples=10", lambda: KMeans(11).fit(X)),
        ("sample_weight of length 9", lambda: km().fit(X, sample_weight=np.ones(9))),
        ("sample_weight 2-D", lambda: km().fit(X, sample_weight=np.ones((10, 1)))),
        (
            "negative sample_weight",
            lambda: km().fit(X, sample_weight=np.r_[np.ones(9), -1]),
        ),
        (
            "NaN in sample_weight",
            lambda: km().fit(X, sample_weight=np.r_[np.ones(9), np.nan]),
        ),
        ("all-zero sample_weight", lambda: km().fit(X, sample_weight=np.zeros(10))),
        ("string sample_weight", lambda: km().fit(X, sample_weight=np.full(10, "a"))),
        (
            "init='random' with 1 row of positive weight for 2 clusters",
            lambda: km(init="random").fit(X, sample_weight=np.r_[1.0, np.zeros(9)]),
        ),
        ("init array with 3 rows for 2 clusters", lambda: km(init=X[:3]).fit(X)),
        ("init array with 2 columns for 3 features", lambda: km(init=X[:2, :2]).fit(X)),
        ("NaN in the init array", lambda: km(init=_with(np.nan, BOOK)).fit(X)),
        (
            "init callable returning the wrong shape",
            lambda: km(init=lambda X, k, random_state: X[:3]).fit(X),
        ),
        ("max_iter=0", lambda: km(max_iter=0).fit(X)),
        ("max_iter=10**30", lambda: km(max_iter=10**30).fit(X).n_iter_),
        ("n_init=0", lambda: km(n_init=0).fit(X)),
        ("n_init=10**30", lambda: km(n_init=10**30).fit(X)),
        ("tol=-1", lambda: km(tol=-1).fit(X)),
        ("tol=nan", lambda: km(tol=np.nan).fit(X)),
        ("algorithm='fast'", lambda: km(algorithm="fast").fit(X)),
        ("init='kmeans'", lambda: km(init="kmeans").fit(X)),
        ("init=None", lambda: km(init=None).fit(X)),
        ("n_threads=0", lambda: km(n_threads=0).fit(X)),
        ("n_threads=2**64", lambda: km(n_threads=2**64).fit(X)),
        ("values of 1e300 (squares overflow)", lambda: km().fit(X * 1e300)),
        (
            "float32 values of 1e30 (squares overflow float32)",
            lambda: km().fit((X * 1e30).astype(np.float32)),
        ),
        (
            "values up to 5e153 (each square fits, the inertia overflows)",
            lambda: km().fit(_huge_sum()).inertia_,
        ),
        (
            "weights of 1e300 times values of 1e19 (the sums overflow)",
            lambda: (
                km()
                .fit(
                    np.r_[np.zeros((7, 1)), [[1e19]]],
                    sample_weight=np.r_[np.zeros(7), 1e300],
                )
                .cluster_centers_.ravel()
            ),
        ),
        (
            "float64 weights of 1e300 with float32 X",
            lambda: km().fit(X.astype(np.float32), sample_weight=np.full(10, 1e300)),
        ),
        (
            "denormals, X * 1e-310 (squares underflow)",
            lambda: km().fit(X * 1e-310).labels_,
        ),
        ("predict before fit", lambda: KMeans(2).predict(X)),
        ("predict with 2 features after fitting 3", lambda: FITTED.predict(X[:, :2])),
        ("predict NaN", lambda: FITTED.predict(_with(np.nan))),
        ("predict 1e300", lambda: FITTED.predict(X * 1e300)),
        ("transform 1e300", lambda: FITTED.transform(X * 1e300)),
        (
            "score of 5e153 data (the sum overflows)",
            lambda: (
                KMeans(2, random_state=0).fit(_huge_sum() / 5e153).score(_huge_sum())
            ),
        ),
        (
            "score with sample_weight of length 3",
            lambda: FITTED.score(X, sample_weight=np.ones(3)),
        ),
        (
            "predict on float32 data, centres beyond float32",
            lambda: (
                KMeans(2, random_state=0).fit(X * 1e40).predict(X.astype(np.float32))
            ),
        ),
        ("kmeans_plusplus: n_clusters=0", lambda: kmeans_plusplus(X, 0)),
        (
            "kmeans_plusplus: n_local_trials=0",
            lambda: kmeans_plusplus(X, 2, n_local_trials=0),
        ),
        ("kmeans_plusplus: NaN in X", lambda: kmeans_plusplus(_with(np.nan), 2)),
        ("kmeans_plusplus: 1e300", lambda: kmeans_plusplus(X * 1e300, 2)),
    ]


def vq_cases() -> list[Case]:
    return [
        ("NaN in obs", lambda: vq(_with(np.nan), BOOK)),
        (
            "NaN in obs, check_finite=False",
            lambda: vq(_with(np.nan), BOOK, check_finite=False),
        ),
        ("+inf in code_book", lambda: vq(X, _with(np.inf, BOOK))),
        (
            "+inf in code_book, check_finite=False",
            lambda: vq(X, _with(np.inf, BOOK), check_finite=False),
            _says("code_book", "code book"),
        ),
        ("empty obs, shape (0, 3) (as scipy)", lambda: vq(np.empty((0, 3)), BOOK)),
        ("empty code_book", lambda: vq(X, np.empty((0, 3)))),
        (
            "zero features (as scipy: every code at distance 0)",
            lambda: vq(np.empty((10, 0)), np.empty((2, 0))),
        ),
        ("3-D obs", lambda: vq(X.reshape(5, 2, 3), BOOK)),
        ("code_book with 2 features, obs with 3", lambda: vq(X, BOOK[:, :2])),
        ("1-D code_book for 2-D obs", lambda: vq(X, BOOK[:, 0])),
        ("complex obs", lambda: vq(X.astype(complex), BOOK)),
        ("bool obs", lambda: vq(X > 3, BOOK)),
        ("string obs", lambda: vq(np.full((10, 3), "a"), BOOK)),
        ("object obs", lambda: vq(X.astype(object), BOOK)),
        (
            "float16 obs and code_book",
            lambda: vq(X.astype(np.float16), BOOK.astype(np.float16)),
        ),
        ("obs of 1e300", lambda: vq(X * 1e300, BOOK)),
        ("denormal obs and code_book", lambda: vq(X * 1e-310, BOOK * 1e-310)[0]),
    ]


def kmeans_fn_cases() -> list[Case]:
    return [
        ("NaN in obs", lambda: kmeans(_with(np.nan), 2, rng=0)),
        (
            "NaN in obs, check_finite=False",
            lambda: kmeans(_with(np.nan), 2, rng=0, check_finite=False),
        ),
        (
            "inf in the guess, check_finite=False",
            lambda: kmeans(X, _with(np.inf, BOOK), check_finite=False),
        ),
        ("empty obs", lambda: kmeans(np.empty((0, 3)), 2)),
        ("zero features", lambda: kmeans(np.empty((10, 0)), 2)),
        ("a scalar as obs", lambda: kmeans(np.float64(3.0), 1)),
        ("3-D obs", lambda: kmeans(X.reshape(5, 2, 3), 2)),
        ("k_or_guess=0", lambda: kmeans(X, 0)),
        ("k_or_guess=2.5", lambda: kmeans(X, 2.5)),
        ("k_or_guess=True", lambda: kmeans(X, True)),
        ("k_or_guess=11 > 10 observations", lambda: kmeans(X, 11, rng=0)),
        ("guess with 2 features, obs with 3", lambda: kmeans(X, BOOK[:, :2])),
        ("iter=0", lambda: kmeans(X, 2, iter=0)),
        ("thresh=-1", lambda: kmeans(X, BOOK, thresh=-1.0)),
        ("thresh='small'", lambda: kmeans(X, BOOK, thresh="small"), _says("thresh")),
        ("complex obs", lambda: kmeans(X.astype(complex), 2)),
        ("obs of 1e300", lambda: kmeans(X * 1e300, 2, rng=0)),
        ("denormal obs", lambda: kmeans(X * 1e-310, 2, rng=0)[1]),
        ("rng and seed together", lambda: kmeans(X, 2, rng=0, seed=0)),
    ]


def kmeans2_cases() -> list[Case]:
    return [
        ("NaN in data", lambda: kmeans2(_with(np.nan), 2, rng=0)),
        (
            "NaN in data, check_finite=False, minit='points'",
            lambda: kmeans2(
                _with(np.nan), 2, minit="points", rng=0, check_finite=False
            ),
        ),
        (
            "NaN in data, check_finite=False, minit='random'",
            lambda: kmeans2(_with(np.nan), 2, rng=0, check_finite=False),
            _says("NaN"),
        ),
        (
            "inf in data, check_finite=False, minit='++'",
            lambda: kmeans2(_with(np.inf), 2, minit="++", rng=0, check_finite=False),
            _says("inf"),
        ),
        (
            "NaN in the initial code book, check_finite=False",
            lambda: kmeans2(X, _with(np.nan, BOOK), minit="matrix", check_finite=False),
        ),
        ("empty data", lambda: kmeans2(np.empty((0, 3)), 2)),
        ("zero features", lambda: kmeans2(np.empty((10, 0)), 2)),
        ("a scalar as data", lambda: kmeans2(np.float64(3.0), 1, minit="points")),
        ("3-D data", lambda: kmeans2(X.reshape(5, 2, 3), 2)),
        ("k=0", lambda: kmeans2(X, 0)),
        ("k=inf", lambda: kmeans2(X, np.inf, minit="points")),
        ("k=nan", lambda: kmeans2(X, np.nan, minit="points")),
        ("k=True", lambda: kmeans2(X, True)),
        (
            "k=11 > 10 observations, minit='points'",
            lambda: kmeans2(X, 11, minit="points", rng=0),
        ),
        (
            "k=11 > 10 observations, minit='++'",
            lambda: kmeans2(X, 11, minit="++", rng=0)[0].shape,
        ),
        (
            "code book with 2 features, data with 3",
            lambda: kmeans2(X, BOOK[:, :2], minit="matrix"),
        ),
        ("minit='matrix' with an int k", lambda: kmeans2(X, 2, minit="matrix")),
        ("iter=0", lambda: kmeans2(X, 2, iter=0)),
        ("iter=10**30", lambda: kmeans2(X, 2, iter=10**30, minit="points", rng=0)),
        ("minit='bogus'", lambda: kmeans2(X, 2, minit="bogus")),
        ("missing='ignore'", lambda: kmeans2(X, 2, missing="ignore")),
        (
            "minit='random' with a constant feature",
            lambda: kmeans2(np.c_[X[:, :2], np.ones(10)], 2, rng=0),
        ),
        ("data of 1e300, minit='random'", lambda: kmeans2(X * 1e300, 2, rng=0)),
        ("data of 1e300, minit='++'", lambda: kmeans2(X * 1e300, 2, minit="++", rng=0)),
        (
            "denormal data, minit='++'",
            lambda: kmeans2(X * 1e-310, 2, minit="++", rng=0)[1],
        ),
        (
            "an empty cluster with missing='raise'",
            lambda: kmeans2(
                X, np.r_[BOOK, [[1e3, 1e3, 1e3]]], minit="matrix", missing="raise"
            ),
        ),
    ]


def whiten_cases() -> list[Case]:
    return [
        ("NaN", lambda: whiten(_with(np.nan))),
        ("NaN, check_finite=False", lambda: whiten(_with(np.nan), check_finite=False)),
        ("inf, check_finite=False", lambda: whiten(_with(np.inf), check_finite=False)),
        ("empty, shape (0, 3)", lambda: whiten(np.empty((0, 3)))),
        ("a scalar", lambda: whiten(np.float64(3.0))),
        ("3-D", lambda: whiten(X.reshape(5, 2, 3)).shape),
        ("complex", lambda: whiten(X.astype(complex))),
        ("bool", lambda: whiten(X > 3)),
        ("strings", lambda: whiten(np.full((10, 3), "a"))),
        (
            "a constant column (as scipy)",
            lambda: whiten(np.c_[X[:, :2], np.ones(10)])[0],
        ),
        (
            "values of 1e300 (the variance overflows)",
            lambda: whiten(X * 1e300)[0],
            _is_whitened_x,
        ),
        (
            "denormals, X * 1e-310 (the variance underflows)",
            lambda: whiten(X * 1e-310)[0],
            _is_whitened_x,
        ),
    ]


SECTIONS = [
    ("KMeans and kmeans_plusplus", kmeans_cases),
    ("vq", vq_cases),
    ("kmeans", kmeans_fn_cases),
    ("kmeans2", kmeans2_cases),
    ("whiten", whiten_cases),
]


# ---------------------------------------------------------------- running


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _non_finite(value: Any) -> bool:
    try:
        a = np.asarray(value.inertia_ if isinstance(value, KMeans) else value)
        return a.dtype.kind == "f" and not np.isfinite(a).all()
    except Exception:
        return False


def run(
    call: Callable[[], Any], check: Callable[[Any], bool] | None = None
) -> tuple[str, str, bool]:
    """(outcome, detail, as asked) for one case."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = call(), None
        except Exception as e:
            result, error = None, e
    stray = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not (
            issubclass(w.category, ConvergenceWarning)
            or str(w.message).startswith(DOCUMENTED_WARNINGS)
        )
    ]
    documented = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if f"{w.category.__name__}: {w.message}" not in stray
    ]
    notes = ""
    if stray:
        notes += " — after numpy's " + "; ".join(
            sorted(set(_short(s, 80) for s in stray))
        )
    if documented:
        notes += " — with " + "; ".join(sorted(set(_short(s, 80) for s in documented)))
    if error is not None:
        expected = (ValueError, TypeError, ferrokmeans.ClusterError)
        ok = isinstance(error, expected) and not stray
        ok = ok and (check is None or check(error))
        return f"`{type(error).__name__}`", _short(error) + notes, ok
    if isinstance(result, KMeans):
        shown = f"fitted: inertia_={result.inertia_:.4g}"
    else:
        shown = _short(repr(result), 120)
    ok = not stray and not _non_finite(result) and (check is None or check(result))
    return "returns", f"`{shown}`" + notes, ok


def render() -> str:
    lines = [
        "# Bad input: what each entry point does",
        "",
        "Generated by `python benchmarks/make_error_table.py` from "
        f"ferrokmeans {ferrokmeans.__version__}, numpy {np.__version__}: every row is "
        "the outcome of actually calling the case, with `X` a 10 x 3 float64 "
        "array of two groups, `BOOK` two of its rows and `FITTED` a `KMeans(2)` "
        "fitted on `X`. Do not edit by hand; rerun the script.",
        "",
        "Bad input raises `ValueError` or `TypeError` (or a subclass: "
        "`numpy.linalg.LinAlgError`, scikit-learn's `NotFittedError`; and "
        "`kmeans2(missing='raise')` raises `ClusterError`, as scipy) with a "
        "message that says what is wrong, before or instead of any computation "
        "that could crash, hang or return garbage. Messages of the checks "
        "scikit-learn and scipy also make are theirs, word for word. A row "
        "marked **!** does not meet that yet (see tests/test_reliability_errors.py).",
        "",
    ]
    for title, cases in SECTIONS:
        lines += [
            f"## {title}",
            "",
            "| case | outcome | message or result |",
            "|---|---|---|",
        ]
        for name, call, *check in cases():
            outcome, detail, ok = run(call, *check)
            mark = "" if ok else " **!**"
            detail = detail.replace("|", "\\|")
            lines.append(f"| {name}{mark} | {outcome} | {detail} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="fail if --out is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: rerun {Path(__file__).name}")
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    flagged = text.count("**!**") - 1  # one in the introduction
    print(f"wrote {args.out}: {flagged} rows flagged **!**")
    return 0


if __name__ == "__main__":
    sys.exit(main())

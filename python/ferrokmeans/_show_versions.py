"""``ferrokmeans.show_versions()``: what a bug report needs, in one call."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from . import _core
from ._validation import resolve_n_threads

__all__ = ["show_versions"]

# Distributions that change what ferrokmeans computes or how it is called:
# the required ones first, then the optional ones of the extras.
_DEPENDENCIES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "joblib",
    "threadpoolctl",
    "pandas",
    "polars",
    "pillow",
    "dask",
)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _threads() -> str:
    """The thread count ``n_threads=None`` resolves to, and why."""
    env = os.environ.get("FERROKMEANS_NUM_THREADS")
    try:
        n = resolve_n_threads(None)
    except ValueError as e:  # a bad FERROKMEANS_NUM_THREADS must not hide the rest
        return f"invalid: {e}"
    if n == 0:
        return f"{_core.default_threads()} (all cores; FERROKMEANS_NUM_THREADS not set)"
    return f"{n} (FERROKMEANS_NUM_THREADS={env}; {_core.default_threads()} cores)"


def _simd() -> str:
    """The instruction set the kernels use, and the cap that chose it."""
    level = _core.simd_level()
    cap = os.environ.get("FERROKMEANS_SIMD")
    return level if cap is None else f"{level} (FERROKMEANS_SIMD={cap})"


def _report(sections: dict[str, dict[str, str]]) -> str:
    """Sections of ``key: value`` lines, the keys right-aligned throughout."""
    width = max(len(key) for rows in sections.values() for key in rows)
    blocks = (
        "\n".join([f"{title}:", *(f"{k:>{width}}: {v}" for k, v in rows.items())])
        for title, rows in sections.items()
    )
    return "\n\n".join(blocks)


def show_versions() -> None:
    """Print the versions and settings that a bug report needs.

    Prints the version and location of ferrokmeans, the SIMD instruction set
    its kernels use ("avx512", "avx2" or "portable", detected at run time and
    capped by the ``FERROKMEANS_SIMD`` environment variable), the number of
    threads a fit uses by default (all cores, or ``FERROKMEANS_NUM_THREADS``),
    then the Python interpreter, the platform and the versions of numpy,
    scikit-learn and the other packages ferrokmeans works with. Paste the
    whole output into the issue.

    Returns
    -------
    None
        The report goes to ``sys.stdout``.

    See Also
    --------
    sklearn.show_versions : The same report for scikit-learn.

    Examples
    --------
    >>> import ferrokmeans
    >>> ferrokmeans.show_versions()  # doctest: +ELLIPSIS
    ferrokmeans:
          version: ...
             simd: ...
          threads: ...
    <BLANKLINE>
    System:
    ...
    Python dependencies:
            numpy: ...
     scikit-learn: ...
    """
    package = {
        "version": _core.__version__,
        "location": str(Path(__file__).resolve().parent),
        "simd": _simd(),
        "threads": _threads(),
    }
    system = {
        "python": sys.version.replace("\n", " "),
        "executable": sys.executable,
        "machine": platform.platform(),
    }
    dependencies = {name: _version(name) for name in _DEPENDENCIES}
    print(
        _report(
            {
                "ferrokmeans": package,
                "System": system,
                "Python dependencies": dependencies,
            }
        )
    )

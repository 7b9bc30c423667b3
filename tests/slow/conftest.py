"""The slow suite: 20-million-row fits interrupted with Ctrl-C, peak memory
of big fits, a memory-mapped file (issue #4, points 3 and 8).

Every test here is marked ``slow``; ``pytest -m "not slow"`` skips them and
``pytest tests/slow`` runs only them. They start subprocesses, so that each
measurement (peak RSS, signal delivery) sees a fresh interpreter.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_PARENT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: minutes-long tests on 20 M rows and memory-mapped files "
        '(deselect with -m "not slow")',
    )
    # Neither tests/ nor tests/slow/ is a package, so pytest imports this file
    # as the module "conftest", replacing tests/conftest.py in sys.modules;
    # the test modules collected after it would then fail on
    # `from conftest import make_blobs`. Put the parent conftest back.
    for plugin in config.pluginmanager.get_plugins():
        path = getattr(plugin, "__file__", None)
        if path and Path(path).resolve() == _PARENT_CONFTEST:
            sys.modules["conftest"] = plugin

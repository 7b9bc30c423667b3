"""Sphinx configuration of the ferrokmeans documentation.

Build the HTML pages with (from the repository root, ferrokmeans and its
``docs`` extra installed)::

    python -m sphinx -W -b html docs docs/_build/html

The API reference is generated from the docstrings of the *installed*
package, so build after ``pip install .[docs]`` or ``maturin develop``.
"""

from __future__ import annotations

import ferrokmeans

project = "ferrokmeans"
author = "The ferrokmeans developers"
copyright = "2026, The ferrokmeans developers"
release = ferrokmeans.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "numpydoc",
]

exclude_patterns = ["_build", "errors.md"]

# -- autodoc and numpydoc ---------------------------------------------------
autodoc_default_options = {"member-order": "bysource"}
# Signatures show the parameters; the types are in the numpydoc sections.
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# numpydoc checks the docstring of every documented name, and the build
# (run with -W) fails on a finding: all of numpydoc's checks but these.
numpydoc_validation_checks = {
    "all",
    "ES01",  # an extended summary is optional
    "SA01",  # so is a See Also section
    "RT02",  # returns are named ("labels : ndarray"), as in scikit-learn and scipy
}

# -- HTML -------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"ferrokmeans {release}"
html_theme_options = {
    "description": "Fast, exact, reproducible k-means with a Rust core",
    "fixed_sidebar": True,
}
html_static_path: list[str] = []

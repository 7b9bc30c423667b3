"""What the installed package promises beyond its API: one version number,
complete metadata, type information, documented public names, a useful
``show_versions()``, and kernels that give the same clustering whichever
instruction set the CPU offers (the portable path included).

Run by ``.ci/run`` against the wheel installed in a fresh venv, so a file
missing from the wheel fails here.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import sklearn
from packaging.version import Version

import ferrokmeans
from ferrokmeans import _core

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = {"test", "bench", "dask", "image", "plot", "docs", "typing", "all"}


# -------------------------------------------------------------------- version


def test_version_has_one_source():
    # Compared as versions: Cargo writes a pre-release 1.2.3-rc.1 where the
    # wheel's metadata says 1.2.3rc1.
    version = Version(ferrokmeans.__version__)
    assert version == Version(_core.__version__)
    assert version == Version(importlib.metadata.version("ferrokmeans"))


def test_version_comes_from_the_cargo_workspace():
    tomllib = pytest.importorskip("tomllib")
    cargo, pyproject = ROOT / "Cargo.toml", ROOT / "pyproject.toml"
    if not cargo.is_file() or not pyproject.is_file():
        pytest.skip("not run from a source checkout")
    workspace = tomllib.loads(cargo.read_text())["workspace"]["package"]
    project = tomllib.loads(pyproject.read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert Version(ferrokmeans.__version__) == Version(workspace["version"])


# ------------------------------------------------------------------- metadata


def test_distribution_metadata():
    meta = importlib.metadata.metadata("ferrokmeans")
    assert meta["Name"] == "ferrokmeans"
    assert meta["Requires-Python"] == ">=3.10"
    assert "BSD-3-Clause" in (meta.get("License-Expression") or meta["License"])
    assert set(meta.get_all("Provides-Extra")) >= EXTRAS
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Changelog", "Issues"} <= set(urls)
    classifiers = meta.get_all("Classifier")
    assert "Programming Language :: Rust" in classifiers
    assert "Typing :: Typed" in classifiers
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("numpy") for r in requires)
    assert any(r.startswith("scikit-learn") for r in requires)


def test_typing_files_are_installed():
    package = resources.files("ferrokmeans")
    assert package.joinpath("py.typed").is_file()
    stub = package.joinpath("_core.pyi")
    assert stub.is_file()
    # Every function of the compiled module has a stub.
    text = stub.read_text()
    for name in _core.__all__:
        assert re.search(rf"\b{re.escape(name)}\b", text), name


def test_the_extension_is_built_for_the_stable_abi():
    # One abi3 wheel serves CPython 3.10 and every later version.
    suffix = Path(_core.__file__).name
    if sys.platform.startswith("linux"):
        assert suffix == "_core.abi3.so", suffix


def _public_objects():
    for name in sorted(set(ferrokmeans.__all__) - {"__version__"}):
        obj = getattr(ferrokmeans, name)
        yield name, obj
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    yield f"{name}.{attr}", member


@pytest.mark.parametrize(("name", "obj"), list(_public_objects()))
def test_public_names_have_numpydoc_docstrings_with_examples(name, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    sections = set(re.findall(r"^(\w[\w ]*)\n-{3,}$", doc, re.MULTILINE))
    assert "Examples" in sections, f"{name} has no Examples section"
    assert ">>> " in doc.split("Examples\n--------", 1)[1]


# --------------------------------------------------------------- show_versions


def test_show_versions_prints_what_a_bug_report_needs(capsys, monkeypatch):
    monkeypatch.delenv("FERROKMEANS_NUM_THREADS", raising=False)
    ferrokmeans.show_versions()
    out = capsys.readouterr().out
    fields = dict(
        re.findall(r"^\s*([\w-]+): (.*)$", out, re.MULTILINE),
    )
    assert fields["version"] == ferrokmeans.__version__
    assert fields["numpy"] == np.__version__
    assert fields["scikit-learn"] == sklearn.__version__
    assert fields["simd"].split()[0] == _core.simd_level()
    assert fields["simd"].split()[0] in {"avx512", "avx2", "portable"}
    assert fields["threads"].startswith(f"{_core.default_threads()} (all cores")
    assert fields["python"].startswith(".".join(map(str, sys.version_info[:3])))


def test_show_versions_reports_the_thread_setting(capsys, monkeypatch):
    monkeypatch.setenv("FERROKMEANS_NUM_THREADS", "3")
    ferrokmeans.show_versions()
    cores = _core.default_threads()
    assert f"threads: 3 (FERROKMEANS_NUM_THREADS=3; {cores} cores)" in (
        capsys.readouterr().out
    )

    monkeypatch.setenv("FERROKMEANS_NUM_THREADS", "many")
    ferrokmeans.show_versions()  # a bad setting is reported, not raised
    assert "threads: invalid: FERROKMEANS_NUM_THREADS" in capsys.readouterr().out


# ------------------------------------------------------------------- SIMD paths

# The level is detected once per process, so each cap runs in a new one.
_FIT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from ferrokmeans import KMeans, _core

    out = {"simd": _core.simd_level(), "fits": []}
    for n_features, dtype in [(3, np.float32), (3, np.float64), (21, np.float32),
                              (21, np.float64)]:
        rng = np.random.default_rng(n_features)
        centres = 10.0 * rng.permutation(6 * n_features).reshape(6, n_features)
        X = centres[np.arange(3000) % 6] + 0.5 * rng.standard_normal((3000, n_features))
        km = KMeans(n_clusters=6, random_state=0).fit(X.astype(dtype))
        out["fits"].append({
            "labels": km.labels_.tolist(),
            "centers": km.cluster_centers_.astype(float).tolist(),
            "inertia": km.inertia_,
            "predict": km.predict(X[:500].astype(dtype)).tolist(),
        })
    json.dump(out, sys.stdout)
    """
)


def _fit_in_subprocess(simd: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "FERROKMEANS_SIMD"}
    if simd is not None:
        env["FERROKMEANS_SIMD"] = simd
    done = subprocess.run(
        [sys.executable, "-c", _FIT_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def default_path() -> dict:
    return _fit_in_subprocess(None)


def test_simd_level_is_detected_at_run_time(default_path):
    assert default_path["simd"] in {"avx512", "avx2", "portable"}


@pytest.mark.parametrize("cap", ["portable", "avx2"])
def test_capped_simd_paths_give_the_same_clustering(default_path, cap):
    capped = _fit_in_subprocess(cap)
    levels = ["portable", "avx2", "avx512"]
    assert capped["simd"] == min(cap, default_path["simd"], key=levels.index), (
        "FERROKMEANS_SIMD did not cap the level"
    )
    for got, want in zip(capped["fits"], default_path["fits"], strict=True):
        # Well-separated data: every path finds the same clusters; centres
        # and inertia agree to rounding (FMA or not changes the last bits).
        assert got["labels"] == want["labels"]
        assert got["predict"] == want["predict"]
        np.testing.assert_allclose(got["centers"], want["centers"], rtol=1e-5)
        np.testing.assert_allclose(got["inertia"], want["inertia"], rtol=1e-5)

"""The one estimator check that scikit-learn skips unless SCIPY_ARRAY_API=1.

scikit-learn's ``check_array_api_input`` needs that variable set before scipy
is first imported, which would change scipy's behaviour for the whole test
session; so it runs here in a subprocess, for both estimators that
``test_kmeans_estimator_checks.py`` checks.
"""

import os
import subprocess
import sys

SCRIPT = """
from sklearn.utils.estimator_checks import check_array_api_input
from ferrokmeans import KMeans

for est in (KMeans(), KMeans(n_clusters=2, n_init=2, max_iter=5)):
    check_array_api_input(
        "KMeans", est, array_namespace="numpy", expect_only_array_outputs=False
    )
print("checked")
"""


def test_array_api_input_check_passes_with_scipy_array_api():
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "checked"

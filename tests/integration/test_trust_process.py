"""skops imported the lean way (model_service.package.trust) in a fresh
Python, as the server does: it loads a package and refuses an untrusted one
as before, without importing every scikit-learn estimator, and names every
other default type as skops imported whole does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


LEAN_PROCESS = """
import sys
from pathlib import Path
from model_service import package
loaded = package.load(Path(sys.argv[1]))
assert type(loaded.estimator).__name__ == "Pipeline", loaded.estimator
assert "sklearn.neural_network" not in sys.modules, "skops listed every scikit-learn estimator"
try:
    package.load(Path(sys.argv[2]))
except package.PackageError as exc:
    print(exc)
else:
    raise SystemExit("the untrusted package was loaded")
"""


def test_a_lean_process_loads_and_refuses_alike(
    model_dirs: dict[str, Path], untrusted_package: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LEAN_PROCESS, str(model_dirs["iris"]), str(untrusted_package)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "not trusted" in done.stdout
    assert "os.system" in done.stdout or "posix.system" in done.stdout


DEFAULTS = """
import sys
import orjson
if sys.argv[1] == "lean":
    from model_service.package.trust import import_skops
    import_skops()
else:
    import skops.io
from skops.io import _trusted_types as defaults
print(orjson.dumps({
    name: value for name, value in vars(defaults).items()
    if name.endswith("_NAMES") and name != "SKLEARN_ESTIMATOR_TYPE_NAMES"
}).decode())
"""


def test_the_lean_import_changes_no_other_default() -> None:
    # skops finds a ufunc's module by searching the modules loaded so far,
    # so importing fewer of them must not name the ufuncs differently.
    lists = [
        subprocess.run(
            [sys.executable, "-c", DEFAULTS, how],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        for how in ("lean", "whole")
    ]
    assert lists[0] == lists[1]
    assert "NUMPY_UFUNC_TYPE_NAMES" in lists[0]

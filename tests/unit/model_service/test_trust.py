"""skops imported without listing scikit-learn trusts exactly what skops
imported as it is does: the same scikit-learn types by default, and not one
type more."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model_service.package.trust import sklearn_trusts


def test_the_rule_is_all_estimators() -> None:
    from sklearn.utils import all_estimators
    from skops.io._utils import get_type_name

    listed = {get_type_name(cls) for _, cls in all_estimators()}
    assert all(sklearn_trusts(name) for name in listed)
    # every class of every scikit-learn module loaded so far, listed or not
    seen = {
        f"{value.__module__}.{value.__name__}"
        for name, module in list(sys.modules.items())
        if name.startswith("sklearn.") and module is not None
        for value in list(vars(module).values())
        if isinstance(value, type) and value.__module__.startswith("sklearn.")
    }
    assert len(seen - listed) > 100
    assert not [name for name in seen - listed if sklearn_trusts(name)]


@pytest.mark.parametrize(
    "name",
    [
        "os.system",
        "sklearn.base.BaseEstimator",
        "sklearn.utils._testing.MinimalClassifier",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.linear_model._logistic._LogisticRegressionLike",
        "sklearn.linear_model._logistic.NoSuchClass",
        "sklearnx.linear_model.LogisticRegression",
        "sklearn.experimental.enable_halving_search_cv.HalvingGridSearchCV",
    ],
)
def test_other_types_are_not_trusted(name: str) -> None:
    assert not sklearn_trusts(name)


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

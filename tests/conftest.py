"""Fixtures every level of tests can use: the bundled model packages,
trained into a temporary directory the first time a test asks for each one
(no binary model is committed, and a run that needs only iris trains only
iris). They are checked by loading them back in the test process: the check
in a fresh Python, which costs seconds per package, has its own tests
(tests/integration/test_package_build.py) and guards the images' builds."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from model_service.estimators import ESTIMATORS
from model_service.recipes import RECIPES
from model_service.train import build

# Property tests (hypothesis): a bounded number of examples per test, and in
# CI the same examples every run (derandomize), so a red build is
# reproducible and a green one is not luck. HYPOTHESIS_PROFILE=fuzz runs
# many more, random, on a developer's machine.
settings.register_profile(
    "ci",
    max_examples=150,
    derandomize=True,
    deadline=None,  # the machine is shared: a slow example is not a failure
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=150, deadline=None)
settings.register_profile("fuzz", max_examples=5000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() not in ("", "0", "false", "no") else "dev")
)

MODEL_NAMES = sorted(RECIPES)
#: The bundled models whose features are all numbers. Tests that send rows as
#: float arrays, or that need the service to serve the model end to end, run
#: on these until the service serves categorical features (penguins).
NUMERIC_MODELS = [name for name in MODEL_NAMES if name != "penguins"]


class ModelDirs(Mapping[str, Path]):
    """name -> directory of a freshly trained package, built on first use.
    `name:estimator` (e.g. `iris:forest`) trains that data set with that
    algorithm (`model_service.estimators`); iterating lists the plain names."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._built: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        recipe, _, estimator = name.partition(":")
        if recipe not in RECIPES or (estimator and estimator not in ESTIMATORS):
            raise KeyError(name)
        if name not in self._built:
            directory = self._root / name.replace(":", "-")
            build(recipe, directory, estimator=estimator or None, fresh_python=False)
            self._built[name] = directory
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(MODEL_NAMES)

    def __len__(self) -> int:
        return len(MODEL_NAMES)


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> ModelDirs:
    return ModelDirs(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def penguins_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package with categorical features (tests/support/penguins.py)."""
    from tests.support.penguins import build_penguins

    return build_penguins(tmp_path_factory.mktemp("penguins"))


@pytest.fixture(scope="session")
def penguins_open_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same, with a pipeline that handles unknown categories."""
    from tests.support.penguins import build_penguins

    return build_penguins(tmp_path_factory.mktemp("penguins-open"), handle_unknown=True)


@pytest.fixture(scope="session")
def untrusted_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package whose checksum and versions are right but whose pipeline
    calls os.system: skops must refuse to rebuild it, running nothing."""
    import os

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from model_service import package

    directory = tmp_path_factory.mktemp("untrusted")
    build("iris", directory / "iris", fresh_python=False)
    iris = package.load(directory / "iris")
    package.save(
        make_pipeline(FunctionTransformer(os.system), iris.estimator), iris.card, directory
    )
    return directory

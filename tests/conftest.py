"""Fixtures every level of tests can use: the bundled model packages,
trained once per test session into a temporary directory (no binary model
is committed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_service.recipes import RECIPES
from model_service.train import build

MODEL_NAMES = sorted(RECIPES)


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> directory of a freshly trained package, for every bundled model."""
    root = tmp_path_factory.mktemp("models")
    dirs = {}
    for name in MODEL_NAMES:
        build(name, root / name)
        dirs[name] = root / name
    return dirs


@pytest.fixture(scope="session")
def untrusted_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package whose checksum and versions are right but whose pipeline
    calls os.system: skops must refuse to rebuild it, running nothing."""
    import os

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from model_service import package
    from model_service.train import train

    estimator, card = train(RECIPES["iris"])
    directory = tmp_path_factory.mktemp("untrusted")
    package.save(make_pipeline(FunctionTransformer(os.system), estimator), card, directory)
    return directory

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from model_service import create_app, package
from model_service.package import ModelPackage
from model_service.settings import Settings

ClientFactory = Callable[..., TestClient]


class Packages(dict[str, ModelPackage]):
    """name -> loaded package, trained and loaded the first time a test asks."""

    def __init__(self, model_dirs: Mapping[str, Path]) -> None:
        super().__init__()
        self._dirs = model_dirs

    def __missing__(self, name: str) -> ModelPackage:
        self[name] = package.load(self._dirs[name])
        return self[name]


@pytest.fixture(scope="session")
def packages(model_dirs: Mapping[str, Path]) -> Packages:
    return Packages(model_dirs)


@pytest.fixture
def make_client(packages: dict[str, ModelPackage]) -> Iterator[ClientFactory]:
    """A TestClient on a fresh app serving the named model, lifespan run."""
    clients: list[TestClient] = []

    def make(name: str | ModelPackage = "iris", **settings: Any) -> TestClient:
        model = packages[name] if isinstance(name, str) else name
        app = create_app(Settings(**settings), model=model)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def penguins(penguins_dir: Path) -> ModelPackage:
    """A pipeline fitted on a DataFrame with categorical features."""
    return package.load(penguins_dir)


@pytest.fixture(scope="session")
def penguins_open(penguins_open_dir: Path) -> ModelPackage:
    """The same, its pipeline handling unknown categories."""
    return package.load(penguins_open_dir)


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client("iris")

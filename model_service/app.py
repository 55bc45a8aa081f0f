"""The application factory: `create_app(settings, model=None)`.

The model loads in the lifespan (or is handed in, as by the CLI and the
tests), is warmed up on its card's example, and only then does `/ping`
answer 200.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI

from model_service import errors, openapi, package
from model_service.metrics import Metrics
from model_service.middleware import RequestContext
from model_service.package import ModelPackage, PackageError
from model_service.predictor import Predictor
from model_service.routes import native, v2
from model_service.settings import Settings

log = logging.getLogger("model_service")

DESCRIPTION = """\
A scikit-learn model behind an HTTP endpoint.

POST rows to **/invocations** as JSON or CSV, features in the order of
**/metadata** (or by name), and get predictions back as JSON or CSV.
Every mistake in a request is a 4xx `application/problem+json` that
names the row and the column at fault.
"""


def create_app(settings: Settings, model: ModelPackage | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = model if model is not None else load_model(settings)
        predictor = Predictor.from_package(loaded, settings.max_rows)
        predictor.warm_up()
        card = loaded.card
        app.state.metadata_body = orjson.dumps(card.model_dump(mode="json"))
        app.state.model_headers = (
            (b"x-model-name", card.name.encode()),
            (b"x-model-version", card.version.encode()),
        )
        app.state.metrics.model_loaded(card)
        app.state.predictor = predictor
        log.info(
            "ready", extra={"model": card.name, "version": card.version, "path": str(loaded.path)}
        )
        yield
        app.state.predictor = None

    app = FastAPI(
        title="sklearn endpoint",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # OpenTelemetry hooks off: /metrics is Prometheus, and the hooks'
        # per-request checks cost more than a one-row prediction's decoding.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.predictor = None
    app.state.model_headers = ()
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    errors.install(app)
    app.include_router(native.router)
    app.include_router(v2.router)
    openapi.install(app)
    return app


def load_model(settings: Settings) -> ModelPackage:
    """The configured package; without one, the bundled iris model, built
    into the cache on first use (and rebuilt when this service's library
    versions no longer match the cached one)."""
    directory = settings.resolved_model_dir()
    if settings.model_dir is not None:
        return package.load(directory)
    try:
        return package.load(directory)
    except PackageError as exc:
        from model_service.train import build  # training code is only needed here

        log.info(
            "building the default iris model", extra={"path": str(directory), "reason": str(exc)}
        )
        build("iris", directory)
        return package.load(directory)

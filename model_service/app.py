"""The application factory: `create_app(settings, model=None)`.

The model loads in the background once the server is up (or is handed in,
as by the tests), is warmed up on its card's example, and only then does
`/ping` answer 200; before, every model route answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
import orjson
from fastapi import FastAPI
from starlette.middleware import Middleware

from model_service import errors, openapi, package
from model_service.auth import BearerToken
from model_service.deadline import BodyDeadline
from model_service.fastpath import PredictionFastPath
from model_service.metrics import Metrics
from model_service.middleware import RequestContext
from model_service.package import ModelPackage, PackageError
from model_service.predictor import BatchPolicy, Predictor
from model_service.routes import native, v2
from model_service.settings import Settings
from shared.card import ModelCard

log = logging.getLogger("model_service")

DESCRIPTION = """\
A scikit-learn model behind an HTTP endpoint.

POST rows to **/invocations** as JSON or CSV, features in the order of
**/metadata** (or by name), and get predictions back as JSON or CSV.
Every mistake in a request is a 4xx `application/problem+json` that
names the row and the column at fault.
"""


def create_app(
    settings: Settings,
    model: ModelPackage | None = None,
    on_load_failure: Callable[[str], None] | None = None,
    load_before_serving: bool = False,
) -> FastAPI:
    """The endpoint. With `model`, it serves that package from the start;
    without, it loads the configured one in the background after the port is
    bound, answering 503 until then, and calls `on_load_failure` with a
    one-line reason if the package cannot be served.

    `load_before_serving` (worker processes, model_service.workers): the
    lifespan's start-up loads the model, so the worker accepts no
    connection before it is ready, and a package it cannot serve fails its
    start-up (after `on_load_failure`), which stops the whole server."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if model is not None:
            predictor = Predictor.from_package(model, settings.max_rows, batch_policy(settings))
            predictor.warm_up()
            _serve(app, model, predictor)
            yield
        elif load_before_serving:
            if not await _load(app):
                raise RuntimeError(f"cannot serve the model: {app.state.load_error}")
            yield
        else:
            _announce(app, settings)
            loader = asyncio.create_task(_load(app))
            yield
            loader.cancel()
        app.state.predictor = None

    async def _load(app: FastAPI) -> bool:
        """Load, check and warm up the configured package; False (the
        reason logged and reported) if it cannot be served."""
        try:
            # Importing scikit-learn and skops and rebuilding the model take
            # seconds; a worker thread keeps /ping answering 503 meanwhile.
            loaded, predictor = await anyio.to_thread.run_sync(
                prepare, settings, abandon_on_cancel=True
            )
        except Exception as exc:  # a background task has no caller to raise to
            reason = str(exc) if isinstance(exc, PackageError) else f"{type(exc).__name__}: {exc}"
            log.error(
                "cannot serve the model",
                exc_info=not isinstance(exc, PackageError),
                extra={"reason": reason},
            )
            app.state.load_error = reason
            if on_load_failure is not None:
                on_load_failure(reason)
            return False
        _serve(app, loaded, predictor)
        return True

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
    app.state.load_error = None
    app.state.model_headers = ()
    _stack_layers(app)
    errors.install(app)
    app.include_router(native.router)
    app.include_router(v2.router)
    openapi.install(app)
    return app


def _stack_layers(app: FastAPI) -> None:
    """The ASGI layers in front of FastAPI's routing, outermost first; the
    one place to add another (an outer one goes first in the list).
    FastAPI's own exception layers stay outside them all.

    - BearerToken: refuses a request without the configured token
      (model_service.auth), before anything else reads it;
    - RequestContext: request id, model headers, metrics, access log, the
      last-resort 500 (model_service.middleware);
    - BodyDeadline: the 408 of a body that does not arrive in time
      (model_service.deadline), raised from `receive` so both paths answer
      it as any other problem; inside the request context, which logs it;
    - PredictionFastPath: answers the prediction routes without FastAPI's
      routing (model_service.fastpath); inside the request context, so both
      paths log, count and label alike.
    """
    layers = [
        Middleware(BearerToken, tokens=app.state.settings.bearer_tokens()),
        Middleware(RequestContext, metrics=app.state.metrics),
        Middleware(BodyDeadline, seconds=app.state.settings.body_timeout_seconds),
        Middleware(PredictionFastPath),
    ]
    # What add_middleware does, for the whole list: the first one is outermost.
    app.user_middleware[:0] = layers


def prepare(settings: Settings) -> tuple[ModelPackage, Predictor]:
    """The configured package loaded, checked and warmed up: what the server
    does before `/ping` says ready, and what `python -m model_service
    --check` does without a server."""
    loaded = load_model(settings)
    predictor = Predictor.from_package(loaded, settings.max_rows, batch_policy(settings))
    predictor.warm_up()
    return loaded, predictor


def batch_policy(settings: Settings) -> BatchPolicy:
    """The settings' micro-batching policy (model_service.batching)."""
    return BatchPolicy(settings.batching, settings.batch_wait_ms, settings.max_batch_rows)


def _serve(app: FastAPI, loaded: ModelPackage, predictor: Predictor) -> None:
    """Make the warmed-up predictor the one requests use."""
    card = loaded.card
    app.state.metadata_body = orjson.dumps(card.model_dump(mode="json"))
    _set_model_headers(app, card)
    app.state.metrics.model_loaded(card)
    app.state.predictor = predictor
    log.info("ready", extra={"model": card.name, "version": card.version, "path": str(loaded.path)})


def _announce(app: FastAPI, settings: Settings) -> None:
    """Name the model in the headers of the 503s answered while it loads,
    when its card can be read (the loader reports any problem with it)."""
    with contextlib.suppress(PackageError):
        _set_model_headers(app, package.read_card(settings.resolved_model_dir()))


def _set_model_headers(app: FastAPI, card: ModelCard) -> None:
    app.state.model_headers = (
        (b"x-model-name", card.name.encode()),
        (b"x-model-version", card.version.encode()),
    )


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
        # Checked by loading it back here, where it is about to be served:
        # a fresh Python would only repeat that check seconds later.
        build("iris", directory, fresh_python=False)
        return package.load(directory)

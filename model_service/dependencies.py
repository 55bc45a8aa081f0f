"""What routes ask for, as Annotated dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import State

from model_service.errors import ServiceUnavailable
from model_service.predictor import Predictor
from model_service.settings import Settings


def get_predictor(request: Request) -> Predictor:
    """The loaded model's predictor, or 503 while there is none."""
    return predictor_of(request.app.state)


def predictor_of(app_state: State) -> Predictor:
    """`get_predictor` from the app's state, for the fast path (no Request)."""
    predictor: Predictor | None = app_state.predictor
    if predictor is None:
        failed = app_state.load_error
        if failed:
            raise ServiceUnavailable(f"The model could not be loaded: {failed}")
        raise ServiceUnavailable("The model is still loading; try again in a moment.")
    return predictor


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# The dependency is async although it never waits: FastAPI runs plain `def`
# dependencies in its thread pool, and a thread hop per request costs more
# than a one-row prediction.


async def _predictor(request: Request) -> Predictor:
    return get_predictor(request)


PredictorDep = Annotated[Predictor, Depends(_predictor)]

"""The endpoint: a FastAPI service that serves a packaged scikit-learn model."""

from model_service.app import create_app

__all__ = ["create_app"]

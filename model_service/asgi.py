"""For ASGI servers: `uvicorn model_service.asgi:app` (settings from the
environment; the model loads in the lifespan)."""

from model_service.app import create_app
from model_service.settings import Settings

app = create_app(Settings())

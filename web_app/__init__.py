"""The application: a Flask web app that turns a person's input into an HTTP
request to the model endpoint, and the answer into plain words.

`create_app(settings, session=None)` is the one place the parts are put
together; `wsgi.py` (gunicorn) and `__main__.py` (development) call it.
"""

from __future__ import annotations

import logging
import secrets

import requests
from flask import Flask
from itsdangerous import URLSafeSerializer

from web_app import batch, error_pages, health, pages, security, upload
from web_app.endpoint import EndpointClient, RetryPolicy, replica_session
from web_app.metadata import MetadataCache
from web_app.services import Services
from web_app.settings import Settings

__all__ = ["Settings", "create_app"]

log = logging.getLogger(__name__)

#: Room in a form for the batch page's hidden fields (the CSV to try again
#: with, the signed results to download), relative to the upload limit.
FORM_MEMORY_FACTOR = 4


def create_app(settings: Settings, session: requests.Session | None = None) -> Flask:
    """The web app for the model service at `settings.model_url`; `session`
    is the HTTP session to reach it with (tests inject a fake transport)."""
    app = Flask(__name__)
    if settings.secret_key is None:
        log.warning(
            "WEB_APP_SECRET_KEY is not set: using a random key, so forms break across "
            "restarts and between worker processes."
        )
        secret = secrets.token_hex(32)
    else:
        secret = settings.secret_key.get_secret_value()
    app.config.update(
        SECRET_KEY=secret,
        # A larger request is cut off by Werkzeug (413); the batch page
        # checks the file itself against upload_max_bytes for a clearer message.
        MAX_CONTENT_LENGTH=FORM_MEMORY_FACTOR * settings.upload_max_bytes + 100_000,
        MAX_FORM_MEMORY_SIZE=FORM_MEMORY_FACTOR * settings.upload_max_bytes,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,  # a form left open over lunch should still submit
    )
    client = EndpointClient(
        settings.model_url,
        # Spread over every replica the service's name resolves to (replicas.py).
        session or replica_session(settings.model_url),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        token=settings.bearer_token(),
        retry=RetryPolicy(
            seconds=settings.retry_seconds,
            backoff=settings.retry_backoff,
            max_pause=settings.retry_max_pause,
            max_attempts=settings.retry_max_attempts,
        ),
    )
    app.extensions["web_app"] = Services(
        settings=settings,
        client=client,
        metadata=MetadataCache(client.metadata, settings.metadata_cache_seconds),
        downloads=URLSafeSerializer(secret, salt="batch-download"),
    )
    app.add_template_filter(upload.size_in_words, "size_in_words")
    security.init_app(app)
    error_pages.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(batch.bp)
    app.register_blueprint(health.bp)
    return app

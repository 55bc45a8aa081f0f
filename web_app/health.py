"""`GET /healthz`: the app's own health and whether the endpoint is ready.

The app is healthy whenever it can answer this, so the status is 200 either
way (a container orchestrator should not restart the web app because the
model is down); `endpoint.ready` says whether `/ping` answered 200.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from web_app.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    ping = services().client.ping()
    return jsonify(
        status="ok",
        endpoint={
            "url": services().client.base_url,
            "ready": ping.ready,
            "status": ping.status,
            "detail": ping.detail,
        },
    )

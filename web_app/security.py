"""CSRF protection on every form and the security headers on every answer."""

from __future__ import annotations

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect

# No script at all, styles only from our own static file, nothing framed,
# forms post only to us. The charts are inline SVG drawn with attributes,
# which CSP does not count as style.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        # Pages carry the user's data and a CSRF token: no shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response

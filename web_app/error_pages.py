"""Error pages: every failure the app can meet is answered with a page in
plain words and the status that fits, never a stack trace.

Failures of the endpoint are handled where they happen (the views keep the
user's input on the page), and so is an expired form (a missing or wrong
CSRF token) on the prediction and batch forms, by their blueprints' own
handlers, which put the input back in a fresh form. What reaches these
handlers is the rest: unknown pages, wrong methods, other expired forms (a
batch download), oversized uploads, and, as a last resort, a bug of ours,
which is logged in full and shown as a plain page.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from web_app.services import services
from web_app.upload import size_in_words

log = logging.getLogger(__name__)

PLAIN = {
    400: (
        "The request could not be read",
        "The browser sent something this page does not understand.",
    ),
    404: ("There is no such page", "Check the address, or start again from the form."),
    405: (
        "That is not how this page is used",
        "This address does not take that kind of request; start again from the form.",
    ),
    413: ("That is too much data", "The upload is larger than this app accepts."),
}


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _bug)


def _page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, message=message), status


def _csrf(exc: CSRFError) -> tuple[str, int]:
    return csrf_page()


def csrf_page() -> tuple[str, int]:
    """An expired form with no input worth keeping (a batch download)."""
    return _page(
        400,
        "This form has expired",
        "The page was open too long, or cookies are blocked, so the form's security token did not match. "
        "Go back, reload the page and send it again.",
    )


def _too_large(exc: RequestEntityTooLarge) -> tuple[str, int]:
    # The file limit, not MAX_CONTENT_LENGTH: the form may carry up to
    # FORM_MEMORY_FACTOR times the file besides, but the file is what a
    # person can act on, and what the batch page states.
    limit = services().settings.upload_max_bytes
    return _page(
        413,
        "That upload is too large",
        f"This app accepts files up to {size_in_words(limit)} "
        "(WEB_APP_UPLOAD_MAX_BYTES). Split the file and upload the parts.",
    )


def _http(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 400
    title, message = PLAIN.get(status, (exc.name, exc.description or ""))
    return _page(status, title, message)


def _bug(exc: Exception) -> tuple[str, int]:
    # Only a bug of ours gets here; the log keeps the trace, the page stays plain.
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _page(
        500,
        "Something went wrong in this app",
        "The error has been logged. Go back and try again.",
    )

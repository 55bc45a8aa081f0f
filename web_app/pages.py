"""The form at `/` and the answer at `POST /predict`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from shared.card import ModelCard
from shared.media import Format
from web_app import form, present
from web_app.client import Answer, EndpointError, Exchange
from web_app.services import services
from web_app.words import Failure, explain

bp = Blueprint("pages", __name__)
log = logging.getLogger(__name__)

Page = tuple[str, int]


@dataclass(frozen=True)
class FormError:
    """Why a submitted form cannot be used as it is, shown above the kept input."""

    title: str
    message: str


EXPIRED = FormError(
    "This form had expired",
    "Its security token was missing or did not match (the app may have restarted, or this "
    "browser does not keep its cookies), so nothing was sent. Your input is kept below: "
    "send it again. If this keeps happening, allow cookies for this site.",
)


@bp.get("/")
def index() -> Page:
    try:
        card = services().metadata.get()
    except EndpointError as exc:
        return _unavailable(exc, {})
    return _form_page(card, form.example_values(card), Format.JSON)


@bp.get("/predict")
def predict_reloaded() -> Response:
    """A reload (or a bookmark) of the answer page: there is nothing to show
    without the form's data, so back to the form, as a GET."""
    return redirect(url_for("pages.index"), 303)


@bp.post("/predict")
def predict() -> Page:
    submitted = request.form
    try:
        card = services().metadata.get()
    except EndpointError as exc:
        known = services().metadata.last_known
        if known is None:
            return _unavailable(exc, submitted)
        filled = form.read(submitted, known)
        return _form_page(
            known, filled.values, filled.format, failure=explain(exc), exchange=exc.exchange
        )
    sent_for = (submitted.get("model") or "").strip()
    if not sent_for:
        filled = form.read(submitted, card)
        return _form_page(
            card,
            filled.values,
            filled.format,
            form_error=FormError(
                "The form is incomplete",
                "It lacks the hidden field “model”, which names the model it was filled in "
                f"for (now {form.model_id(card)}), so nothing was sent. Send the form from this "
                "page; your input is kept below.",
            ),
            status=400,
        )
    if sent_for != form.model_id(card):
        return _model_changed(card, submitted)
    filled = form.read(submitted, card)
    if (bad_format := form.format_error(submitted)) is not None:
        return _form_page(
            card,
            filled.values,
            filled.format,
            errors=filled.errors,
            form_error=FormError("The request format is not one this app sends", bad_format),
            status=400,
        )
    if filled.row is None:
        return _form_page(card, filled.values, filled.format, errors=filled.errors, status=422)
    try:
        answer = services().client.predict([filled.row], card, filled.format)
    except EndpointError as exc:
        log.warning("prediction failed: %s (request id %s)", exc.message, exc.exchange.request_id)
        return _form_page(
            card, filled.values, filled.format, failure=explain(exc), exchange=exc.exchange
        )
    log.info(
        "predicted 1 row with %s v%s (request id %s)",
        card.name,
        card.version,
        answer.exchange.request_id,
    )
    return _form_page(card, filled.values, filled.format, answer=answer, row=filled.row)


@bp.errorhandler(CSRFError)
def _expired(exc: CSRFError) -> Page:
    """The form's CSRF token was missing or wrong: nothing was sent, but the
    input is put back in a fresh form (with a fresh token) to send again."""
    submitted = request.form
    try:
        card = services().metadata.get()
    except EndpointError as failed:
        known = services().metadata.last_known
        if known is None:
            return _unavailable(failed, submitted)
        card = known
    filled = form.read(submitted, card)
    return _form_page(card, filled.values, filled.format, form_error=EXPIRED, status=400)


def _model_changed(card: ModelCard, submitted: Mapping[str, str]) -> Page:
    """The model was swapped between showing the form and sending it: the
    values may mean something else now, so ask again, keeping what fits."""
    filled = form.read(submitted, card)
    values = {**form.example_values(card), **{k: v for k, v in filled.values.items() if v}}
    notice = (
        f"The model behind the endpoint has changed: it is now {card.name} version {card.version}. "
        "The form below asks for its inputs; check the values and send again."
    )
    return _form_page(card, values, filled.format, notice=notice, status=409)


def _form_page(
    card: ModelCard,
    values: Mapping[str, str],
    fmt: Format,
    *,
    errors: Mapping[str, str] | None = None,
    answer: Answer | None = None,
    row: list[float | None] | None = None,
    failure: Failure | None = None,
    exchange: Exchange | None = None,
    notice: str | None = None,
    form_error: FormError | None = None,
    status: int | None = None,
) -> Page:
    shown = answer.exchange if answer else exchange
    warnings = (
        [present.warning_words(w, card, [row]) for w in answer.body.warnings or []]
        if answer and row is not None
        else []
    )
    html = render_template(
        "predict.html",
        card=card,
        fields=form.fields(card, values, errors),
        format=fmt.name.lower(),
        model_id=form.model_id(card),
        verdict=present.verdict(answer.body, card) if answer else None,
        warnings=warnings,
        failure=failure,
        inspector=present.inspector(shown) if shown else None,
        notice=notice,
        form_error=form_error,
        endpoint_url=services().client.invocations_url,
    )
    return html, status or (failure.status if failure else 200)


def _unavailable(exc: EndpointError, submitted: Mapping[str, str]) -> Page:
    """No model card at all, so no form: say why, and keep what was typed
    in hidden fields so 'Try again' sends it once more."""
    failure = explain(exc)
    kept = [(k, v) for k, v in submitted.items() if k != "csrf_token"]
    # The typed values stay visible and editable, labelled by feature name
    # (the descriptions and ranges came with the card this process lacks).
    values = [
        (form.FIELD_PREFIX + name, present.label(name), v)
        for k, v in kept
        if (name := k.removeprefix(form.FIELD_PREFIX)) != k
    ]
    html = render_template(
        "unavailable.html",
        failure=failure,
        kept=[(k, v) for k, v in kept if not k.startswith(form.FIELD_PREFIX)],
        values=values,
        retry_action=url_for("pages.predict") if submitted else url_for("pages.index"),
        inspector=present.inspector(exc.exchange),
    )
    return html, failure.status

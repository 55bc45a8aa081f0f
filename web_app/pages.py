"""The form at `/` and the answer at `POST /predict`."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from shared.card import ModelCard
from shared.media import Format
from web_app import form, inspector, present
from web_app.endpoint import Answer, EndpointError, Exchange, ModelChanged
from web_app.services import services
from web_app.views import FormError, KnownCard, Page, card_or_unavailable, expired_form
from web_app.words import Failure, explain

bp = Blueprint("pages", __name__)
log = logging.getLogger(__name__)


@bp.get("/")
def index() -> Page:
    known = card_or_unavailable(url_for("pages.index"), stale=False)
    if not isinstance(known, KnownCard):
        return known
    return _form_page(known.card, form.example_values(known.card), Format.JSON)


@bp.get("/predict")
def predict_reloaded() -> Response:
    """A reload (or a bookmark) of the answer page: there is nothing to show
    without the form's data, so back to the form, as a GET."""
    return redirect(url_for("pages.index"), 303)


@bp.post("/predict")
def predict() -> Page:
    submitted = request.form
    known = card_or_unavailable(url_for("pages.predict"), submitted.items())
    if not isinstance(known, KnownCard):
        return known
    card = known.card
    if known.failed is not None:  # the last known card: keep the form, say why nothing was sent
        filled = form.read(submitted, card)
        return _form_page(
            card,
            filled.values,
            filled.format,
            failure=explain(known.failed),
            exchange=known.failed.exchange,
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
    except ModelChanged as exc:
        return _changed_under_us(exc, submitted)
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

    def again(card: ModelCard, notice: FormError) -> Page:
        filled = form.read(submitted, card)
        return _form_page(card, filled.values, filled.format, form_error=notice, status=400)

    return expired_form(
        "Your input is kept below: send it again.",
        url_for("pages.predict"),
        submitted.items(),
        again,
    )


def _changed_under_us(exc: ModelChanged, submitted: Mapping[str, str]) -> Page:
    """The answer came from another model than the card the form was read
    with (swapped within the card's cache time): its verdict is not shown.
    The new card is fetched and the form asked again, as for a stale form."""
    log.info(
        "the model changed under a prediction: %s (request id %s)",
        exc.message,
        exc.exchange.request_id,
    )
    services().metadata.forget()
    known = card_or_unavailable(url_for("pages.predict"), submitted.items(), stale=False)
    if not isinstance(known, KnownCard):
        return known
    return _model_changed(known.card, submitted)


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
    row: list[present.Cell] | None = None,
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
        inspector=inspector.inspector(shown) if shown else None,
        notice=notice,
        form_error=form_error,
        endpoint_url=services().client.invocations_url,
    )
    return html, status or (failure.status if failure else 200)

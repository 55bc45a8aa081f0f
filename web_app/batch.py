"""Batch predictions at `/batch`: upload a CSV, see a table and a chart,
download inputs plus predictions as CSV.

The app keeps no state between requests (several processes may serve it),
so the results page carries its own download: the result CSV, signed and
compressed, in a hidden field that `POST /batch/download` hands back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import PurePath

from flask import Blueprint, Response, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature
from werkzeug.utils import secure_filename

from shared.card import ModelCard
from shared.codecs.csv import encode_csv_request
from shared.media import Format
from web_app import error_pages, form, inspector, present, upload
from web_app.endpoint import Answer, EndpointError, EndpointRejected, ModelChanged
from web_app.services import services
from web_app.views import FormError, KnownCard, Page, card_or_unavailable, expired_form
from web_app.words import Failure, explain

bp = Blueprint("batch", __name__)
log = logging.getLogger(__name__)

#: Rows shown in the table; the download has them all.
TABLE_ROWS = 100
#: Rows with range warnings listed; the rest are counted.
LISTED_WARNINGS = 20


@dataclass(frozen=True)
class TableRow:
    line: int | None
    cells: list[str]
    prediction: str
    confidence: str | None


@bp.get("/batch")
def batch_form() -> Page:
    known = card_or_unavailable(url_for("batch.batch_form"), stale=False)
    if not isinstance(known, KnownCard):
        return known
    return _page(known.card, Format.CSV)


@bp.get("/batch/example.csv")
def example_csv() -> Response | Page:
    known = card_or_unavailable(url_for("batch.batch_form"), stale=False)
    if not isinstance(known, KnownCard):
        return known
    card = known.card
    body = encode_csv_request([card.example_row()], card.feature_names)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{card.name}-example.csv"'},
    )


@bp.post("/batch")
def batch_predict() -> Page:
    settings = services().settings
    fmt = form.read_format(request.form, Format.CSV)
    data, filename = _submitted_csv()
    text = _keepable(data, settings.upload_max_bytes)
    known = card_or_unavailable(url_for("batch.batch_predict"), _kept(fmt, text))
    if not isinstance(known, KnownCard):
        return known
    card = known.card
    if known.failed is not None:  # the last known card: keep the rows, say why nothing was sent
        return _page(card, fmt, text=text, failure=explain(known.failed), inspected=known.failed)
    if (bad_format := form.format_error(request.form)) is not None:
        return _page(
            card,
            fmt,
            text=text,
            error=_error(bad_format, title="The request format is not one this app sends"),
            status=400,
        )
    if not data.strip():
        return _page(
            card,
            fmt,
            text=text,
            error=_error("Choose a CSV file, or paste rows into the box."),
            status=400,
        )
    if len(data) > settings.upload_max_bytes:
        message = (
            f"The file is {upload.size_in_words(len(data))}; the limit is "
            f"{upload.size_in_words(settings.upload_max_bytes)}. Split it into smaller files."
        )
        return _page(card, fmt, error=_error(message), status=413)
    try:
        rows = upload.read(data, card, settings.batch_max_rows)
    except upload.UploadError as exc:
        return _page(
            card, fmt, text=text, error=_error(exc.summary, exc.problems), status=exc.status
        )
    try:
        answer = services().client.predict(rows.rows, card, fmt)
    except ModelChanged as exc:
        return _changed_under_us(exc, fmt, text)
    except EndpointError as exc:
        log.warning(
            "batch prediction failed: %s (request id %s)", exc.message, exc.exchange.request_id
        )
        details = (
            upload.errors_by_line(exc.problem.errors, rows.lines, rows.header)
            if isinstance(exc, EndpointRejected) and exc.problem.errors
            else None
        )
        return _page(card, fmt, text=text, failure=explain(exc, details), inspected=exc)
    log.info(
        "predicted %d rows with %s v%s (request id %s)",
        len(rows.rows),
        card.name,
        card.version,
        answer.exchange.request_id,
    )
    return _results(card, fmt, rows, answer, filename, text)


@bp.errorhandler(CSRFError)
def _expired(exc: CSRFError) -> Page:
    """The form's CSRF token was missing or wrong: nothing was sent; an
    upload's rows go back in the box of a fresh form (with a fresh token)."""
    if request.endpoint != "batch.batch_predict":
        return error_pages.csrf_page()
    fmt = form.read_format(request.form, Format.CSV)
    data, _ = _submitted_csv()
    text = _keepable(data, services().settings.upload_max_bytes)

    def again(card: ModelCard, notice: FormError) -> Page:
        return _page(card, fmt, text=text, error=notice, status=400)

    return expired_form(
        "Your rows are kept in the box: send them again."
        if text
        else "Choose the file again and send it.",
        url_for("batch.batch_predict"),
        _kept(fmt, text),
        again,
    )


@bp.post("/batch/download")
def download() -> Response | Page:
    try:
        saved = services().downloads.loads(request.form.get("results", ""))
        name, body = str(saved["name"]), str(saved["csv"])
    except (BadSignature, KeyError, TypeError):
        return render_template(
            "error.html",
            status=400,
            title="That download is not available",
            message="The results could not be read back. Upload the file again to get a fresh download.",
        ), 400
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _changed_under_us(exc: ModelChanged, fmt: Format, text: str) -> Page:
    """The answer came from another model than the card the file was read
    with (swapped within the card's cache time): no results are shown. The
    page is drawn again for the new model (409), the rows kept in the box."""
    log.info(
        "the model changed under a batch: %s (request id %s)", exc.message, exc.exchange.request_id
    )
    services().metadata.forget()
    known = card_or_unavailable(url_for("batch.batch_predict"), _kept(fmt, text), stale=False)
    if not isinstance(known, KnownCard):
        return known
    card = known.card
    message = (
        f"The model behind the endpoint has changed while your file was being sent: it is now "
        f"{card.name} version {card.version}, so nothing is shown for it. Check that the "
        "file's columns are the features listed below, and send it again."
    )
    return _page(
        card, fmt, text=text, error=_error(message, title="The model has changed"), status=409
    )


# --- pieces ---------------------------------------------------------------------------


def _error(
    message: str, lines: list[str] | None = None, *, title: str = "The file cannot be used yet"
) -> FormError:
    return FormError(title, message, lines or [])


def _kept(fmt: Format, text: str) -> list[tuple[str, str]]:
    """The fields the unavailable page's "Try again" sends back."""
    return [("format", fmt.name.lower()), ("csv_text", text)]


def _submitted_csv() -> tuple[bytes, str | None]:
    """The uploaded file if one was chosen, else the pasted text."""
    file = request.files.get("file")
    if file is not None and file.filename:
        return file.read(), file.filename
    return request.form.get("csv_text", "").encode(), None


def _keepable(data: bytes, limit: int) -> str:
    """The CSV as text to put back in the form, when it can be."""
    if len(data) > limit:
        return ""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ""


def _page(
    card: ModelCard,
    fmt: Format,
    *,
    text: str = "",
    error: FormError | None = None,
    failure: Failure | None = None,
    inspected: EndpointError | None = None,
    status: int | None = None,
    **results: object,
) -> Page:
    html = render_template(
        "batch.html",
        card=card,
        format=fmt.name.lower(),
        text=text,
        error=error,
        failure=failure,
        inspector=inspector.inspector(inspected.exchange)
        if inspected
        else results.pop("inspector", None),
        settings=services().settings,
        endpoint_url=services().client.invocations_url,
        **results,
    )
    return html, status or (failure.status if failure else 200)


def _results(
    card: ModelCard,
    fmt: Format,
    rows: upload.Upload,
    answer: Answer,
    filename: str | None,
    text: str,
) -> Page:
    body = answer.body
    predictions: list[str | float] = list(body.predictions)
    table = []
    for i, (row, prediction) in enumerate(zip(rows.rows[:TABLE_ROWS], predictions, strict=False)):
        confidence = None
        if body.probabilities is not None and body.classes and str(prediction) in body.classes:
            confidence = present.percent(body.probabilities[i][body.classes.index(str(prediction))])
        shown = str(prediction) if card.is_classifier else present.number(float(prediction))
        cells = [present.cell(v) for v in row]
        table.append(TableRow(rows.line_of(i), cells, shown, confidence))
    by_row = present.row_warnings(body.warnings or [], card, rows.rows)
    warnings = [
        f"Line {rows.line_of(row)}: {words}."
        for row, words in list(by_row.items())[:LISTED_WARNINGS]
    ]
    stem = secure_filename(PurePath(filename).stem) if filename else ""
    token = services().downloads.dumps(
        {"name": f"{stem or card.name}-predictions.csv", "csv": upload.result_csv(rows, card, body)}
    )
    return _page(
        card,
        fmt,
        text="" if filename else text,  # pasted rows stay in the box to edit and send again
        table=table,
        total=len(rows.rows),
        chart=present.class_counts(body.predictions, body.classes or [])
        if card.is_classifier
        else None,
        bins=None
        if card.is_classifier
        else present.histogram([float(p) for p in body.predictions]),
        warnings=warnings,
        more_warnings=max(0, len(by_row) - LISTED_WARNINGS),
        warned_rows=len(by_row),
        download=token,
        header=rows.header,
        inspector=inspector.inspector(answer.exchange),
        elapsed_ms=answer.exchange.elapsed_ms,
    )

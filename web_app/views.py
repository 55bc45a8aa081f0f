"""What the form pages (`pages` at `/`, `batch` at `/batch`) share: the
model card a page is built from, else the last one this process knew, else
the page that says the form needs the model service; and the answer to an
expired form. docs/web-app.md walks through these pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import render_template

from shared.card import ModelCard
from web_app import form, inspector, present
from web_app.endpoint import EndpointError
from web_app.services import services
from web_app.words import explain

#: A rendered page and its status, as a view returns it.
Page = tuple[str, int]


@dataclass(frozen=True)
class FormError:
    """Why a submitted form cannot be used as it is, shown above the kept
    input: a message, and the lines at fault when there are several."""

    title: str
    message: str
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KnownCard:
    """The card to build a page from. `failed` is None when it is the
    endpoint's current one; otherwise it is the last one this process knew,
    and `failed` says why the current one could not be had."""

    card: ModelCard
    failed: EndpointError | None = None


def card_or_unavailable(
    retry_action: str, kept: Iterable[tuple[str, str]] = (), *, stale: bool = True
) -> KnownCard | Page:
    """The model card; when the endpoint fails, the last known one (unless
    not `stale`); with none, the unavailable page, whose "Try again" goes to
    `retry_action` with the `kept` form fields."""
    try:
        return KnownCard(services().metadata.get())
    except EndpointError as exc:
        known = services().metadata.last_known if stale else None
        if known is None:
            return unavailable(exc, retry_action, kept)
        return KnownCard(known, exc)


def unavailable(
    exc: EndpointError, retry_action: str, kept: Iterable[tuple[str, str]] = ()
) -> Page:
    """No model card at all, so no form: say why. Submitted fields ride
    along in the "Try again" form; the typed feature values stay visible
    and editable, labelled by feature name (the descriptions and ranges
    came with the card this process lacks)."""
    fields = [(k, v) for k, v in kept if k != "csrf_token"]
    values = [
        (form.FIELD_PREFIX + name, present.label(name), v)
        for k, v in fields
        if (name := k.removeprefix(form.FIELD_PREFIX)) != k
    ]
    failure = explain(exc, input_kept=bool(fields))
    html = render_template(
        "unavailable.html",
        failure=failure,
        kept=[(k, v) for k, v in fields if not k.startswith(form.FIELD_PREFIX)],
        values=values,
        retry_action=retry_action,
        inspector=inspector.inspector(exc.exchange),
    )
    return html, failure.status


def expired_form(
    kept_words: str,
    retry_action: str,
    kept: Iterable[tuple[str, str]],
    render: Callable[[ModelCard, FormError], Page],
) -> Page:
    """The answer to a form whose CSRF token was missing or wrong: nothing
    was sent. `render` draws the form again (with a fresh token) from the
    model card, or the last known one, with the input put back and the
    notice above it; `kept_words` says where the input is. Without any card,
    the unavailable page keeps the input instead."""
    known = card_or_unavailable(retry_action, kept)
    if not isinstance(known, KnownCard):
        return known
    notice = FormError(
        "This form had expired",
        "Its security token was missing or did not match (the app may have restarted, or "
        f"this browser does not keep its cookies), so nothing was sent. {kept_words} "
        "If this keeps happening, allow cookies for this site.",
    )
    return render(known.card, notice)

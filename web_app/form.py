"""The single-prediction form, built from the model card: one field per
feature in the model's order (a number field, or a select of a categorical
feature's categories), read back into one row of numbers and categories."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from shared.card import Feature, ModelCard
from shared.media import Format
from web_app import present

FIELD_PREFIX = "x:"  # keeps feature names apart from the form's own fields (format, csrf_token)

#: The request formats a form may ask for, by the `format` field's value.
FORMATS = {"json": Format.JSON, "csv": Format.CSV}


def field_name(feature: Feature) -> str:
    return FIELD_PREFIX + feature.name


def model_id(card: ModelCard) -> str:
    """What the form remembers of the model it was built for, to notice a swap."""
    return f"{card.name}:{card.version}:{card.sha256[:12]}"


@dataclass(frozen=True)
class Option:
    """One choice of a categorical feature's select."""

    value: str
    text: str
    selected: bool


@dataclass(frozen=True)
class Field:
    """One input as the template draws it: a text field for a number, or a
    select when `options` is not None."""

    feature: Feature
    name: str
    id: str
    label: str
    value: str
    range_text: str
    error: str | None = None
    options: list[Option] | None = None


@dataclass(frozen=True)
class Filled:
    """The form as submitted: the typed text per feature, the row when every
    value is a number, and an error per field otherwise."""

    values: dict[str, str]
    row: list[present.Cell] | None
    errors: dict[str, str]
    format: Format


def example_values(card: ModelCard) -> dict[str, str]:
    return {f.name: _as_text(f.example) for f in card.features}


def _as_text(example: float | str) -> str:
    return example if isinstance(example, str) else present.number(example).replace(",", "")


def fields(
    card: ModelCard, values: Mapping[str, str], errors: Mapping[str, str] | None = None
) -> list[Field]:
    errors = errors or {}
    return [
        Field(
            feature=f,
            name=field_name(f),
            id=f"feature-{i}",
            label=present.field_label(f),
            value=values.get(f.name, ""),
            range_text=present.range_text(f),
            error=errors.get(f.name),
            options=options(f, values.get(f.name, ""), card.allow_missing)
            if f.is_categorical
            else None,
        )
        for i, f in enumerate(card.features)
    ]


def options(feature: Feature, value: str, allow_missing: bool) -> list[Option]:
    """The select's choices: "not given" first where a value may be missing,
    then the categories in the card's order. A value that is none of them
    (refused, or sent on to a model that handles unknown categories) is kept
    as a last choice, selected, so the form shows what was sent."""
    categories = feature.categories or []
    choices = [Option("", "(not given)", value == "")] if allow_missing else []
    choices += [Option(c, c, c == value) for c in categories]
    if value and value not in categories:
        choices.append(Option(value, f"{value} (not a category of this model)", True))
    return choices


def read(form: Mapping[str, str], card: ModelCard) -> Filled:
    values = {f.name: _posted(form, f) for f in card.features}
    errors: dict[str, str] = {}
    row: list[present.Cell] = []
    for feature in card.features:
        text = values[feature.name]
        try:
            if feature.is_categorical:
                row.append(_category(text, feature, card.allow_missing))
            else:
                row.append(_number(text, card.allow_missing))
        except ValueError as exc:
            errors[feature.name] = str(exc)
    return Filled(values, None if errors else row, errors, read_format(form))


def _posted(form: Mapping[str, str], feature: Feature) -> str:
    """A field as posted; a category exactly so: the select's values are
    the card's categories, and " Dream" is not "Dream" to the model."""
    text = form.get(field_name(feature), "")
    return text if feature.is_categorical else text.strip()


def read_format(form: Mapping[str, str], default: Format = Format.JSON) -> Format:
    """The format asked for; `default` when the field is absent or blank, and
    also when it is none of `FORMATS`, which `format_error` then reports."""
    return FORMATS.get(_format_value(form), default)


def format_error(form: Mapping[str, str]) -> str | None:
    """Why the `format` field cannot be used, or None: absent or blank means
    the default, anything but json or csv is refused rather than guessed."""
    value = _format_value(form)
    if not value or value in FORMATS:
        return None
    shown = value if len(value) <= 40 else value[:40] + "…"
    return (
        f"“{shown}” is not a format this app can send the data in. "
        "The accepted formats are json (JSON) and csv (CSV)."
    )


def _format_value(form: Mapping[str, str]) -> str:
    return (form.get("format") or "").strip().lower()


def _category(text: str, feature: Feature, allow_missing: bool) -> str | None:
    """The posted category. One the model was not trained on is refused in
    words, unless the card says its pipeline handles unknown categories:
    then it goes to the endpoint, whose warning the answer shows, because
    the form should take what the endpoint takes. (The select offers only
    the training categories, so such a value comes from a hand-made POST.)"""
    categories = feature.categories or []
    if not text:
        if allow_missing:
            return None
        raise ValueError(
            f"Choose one of the {len(categories)} categories; this model needs every value."
        )
    if text in categories or feature.handles_unknown:
        return text
    close = [c for c in categories if c.strip().casefold() == text.strip().casefold()]
    hint = f" Did you mean “{close[0]}”?" if close else ""
    raise ValueError(
        f"“{text}” is not a category this model knows; it takes "
        f"{present.listing(categories)}.{hint}"
    )


def _number(text: str, allow_missing: bool) -> float | None:
    if not text:
        if allow_missing:
            return None
        raise ValueError("Enter a number; this model needs every value.")
    try:
        if "_" in text:  # float() takes "1_000"; the endpoint's CSV reader does not
            raise ValueError
        value = float(text)
    except ValueError:
        hint = " Use a dot for decimals." if "," in text else ""
        raise ValueError(f"“{text}” is not a number.{hint}") from None
    if not math.isfinite(value):
        raise ValueError(f"“{text}” is not a finite number.")
    return value

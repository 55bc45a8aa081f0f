"""The single-prediction form, built from the model card: one field per
feature in the model's order, read back into one row of numbers."""

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
class Field:
    """One input as the template draws it."""

    feature: Feature
    name: str
    id: str
    label: str
    value: str
    range_text: str
    error: str | None = None


@dataclass(frozen=True)
class Filled:
    """The form as submitted: the typed text per feature, the row when every
    value is a number, and an error per field otherwise."""

    values: dict[str, str]
    row: list[float | None] | None
    errors: dict[str, str]
    format: Format


def example_values(card: ModelCard) -> dict[str, str]:
    return {f.name: present.number(f.example).replace(",", "") for f in card.features}


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
        )
        for i, f in enumerate(card.features)
    ]


def read(form: Mapping[str, str], card: ModelCard) -> Filled:
    values = {f.name: form.get(field_name(f), "").strip() for f in card.features}
    errors: dict[str, str] = {}
    row: list[float | None] = []
    for feature in card.features:
        text = values[feature.name]
        try:
            row.append(_number(text, card.allow_missing))
        except ValueError as exc:
            errors[feature.name] = str(exc)
    return Filled(values, None if errors else row, errors, read_format(form))


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

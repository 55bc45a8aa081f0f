"""Answers in human terms: labels, percentages, chart geometry and range
warnings in words (the HTTP exchange behind them is `inspector`'s).

Pure functions of the contract's types, so the templates stay simple and
this is tested without a server.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from shared.answers import AnswerBody, RangeWarning
from shared.card import Feature, ModelCard

#: One input value as the web app holds it: a number, a categorical
#: feature's category, or None where a value is missing.
Cell = float | str | None


def label(name: str) -> str:
    """`petal_length` -> `Petal length`."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def field_label(feature: Feature) -> str:
    """The form's label: `petal_length` -> `Petal length`; a short name the
    description does not spell out is an abbreviation (`bmi` -> `BMI`); a
    unit the name ends with is said once, after the label (`bill_length_mm`
    in mm -> `Bill length`)."""
    if len(feature.name) <= 3 and not feature.description.lower().startswith(feature.name.lower()):
        return feature.name.upper()
    name = feature.name
    if feature.unit and name.lower().endswith("_" + feature.unit.lower()):
        name = name[: -len(feature.unit) - 1]
    return label(name)


def with_unit(value: float, unit: str | None) -> str:
    return f"{number(value)} {unit}" if unit else number(value)


def number(value: float) -> str:
    """Short and readable: 4 significant digits, no exponent for everyday sizes."""
    if math.isnan(value):
        return "missing"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def cell(value: Cell) -> str:
    """A table cell: a category as it is, a number short, a gap as 'missing'."""
    if value is None:
        return "missing"
    return value if isinstance(value, str) else number(value)


def percent(probability: float) -> str:
    """0.943 -> '94 %'; never '100 %' or '0 %' for what is not certain."""
    if 0 < probability < 0.005:
        return "< 1 %"
    if 0.995 <= probability < 1:
        return "> 99 %"
    return f"{round(probability * 100)} %"


def bounds(feature: Feature) -> tuple[float, float]:
    """A numeric feature's training range (the card guarantees one)."""
    if feature.min is None or feature.max is None:
        raise ValueError(f"{feature.name} is {feature.type}: it has no training range")
    return feature.min, feature.max


def range_text(feature: Feature) -> str:
    """What training saw: '4.3 to 7.9 cm', or 'one of 3 categories'."""
    if feature.is_categorical:
        return categories_text(feature)
    low, high = bounds(feature)
    unit = f" {feature.unit}" if feature.unit else ""
    return f"{number(low)} to {number(high)}{unit}"


def categories_text(feature: Feature) -> str:
    count = len(feature.categories or [])
    return f"one of {count} categor{'y' if count == 1 else 'ies'}"


def listing(words: Sequence[str], limit: int = 8) -> str:
    """'Biscoe, Dream or Torgersen'; a long list cut, saying how many more."""
    shown = [f"“{w}”" for w in words[:limit]]
    if len(words) > limit:
        return ", ".join(shown) + f" and {len(words) - limit} more"
    if len(shown) < 2:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " or " + shown[-1]


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: `width` is in percent of the chart's width."""

    label: str
    value_text: str
    width: float
    highlight: bool = False


@dataclass(frozen=True)
class Verdict:
    """The answer for one row, in words."""

    headline: str  # "virginica" or "152.1"
    sentence: str  # "The model says virginica, 94 % sure."
    bars: list[Bar]  # class probabilities, classifiers only


def verdict(body: AnswerBody, card: ModelCard, row: int = 0) -> Verdict:
    target = label(card.target.name)
    prediction = body.predictions[row]
    if card.is_classifier and body.probabilities is not None and body.classes:
        probabilities = body.probabilities[row]
        best = str(prediction)
        sure = (
            probabilities[body.classes.index(best)] if best in body.classes else max(probabilities)
        )
        bars = [
            Bar(c, percent(p), _width(p), highlight=(c == best))
            for c, p in zip(body.classes, probabilities, strict=True)
        ]
        return Verdict(best, f"{target}: {best}, {percent(sure)} sure.", bars)
    value = float(prediction)
    return Verdict(number(value), f"Predicted {target.lower()}: {number(value)}.", [])


def _width(fraction: float) -> float:
    # A sliver for tiny non-zero values, so the bar is seen to exist.
    return 0.0 if fraction <= 0 else max(0.5, round(fraction * 100, 1))


def warning_words(warning: RangeWarning, card: ModelCard, rows: Sequence[Sequence[Cell]]) -> str:
    """`petal_length` out of range -> 'Petal length is 9.5 cm, above the
    largest value seen in training (6.9 cm).'; `island` not seen in training
    -> 'Island is “Atlantis”, not one of the categories seen in training
    (“Biscoe”, “Dream” or “Torgersen”).'; the endpoint's own message when
    the value cannot be found."""
    found = _warned(warning, card, rows)
    if found is None:
        return warning.message
    feature, value = found
    if isinstance(value, str):
        if not feature.is_categorical or value in (feature.categories or []):
            return warning.message
        known = listing(feature.categories or [])
        return f"{field_label(feature)} is “{value}”, not one of the categories seen in training ({known})."
    if feature.is_categorical:
        return warning.message
    low, high = bounds(feature)
    if value > high:
        side = f"above the largest value seen in training ({with_unit(high, feature.unit)})"
    elif value < low:
        side = f"below the smallest value seen in training ({with_unit(low, feature.unit)})"
    else:
        return warning.message
    return f"{field_label(feature)} is {with_unit(value, feature.unit)}, {side}."


def row_warnings(
    warnings: Sequence[RangeWarning], card: ModelCard, rows: Sequence[Sequence[Cell]]
) -> dict[int, str]:
    """Per row, its values outside training in one short phrase:
    'Age -0.07 years (training: 19 to 79 years); Island “Atlantis” (training:
    one of 3 categories)'."""
    out: dict[int, list[str]] = {}
    for w in warnings:
        found = _warned(w, card, rows)
        if found is None:
            phrase = w.message
        else:
            feature, value = found
            shown = f"“{value}”" if isinstance(value, str) else with_unit(value, feature.unit)
            phrase = f"{field_label(feature)} {shown} (training: {range_text(feature)})"
        out.setdefault(w.row, []).append(phrase)
    return {row: "; ".join(phrases) for row, phrases in sorted(out.items())}


def _warned(
    warning: RangeWarning, card: ModelCard, rows: Sequence[Sequence[Cell]]
) -> tuple[Feature, float | str] | None:
    """The feature a warning names and the row's value for it; None when
    either is not there (or the value is missing), so the endpoint's own
    words stand."""
    names = card.feature_names
    if warning.feature not in names or not 0 <= warning.row < len(rows):
        return None
    index = names.index(warning.feature)
    value = rows[warning.row][index]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return card.features[index], value


def class_counts(predictions: Sequence[str | float], classes: Sequence[str]) -> list[Bar]:
    """Bars of how many rows got each class, in the model's class order."""
    counts = Counter(str(p) for p in predictions)
    most = max(counts.values(), default=1)
    return [
        Bar(c, f"{counts[c]} row{'s' if counts[c] != 1 else ''}", _width(counts[c] / most))
        for c in classes
    ]


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    height: float  # percent of the tallest bin

    @property
    def label(self) -> str:
        return f"{number(self.low)} to {number(self.high)}"


def histogram(values: Sequence[float], bins: int | None = None) -> list[Bin]:
    """Equal-width bins (Sturges' rule by default, at most 20)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return []
    low, high = min(finite), max(finite)
    count = bins or min(20, max(1, math.ceil(math.log2(len(finite)) + 1)))
    if high == low:
        return [Bin(low, high, len(finite), 100.0)]
    step = (high - low) / count
    tallies = [0] * count
    for v in finite:
        tallies[min(count - 1, int((v - low) / step))] += 1
    tallest = max(tallies)
    return [
        Bin(low + i * step, low + (i + 1) * step, n, round(100 * n / tallest, 1))
        for i, n in enumerate(tallies)
    ]

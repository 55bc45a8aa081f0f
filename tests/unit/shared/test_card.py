from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from shared.card import ModelCard


def card_json(model_dirs: dict[str, Path], name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((model_dirs[name] / "model.json").read_bytes())
    return data


def test_the_field_names_of_the_design(model_dirs: dict[str, Path]) -> None:
    data = card_json(model_dirs, "iris")
    assert {
        "name",
        "version",
        "task",
        "features",
        "allow_missing",
        "target",
        "metrics",
        "training",
        "sha256",
    } <= set(data)
    assert set(data["features"][0]) == {
        "name",
        "type",
        "description",
        "unit",
        "min",
        "max",
        "categories",
        "handles_unknown",
        "example",
    }
    assert set(data["target"]) == {"name", "classes"}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d.update(task="clustering"), "task"),
        (lambda d: d["features"].append(d["features"][0]), "unique"),
        (lambda d: d["target"].update(classes=None), "classes"),
        (lambda d: d.update(sha256="nothex"), "sha256"),
        (lambda d: d.update(features=[]), "features"),
        (lambda d: d.update(surprise=1), "surprise"),
    ],
)
def test_inconsistent_cards_are_refused(
    model_dirs: dict[str, Path], change: Any, says: str
) -> None:
    data = card_json(model_dirs, "iris")
    change(data)
    with pytest.raises(ValidationError, match=says):
        ModelCard.model_validate(data)


def test_a_regressor_has_no_classes(model_dirs: dict[str, Path]) -> None:
    data = card_json(model_dirs, "diabetes")
    data["target"]["classes"] = ["a"]
    with pytest.raises(ValidationError, match="no classes"):
        ModelCard.model_validate(data)

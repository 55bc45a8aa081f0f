"""The model card: what a model package says about itself (`model.json`).

The model service validates it at start-up and serves it at `/metadata`;
the web app builds its form from it. Field names are fixed by the contract
(docs/model-package.md) so every reader agrees.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Feature(_Frozen):
    """One input column, in the model's order: a number (`number`,
    `integer`) with its training range, or a `categorical` string with the
    categories seen in training."""

    name: str = Field(min_length=1)
    type: Literal["number", "integer", "categorical"] = "number"
    description: str = ""
    unit: str | None = None
    min: float | None = Field(default=None, description="Smallest value seen in training.")
    max: float | None = Field(default=None, description="Largest value seen in training.")
    categories: list[str] | None = Field(
        default=None, description="A categorical feature's values seen in training."
    )
    handles_unknown: bool = Field(
        default=False,
        description="A categorical feature whose pipeline predicts for a category not seen "
        "in training (with a warning); otherwise such a value is refused.",
    )
    example: float | str = Field(description="A typical value, from a real training row.")

    @model_validator(mode="after")
    def _typed(self) -> Feature:
        if self.is_categorical:
            if not self.categories or len(set(self.categories)) != len(self.categories):
                raise ValueError(f"{self.name}: a categorical feature lists its unique categories")
            if self.min is not None or self.max is not None:
                raise ValueError(f"{self.name}: a categorical feature has no min or max")
            if not isinstance(self.example, str):
                raise ValueError(f"{self.name}: a categorical feature's example is a string")
        else:
            if self.min is None or self.max is None:
                raise ValueError(f"{self.name}: a numeric feature has a training min and max")
            if self.categories is not None or self.handles_unknown:
                raise ValueError(f"{self.name}: a numeric feature has no categories")
            if isinstance(self.example, str):
                raise ValueError(f"{self.name}: a numeric feature's example is a number")
        return self

    @property
    def is_categorical(self) -> bool:
        return self.type == "categorical"


class Target(_Frozen):
    name: str
    classes: list[str] | None = Field(
        default=None,
        description="Class labels in the order of the probabilities; none for regression.",
    )


class Training(_Frozen):
    dataset: str
    rows: int = Field(description="Rows the model was fitted on.")
    test_rows: int = Field(description="Held-out rows the metrics come from.")
    estimator: str = Field(description="The fitted pipeline, as scikit-learn prints it.")
    libraries: dict[str, str] = Field(description="Versions that must match at load time.")
    created_at: datetime


class ModelCard(_Frozen):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    version: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    task: Literal["classification", "regression"]
    description: str = ""
    features: list[Feature] = Field(min_length=1)
    allow_missing: bool = Field(default=False, description="Whether NaN is a valid input.")
    target: Target
    metrics: dict[str, float]
    training: Training
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of model.skops.")
    trusted_types: list[str] = Field(
        default_factory=list,
        description="Types model.skops needs beyond skops' defaults, named by whoever packaged "
        "it; the service trusts these and nothing more.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ModelCard:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        if self.task == "classification" and not self.target.classes:
            raise ValueError("a classifier's target must list its classes")
        if self.task == "regression" and self.target.classes:
            raise ValueError("a regressor's target has no classes")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def is_classifier(self) -> bool:
        return self.task == "classification"

    @property
    def is_numeric(self) -> bool:
        """Every feature is a number: rows can travel as one float array."""
        return not any(f.is_categorical for f in self.features)

    def example_row(self) -> list[float | str]:
        return [f.example for f in self.features]

"""The bundled models: for each data set (four bundled with scikit-learn,
and the Palmer penguins of the `palmerpenguins` package), how to load it (no
download), what its columns mean, and the pipeline to fit.

Feature names are snake_case so they work unquoted as CSV headers, JSON
keys and V2 tensor names; descriptions and units come from the data sets'
own documentation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn import datasets
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_service import estimators


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    unit: str | None = None
    #: None: as the data's dtype says (a float column is a number, strings are categorical)
    type: Literal["number", "integer"] | None = None


@dataclass(frozen=True)
class Recipe:
    """A bundled model. `load` returns the features (a float array in the
    order of `columns`, or a DataFrame with those columns) and the target (class
    names for a classifier). `allow_missing`, categories and `handles_unknown`
    are not declared: the packaging API finds them by asking the pipeline."""

    name: str
    description: str
    task: Literal["classification", "regression"]
    columns: tuple[Column, ...]
    target: str
    dataset: str
    load: Callable[[], tuple[Any, Any]]
    pipeline: Callable[[], BaseEstimator]
    #: types model.skops needs beyond skops' defaults, written to the card
    trusted_types: tuple[str, ...] = ()
    #: steps before the estimator when one is chosen (`pipeline_for`); None:
    #: the features are numbers and go in as they are (scaled for a linear model)
    prepare: Callable[[], list[BaseEstimator]] | None = None

    def pipeline_for(self, estimator: str | None = None) -> BaseEstimator:
        """The pipeline to fit: the recipe's own without a choice, else the
        recipe's preparation followed by the chosen algorithm
        (`model_service.estimators`)."""
        if estimator is None:
            return self.pipeline()
        if self.prepare is None:
            return make_pipeline(*estimators.steps(estimator, self.task, scale=True))
        return make_pipeline(*self.prepare(), *estimators.steps(estimator, self.task, scale=False))

    def trusted_types_for(self, estimator: str | None = None) -> tuple[str, ...]:
        """The types model.skops holds beyond skops' defaults, for that choice."""
        if estimator is None:
            return self.trusted_types
        return tuple(sorted({*self.trusted_types, *estimators.TRUSTED_TYPES[estimator]}))


def _load(
    loader: Callable[..., object], classes: tuple[str, ...] | None = None, **kwargs: object
) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        bunch = loader(**kwargs)
        y = np.asarray(bunch.target)  # type: ignore[attr-defined]
        if classes is not None:
            y = np.asarray(classes)[y]  # fit on names, so the model answers in words
        return np.asarray(bunch.data, dtype=np.float64), y  # type: ignore[attr-defined]

    return load


def _scaled_logistic() -> BaseEstimator:
    # Scaling makes the lbfgs solver converge and the coefficients comparable.
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


IRIS = Recipe(
    name="iris",
    description="Species of iris flowers from four measurements of their petals and sepals (Fisher, 1936).",
    task="classification",
    columns=(
        Column("sepal_length", "Length of the sepal, the green leaf under the petals", "cm"),
        Column("sepal_width", "Width of the sepal", "cm"),
        Column("petal_length", "Length of the petal", "cm"),
        Column("petal_width", "Width of the petal", "cm"),
    ),
    target="species",
    dataset="sklearn.datasets.load_iris",
    load=_load(datasets.load_iris, ("setosa", "versicolor", "virginica")),
    pipeline=_scaled_logistic,
)

WINE = Recipe(
    name="wine",
    description="Which of three cultivars (grape varieties) an Italian wine comes from, by its chemical analysis.",
    task="classification",
    columns=(
        Column("alcohol", "Alcohol content", "% vol"),
        Column("malic_acid", "Malic acid", "g/l"),
        Column("ash", "Ash", "g/l"),
        Column("alcalinity_of_ash", "Alcalinity of ash", "mEq/l"),
        Column("magnesium", "Magnesium", "mg/l", "integer"),
        Column("total_phenols", "Total phenols", "g/l"),
        Column("flavanoids", "Flavanoids", "g/l"),
        Column("nonflavanoid_phenols", "Nonflavanoid phenols", "g/l"),
        Column("proanthocyanins", "Proanthocyanins", "g/l"),
        Column("color_intensity", "Colour intensity (absorbance)", None),
        Column("hue", "Hue (absorbance ratio)", None),
        Column("od280_od315", "OD280/OD315 of diluted wines (protein content)", None),
        Column("proline", "Proline", "mg/l", "integer"),
    ),
    target="cultivar",
    dataset="sklearn.datasets.load_wine",
    load=_load(datasets.load_wine, ("cultivar_1", "cultivar_2", "cultivar_3")),
    pipeline=_scaled_logistic,
)

_CELL_MEASURES = (
    ("radius", "Radius of the cell nuclei (mean distance from centre to perimeter)"),
    ("texture", "Texture (standard deviation of grey-scale values)"),
    ("perimeter", "Perimeter of the cell nuclei"),
    ("area", "Area of the cell nuclei"),
    ("smoothness", "Smoothness (local variation in radius lengths)"),
    ("compactness", "Compactness (perimeter² / area - 1)"),
    ("concavity", "Concavity (severity of concave portions of the contour)"),
    ("concave_points", "Concave points (number of concave portions of the contour)"),
    ("symmetry", "Symmetry"),
    ("fractal_dimension", "Fractal dimension ('coastline approximation' - 1)"),
)
_CELL_STATISTICS = (
    ("mean", "mean over the nuclei in the image"),
    ("error", "standard error over the nuclei in the image"),
    ("worst", "mean of the three largest values in the image"),
)

BREAST_CANCER = Recipe(
    name="breast_cancer",
    description=(
        "Whether a breast mass is malignant or benign, from measurements of cell nuclei in a "
        "digitised image of a fine needle aspirate (Wisconsin Diagnostic Breast Cancer)."
    ),
    task="classification",
    columns=tuple(
        Column(
            f"{statistic}_{measure}" if statistic != "error" else f"{measure}_error",
            f"{description}, {how}",
        )
        for statistic, how in _CELL_STATISTICS
        for measure, description in _CELL_MEASURES
    ),
    target="diagnosis",
    dataset="sklearn.datasets.load_breast_cancer",
    load=_load(datasets.load_breast_cancer, ("malignant", "benign")),
    # Gradient-boosted trees need no scaling and take missing values (NaN) natively.
    pipeline=lambda: HistGradientBoostingClassifier(max_iter=100, random_state=0),
    trusted_types=("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",),
)

DIABETES = Recipe(
    name="diabetes",
    description=(
        "Disease progression one year after baseline for a diabetes patient, from ten baseline "
        "measurements (Efron et al., 2004). Higher is worse."
    ),
    task="regression",
    columns=(
        Column("age", "Age", "years", "integer"),
        Column("sex", "Sex, coded 1 or 2", None, "integer"),
        Column("bmi", "Body mass index", "kg/m²"),
        Column("bp", "Average blood pressure", "mm Hg"),
        Column("total_cholesterol", "Total serum cholesterol (tc)", "mg/dl"),
        Column("ldl", "Low-density lipoproteins", "mg/dl"),
        Column("hdl", "High-density lipoproteins", "mg/dl"),
        Column("cholesterol_hdl_ratio", "Total cholesterol / HDL (tch)", None),
        Column("log_triglycerides", "Log of serum triglycerides level (ltg)", None),
        Column("glucose", "Blood sugar level", "mg/dl"),
    ),
    target="disease_progression",
    dataset="sklearn.datasets.load_diabetes",
    # Unscaled, so the form asks for values in the units a clinician knows.
    load=_load(datasets.load_diabetes, scaled=False),
    pipeline=lambda: make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))),
)

PENGUIN_CATEGORIES = ("island", "sex")
PENGUIN_MEASUREMENTS = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")


def _load_penguins() -> tuple[Any, Any]:
    from palmerpenguins import load_penguins  # pandas, only when training penguins

    frame = load_penguins()
    return frame[[c.name for c in PENGUINS.columns]], frame["species"]


def _penguins_preparation() -> list[BaseEstimator]:
    # By column name, so the pipeline is fitted on (and takes) a DataFrame.
    # Missing values are imputed (the most common category, the median
    # measurement), and an island or sex not seen in training encodes as no
    # category at all rather than failing.
    return [
        ColumnTransformer(
            [
                (
                    "categories",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    list(PENGUIN_CATEGORIES),
                ),
                (
                    "measurements",
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    list(PENGUIN_MEASUREMENTS),
                ),
            ]
        )
    ]


def _penguins_pipeline() -> BaseEstimator:
    return make_pipeline(*_penguins_preparation(), LogisticRegression(max_iter=1000))


PENGUINS = Recipe(
    name="penguins",
    description=(
        "Species of penguins on three islands of the Palmer Archipelago, Antarctica, from where "
        "they were seen, their sex and four body measurements (Gorman et al., 2014; palmerpenguins)."
    ),
    task="classification",
    # in the data set's own column order
    columns=(
        Column("island", "Island of the Palmer Archipelago where the penguin was seen"),
        Column("bill_length_mm", "Length of the bill (culmen)", "mm"),
        Column("bill_depth_mm", "Depth of the bill (culmen)", "mm"),
        Column("flipper_length_mm", "Length of the flipper", "mm", "integer"),
        Column("body_mass_g", "Body mass", "g", "integer"),
        Column("sex", "Sex of the penguin"),
    ),
    target="species",
    dataset="palmerpenguins.load_penguins",
    load=_load_penguins,
    pipeline=_penguins_pipeline,
    prepare=_penguins_preparation,
    # SimpleImputer keeps the dtype of the string columns it was fitted on: a numpy dtype.
    trusted_types=("numpy.dtype",),
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (IRIS, WINE, BREAST_CANCER, DIABETES, PENGUINS)}

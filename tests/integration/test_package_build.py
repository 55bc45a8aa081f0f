"""Packaging your own model: the card inferred from the data, the fresh-process
check, and every refusal as one line that leaves nothing behind. Integration
tests because every package is loaded back in a fresh Python (and the CLI
runs as a process), about 5 s each."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from fastapi.testclient import TestClient
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_service import create_app, package
from model_service.package import PackageError, build
from model_service.package.__main__ import main as cli
from model_service.package.build import package_model
from model_service.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
TREE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"

pytestmark = pytest.mark.integration


def birds(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Penguin-like rows: two categorical columns (sex with gaps), two measurements."""
    rng = np.random.default_rng(seed)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], n)
    sex = rng.choice(["female", "male"], n).astype(object)
    sex[::9] = np.nan
    mass = rng.normal(4000, 500, n).round()
    bill = rng.normal(44, 5, n).round(1)
    species = np.where(island == "Biscoe", "Gentoo", np.where(bill > 44, "Chinstrap", "Adelie"))
    X = pd.DataFrame({"island": island, "bill_mm": bill, "mass_g": mass, "sex": sex})
    return X, pd.Series(species, name="species")


def bird_pipeline(handle_unknown: str = "ignore", impute_numbers: bool = True) -> Any:
    return make_pipeline(
        make_column_transformer(
            (
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown=handle_unknown),
                ),
                ["island", "sex"],
            ),
            (
                make_pipeline(SimpleImputer(), StandardScaler())
                if impute_numbers
                else StandardScaler(),
                ["bill_mm", "mass_g"],
            ),
        ),
        LogisticRegression(max_iter=1000),
    )


def houses(n: int = 50) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"rooms": rng.integers(1, 8, n), "area_m2": rng.uniform(20, 200, n)})
    return X, pd.Series(3 * X["rooms"] + 0.5 * X["area_m2"] + rng.normal(0, 1, n), name="price")


@pytest.fixture(scope="module")
def bird_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, pd.DataFrame]:
    X, y = birds()
    X_test, y_test = birds(30, seed=1)
    estimator = bird_pipeline().fit(X, y)
    out = tmp_path_factory.mktemp("birds") / "birds"
    package_model(
        estimator,
        X,
        y,
        out=out,
        name="birds",
        X_test=X_test,
        y_test=y_test,
        descriptions={"island": "Where it was seen"},
        units={"mass_g": "g"},
        trusted_types=["numpy.dtype"],
    )
    return out, estimator, X


@pytest.fixture(scope="module")
def house_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, pd.DataFrame]:
    X, y = houses()
    estimator = make_pipeline(StandardScaler(), Ridge()).fit(X, y)
    out = tmp_path_factory.mktemp("houses") / "houses"
    package_model(estimator, X, y, out=out, name="houses", X_test=X[:10], y_test=y[:10])
    return out, estimator, X


def test_a_column_transformer_on_a_frame(bird_package: tuple[Path, Any, pd.DataFrame]) -> None:
    out, estimator, X = bird_package
    card = package.load(out).card
    assert card.feature_names == ["island", "bill_mm", "mass_g", "sex"]
    island, bill, mass, sex = card.features
    assert (island.type, island.categories) == ("categorical", ["Biscoe", "Dream", "Torgersen"])
    assert sex.categories == ["female", "male"]
    assert island.handles_unknown  # OneHotEncoder(handle_unknown="ignore")
    assert sex.handles_unknown
    assert island.description == "Where it was seen"
    assert mass.unit == "g"
    # float columns are numbers, with their training range
    assert (bill.type, bill.min, bill.max) == ("number", X.bill_mm.min(), X.bill_mm.max())
    # the examples are one real, complete row
    example = [f.example for f in card.features]
    assert any(row == example for row in X.dropna().values.tolist())
    assert card.allow_missing  # every column imputed
    assert card.task == "classification"
    assert card.target.name == "species"
    assert card.target.classes == [str(c) for c in estimator.classes_]
    assert set(card.metrics) == {"accuracy", "f1_macro", "log_loss"}
    assert (card.training.rows, card.training.test_rows) == (60, 30)
    assert card.trusted_types == ["numpy.dtype"]


def test_what_the_pipeline_cannot_take_the_card_does_not_allow(tmp_path: Path) -> None:
    X, y = birds()
    estimator = bird_pipeline(handle_unknown="error", impute_numbers=False).fit(X, y)
    card = package_model(
        estimator, X, y, out=tmp_path / "p", name="birds", trusted_types=["numpy.dtype"]
    )
    assert not any(f.handles_unknown for f in card.features)
    # sex has gaps in training, but a missing measurement reaches LogisticRegression
    assert not card.allow_missing


def test_a_numeric_regressor_on_a_frame(house_package: tuple[Path, Any, pd.DataFrame]) -> None:
    out, estimator, X = house_package
    loaded = package.load(out)
    card = loaded.card
    rooms, area = card.features
    assert (rooms.type, area.type) == ("integer", "number")  # from the dtypes
    assert (rooms.min, rooms.max) == (X.rooms.min(), X.rooms.max())
    assert not card.allow_missing  # Ridge takes no NaN
    assert card.task == "regression"
    assert card.target.classes is None
    assert set(card.metrics) == {"r2", "mae", "rmse"}
    assert card.trusted_types == []
    np.testing.assert_array_equal(loaded.estimator.predict(X), estimator.predict(X))


def test_an_array_with_names(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    X[3, 1] = np.nan
    y = X[:, 0] * 2 + np.nan_to_num(X[:, 1])
    estimator = HistGradientBoostingRegressor(max_iter=5).fit(X, y)
    card = package_model(
        estimator,
        X,
        y,
        out=tmp_path / "p",
        name="arr",
        target="y",
        feature_names=["a", "b", "c"],
        types={"c": "integer"},
        trusted_types=[TREE],
    )
    assert card.feature_names == ["a", "b", "c"]
    assert card.features[2].type == "integer"
    assert card.allow_missing  # gradient boosting takes NaN natively
    assert card.trusted_types == [TREE]
    assert card.metrics == {}


def test_the_bundled_cards_list_what_they_trust(model_dirs: dict[str, Path]) -> None:
    assert package.read_card(model_dirs["breast_cancer"]).trusted_types == [TREE]
    assert package.read_card(model_dirs["iris"]).trusted_types == []


# --- the fresh-process check -------------------------------------------------


def test_a_package_that_loads_only_where_it_was_made_is_refused(tmp_path: Path) -> None:
    class Local(ClassifierMixin, BaseEstimator):  # not importable from another process
        def fit(self, X: Any, y: Any) -> Local:
            self.classes_ = np.unique(y)
            self.n_features_in_ = np.asarray(X).shape[1]
            return self

        def predict_proba(self, X: Any) -> np.ndarray:
            return np.tile([0.25, 0.75], (len(X), 1))

    X, y = np.eye(4), np.array(["a", "b", "a", "b"])
    types = sio.get_untrusted_types(data=sio.dumps(Local().fit(X, y)))
    with pytest.raises(PackageError, match="does not load in a fresh Python") as caught:
        package_model(
            Local().fit(X, y),
            X,
            y,
            out=tmp_path / "p",
            name="local",
            target="t",
            feature_names=["a", "b", "c", "d"],
            trusted_types=types,
        )
    assert_refused(caught.value, tmp_path)


def test_a_package_that_predicts_otherwise_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = build._fresh_outputs
    monkeypatch.setattr(build, "_fresh_outputs", lambda d, rows: fresh(d, rows) + 1e-6)
    X, y = houses()
    with pytest.raises(PackageError, match="predicts differently") as caught:
        package_model(LinearRegression().fit(X, y), X, y, out=tmp_path / "p", name="h")
    assert_refused(caught.value, tmp_path)


# --- refusals ----------------------------------------------------------------


def assert_refused(error: PackageError, directory: Path) -> None:
    """One line, and nothing written: not the package, not a staging directory."""
    assert "\n" not in str(error)
    assert list(directory.iterdir()) == []


def with_dates() -> tuple[Any, pd.DataFrame, pd.Series]:
    X = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=4), "x": [1.0, 2, 3, 4]})
    y = pd.Series([1.0, 2, 3, 4], name="y")
    return LinearRegression().fit(np.ones((4, 2)), y), X, y


def mixed() -> tuple[Any, pd.DataFrame, pd.Series]:
    X = pd.DataFrame({"code": ["a", 1, "b", 2.5], "x": [1.0, 2, 3, 4]})
    return LinearRegression().fit(np.ones((4, 2)), [1, 2, 3, 4]), X, pd.Series([1, 2, 3, 4])


REFUSALS = {
    "unfitted": (lambda: (Ridge(), *houses()), "not fitted"),
    "dates": (with_dates, "column 'day' holds dates or times"),
    "mixed objects": (mixed, "column 'code' holds float, int objects"),
    "other features": (
        lambda: (
            make_pipeline(StandardScaler(), Ridge()).fit(*houses()),
            houses()[0].rename(columns={"rooms": "bedrooms"}),
            houses()[1],
        ),
        "does not match the features the estimator was fitted on: missing 'rooms', unexpected 'bedrooms'",
    ),
    "fewer columns": (
        lambda: (Ridge().fit(np.ones((4, 3)), [1, 2, 3, 4]), np.ones((4, 2)), None),
        "has 2 columns; the estimator was fitted on 3 features",
    ),
    "a target for a clusterer": (
        lambda: (KMeans(2, n_init=1).fit(houses()[0]), *houses()),
        "KMeans is a clusterer: it predicts no target",
    ),
    "a target for a transformer": (
        lambda: (StandardScaler().fit(houses()[0]), *houses()),
        "StandardScaler is a transformer: it predicts no target",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals(tmp_path: Path, case: str) -> None:
    make, says = REFUSALS[case]
    estimator, X, y = make()
    names = ["a", "b"] if isinstance(X, np.ndarray) else None
    with pytest.raises(PackageError, match=says) as caught:
        package_model(
            estimator, X, y, out=tmp_path / "p", name="m", target="y", feature_names=names
        )
    assert_refused(caught.value, tmp_path)


def test_an_existing_directory_needs_overwrite(
    tmp_path: Path, house_package: tuple[Path, Any, pd.DataFrame]
) -> None:
    out, estimator, X = house_package
    before = (out / "model.json").read_bytes()
    with pytest.raises(PackageError, match="already exists; pass overwrite=True"):
        package_model(estimator, X, out=out, name="again", target="price")
    assert (out / "model.json").read_bytes() == before
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(
        PackageError, match=r"holds files that are not a model package \(notes.txt\)"
    ):
        package_model(estimator, X, out=tmp_path, name="again", target="price", overwrite=True)
    card = package_model(estimator, X, out=out, name="again", target="price", overwrite=True)
    assert package.read_card(out) == card
    assert sorted(p.name for p in out.parent.iterdir()) == ["houses"]  # no staging left


def test_untrusted_types_are_listed_and_refused_until_named(tmp_path: Path) -> None:
    X, y = houses()
    estimator = HistGradientBoostingRegressor(max_iter=5).fit(X, y)
    with pytest.raises(PackageError, match=f"trust by default: {TREE};.*--trust {TREE}") as caught:
        package_model(estimator, X, y, out=tmp_path / "p", name="h")
    assert_refused(caught.value, tmp_path)
    card = package_model(estimator, X, y, out=tmp_path / "p", name="h", trusted_types=[TREE])
    assert card.trusted_types == [TREE]


def test_the_loader_trusts_the_card_and_nothing_else(tmp_path: Path) -> None:
    X, y = houses()
    package_model(
        HistGradientBoostingRegressor(max_iter=5).fit(X, y),
        X,
        y,
        out=tmp_path / "p",
        name="h",
        trusted_types=[TREE],
    )
    card = package.read_card(tmp_path / "p")
    package.write(
        (tmp_path / "p" / "model.skops").read_bytes(),
        card.model_copy(update={"trusted_types": []}),
        tmp_path / "p",
    )
    with pytest.raises(PackageError, match="not trusted"):
        package.load(tmp_path / "p")


# --- the CLI -----------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's files: training and held-out CSVs, the model as skops and as a pickle."""
    directory = tmp_path_factory.mktemp("files")
    X, y = birds()
    X.assign(species=y).to_csv(directory / "train.csv", index=False)
    X_test, y_test = birds(20, seed=3)
    X_test.assign(species=y_test).to_csv(directory / "test.csv", index=False)
    estimator = bird_pipeline().fit(pd.read_csv(directory / "train.csv").drop(columns="species"), y)
    sio.dump(estimator, directory / "model.skops")
    (directory / "model.pkl").write_bytes(pickle.dumps(estimator))
    return directory


def run_cli(files: Path, model: str, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "model_service.package", str(files / model)]
    command += ["--data", str(files / "train.csv"), "--target", "species", "--name", "birds"]
    return subprocess.run(
        [*command, "--out", str(out), *flags], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_cli_end_to_end(files: Path, tmp_path: Path) -> None:
    out = tmp_path / "birds"
    done = run_cli(
        files, "model.skops", out,
        "--trust", "numpy.dtype", "--test", str(files / "test.csv"), "--version", "2",
        "--describe", "island=Where it was seen", "--unit", "mass_g=g",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("birds v2 (classification): 4 features (2 categorical), 60 rows")
    assert "loaded back and checked in a fresh Python" in done.stdout
    card = package.load(out).card
    assert card.features[0].description == "Where it was seen"
    assert card.features[2].unit == "g"
    assert card.training.dataset == "train.csv"
    assert card.training.test_rows == 20


def test_cli_refuses_with_status_2_and_one_line(files: Path, tmp_path: Path) -> None:
    done = run_cli(files, "model.skops", tmp_path / "birds")
    assert done.returncode == 2
    assert done.stderr == (
        f"model_service.package: {files / 'model.skops'} holds types that skops does not trust "
        "by default: numpy.dtype; if you trust them, name each: --trust numpy.dtype\n"
    )
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_cli_reads_a_pickle_only_when_told_it_runs_code(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(files / "model.pkl"), "--data", str(files / "train.csv"), "--target", "species"]
    args += ["--name", "birds", "--out", str(tmp_path / "birds"), "--trust", "numpy.dtype"]
    assert cli(args) == 2
    assert "pass --pickle-runs-code (it is converted to skops)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert cli([*args, "--pickle-runs-code"]) == 0
    assert package.load(tmp_path / "birds").card.name == "birds"  # a skops file, loaded safely


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (
            ["--target", "colour"],
            "has no column 'colour' (columns: island, bill_mm, mass_g, sex, species)",
        ),
        (["--describe", "island"], "--describe takes FEATURE=TEXT, not 'island'"),
        (["--unit", "wings=cm"], "units name no feature 'wings'"),
    ],
)
def test_cli_refusals(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], says: str
) -> None:
    args = [str(files / "model.skops"), "--data", str(files / "train.csv"), "--target", "species"]
    args += ["--name", "birds", "--out", str(tmp_path / "birds"), "--trust", "numpy.dtype"]
    assert cli([*args, *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("model_service.package: ")
    assert says in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


# --- served ------------------------------------------------------------------


def test_a_packaged_numeric_model_is_served(tmp_path: Path) -> None:
    # Fitted on an array: today's service hands a numeric model a float array
    # (a model fitted on a DataFrame waits for DataFrame inputs).
    X, y = houses()
    estimator = make_pipeline(StandardScaler(), Ridge()).fit(X.to_numpy(), y)
    out = tmp_path / "houses"
    package_model(estimator, X.to_numpy(), y, out=out, name="houses", feature_names=list(X))
    rows = X.iloc[:3]
    expected = estimator.predict(rows.to_numpy())
    with TestClient(create_app(Settings(), model=package.load(out))) as client:
        answer = client.post("/invocations", json={"instances": rows.to_numpy().tolist()})
        csv = "rooms,area_m2\n" + rows.to_csv(header=False, index=False)
        csv_answer = client.post(
            "/invocations", content=csv, headers={"Content-Type": "text/csv; header=present"}
        )
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(answer.json()["predictions"], expected, rtol=1e-9)
    assert csv_answer.status_code == 200, csv_answer.text
    np.testing.assert_allclose(csv_answer.json()["predictions"], expected, rtol=1e-9)

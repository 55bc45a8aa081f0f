"""A model package is served only when it is exactly what was packaged."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from model_service import package
from model_service.package import PackageError
from model_service.recipes import RECIPES


@pytest.fixture
def iris_copy(model_dirs: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(model_dirs["iris"], tmp_path / "iris"))


def edit_card(directory: Path, **changes: object) -> None:
    path = directory / "model.json"
    card = orjson.loads(path.read_bytes())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = card
        for key in parents:
            target = target[key]
        target[leaf] = value
    path.write_bytes(orjson.dumps(card))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_bundled_package_loads(model_dirs: dict[str, Path], name: str) -> None:
    loaded = package.load(model_dirs[name])
    assert loaded.card.name == name
    assert len(loaded.card.features) == loaded.estimator.n_features_in_


def test_missing_package(tmp_path: Path) -> None:
    # e.g. the generic image with nothing mounted at /model
    with pytest.raises(PackageError, match=r"nothing: no such directory$"):
        package.load(tmp_path / "nothing")


def test_empty_package_directory(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"model\.json is missing"):
        package.load(tmp_path)


def test_missing_model_file(iris_copy: Path) -> None:
    (iris_copy / "model.skops").unlink()
    with pytest.raises(PackageError, match="cannot read"):
        package.load(iris_copy)


def test_tampered_model_file(iris_copy: Path) -> None:
    data = bytearray((iris_copy / "model.skops").read_bytes())
    data[-30] ^= 0xFF
    (iris_copy / "model.skops").write_bytes(bytes(data))
    with pytest.raises(PackageError, match="does not match its card"):
        package.load(iris_copy)


def test_invalid_card(iris_copy: Path) -> None:
    edit_card(iris_copy, task="astrology")
    with pytest.raises(PackageError, match=r"not a valid model card: task"):
        package.load(iris_copy)


def test_card_that_is_not_json(iris_copy: Path) -> None:
    (iris_copy / "model.json").write_text("{not json")
    with pytest.raises(PackageError, match="not a valid model card"):
        package.load(iris_copy)


@pytest.mark.parametrize("library", ["scikit-learn", "skops"])
def test_other_library_versions_are_refused(iris_copy: Path, library: str) -> None:
    edit_card(iris_copy, **{f"training__libraries__{library}": "0.0.1"})
    with pytest.raises(PackageError, match=f"saved with {library} 0.0.1"):
        package.load(iris_copy)


def test_card_that_disagrees_with_the_estimator(iris_copy: Path) -> None:
    edit_card(iris_copy, target__classes=["a", "b", "c"])
    with pytest.raises(PackageError, match="classes"):
        package.load(iris_copy)


def test_a_model_file_that_would_run_code_is_refused(untrusted_package: Path) -> None:
    # skops names os.system as untrusted, and nothing is executed.
    with pytest.raises(PackageError, match="not trusted"):
        package.load(untrusted_package)


def test_one_line_reasons(tmp_path: Path) -> None:
    with pytest.raises(PackageError) as caught:
        package.load(tmp_path)
    assert "\n" not in str(caught.value)


# --- a card that lies about its features: refused at load, with the reason -----------


def load_and_warm(directory: Path) -> None:
    """What the server does before /ping says ready (model_service.app.prepare)."""
    from model_service.predictor import Predictor

    Predictor.from_package(package.load(directory)).warm_up()


def test_a_card_with_a_feature_too_many(iris_copy: Path) -> None:
    card = orjson.loads((iris_copy / "model.json").read_bytes())
    edit_card(iris_copy, features=[*card["features"], {**card["features"][0], "name": "extra"}])
    with pytest.raises(PackageError, match="the estimator takes 4 features, the card lists 5"):
        load_and_warm(iris_copy)


@pytest.fixture
def penguins_copy(penguins_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(penguins_dir, tmp_path / "penguins"))


def edit_feature(directory: Path, feature: str, **changes: object) -> None:
    card = orjson.loads((directory / "model.json").read_bytes())
    card["features"] = [{**f, **changes} if f["name"] == feature else f for f in card["features"]]
    (directory / "model.json").write_bytes(orjson.dumps(card))


def test_a_card_with_wrong_feature_names(penguins_copy: Path) -> None:
    edit_feature(penguins_copy, "island", name="isle")
    with pytest.raises(PackageError, match=r"fitted on columns .*island.*the card lists .*isle"):
        load_and_warm(penguins_copy)


def test_a_category_the_encoder_does_not_know(penguins_copy: Path) -> None:
    edit_feature(penguins_copy, "island", categories=["Biscoe", "Dream", "Torgersen", "Atlantis"])
    with pytest.raises(PackageError) as caught:
        load_and_warm(penguins_copy)
    message = str(caught.value)
    assert "feature 'island' lists the category 'Atlantis'" in message
    assert "the model refuses it" in message
    assert "\n" not in message


def test_a_card_that_says_unknown_categories_are_handled_when_they_are_not(
    penguins_copy: Path,
) -> None:
    edit_feature(penguins_copy, "sex", handles_unknown=True)
    with pytest.raises(PackageError, match="'sex' handles unknown categories, but the model"):
        load_and_warm(penguins_copy)


def test_an_honest_card_with_categories_loads(penguins_dir: Path, penguins_open_dir: Path) -> None:
    load_and_warm(penguins_dir)
    load_and_warm(penguins_open_dir)

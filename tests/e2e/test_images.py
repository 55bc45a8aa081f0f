"""What the built images carry: each service's own stack and not the other's.

The web app's image must not hold scikit-learn, numpy, FastAPI or uvicorn,
and the model's must not hold Flask: each Dockerfile installs only its own
lock file (requirements/web.txt, requirements/model.txt) on a base that holds
only that file too (scripts/build-base-image.sh) or nothing (python:3.11-slim).
Read from the image's own interpreter, so the venv and the base's site
directory both count.
"""

from __future__ import annotations

import functools
import json

import pytest

from tests.support.compose import distributions, run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

# (image key in built_images, distribution that must not be there)
ABSENT = [
    *(
        ("web", name)
        for name in ("scikit-learn", "scipy", "numpy", "fastapi", "starlette", "uvicorn")
    ),
    *(("iris", name) for name in ("flask", "flask-wtf", "werkzeug", "gunicorn")),
]
PRESENT = [
    *(("web", name) for name in ("flask", "gunicorn", "requests", "pydantic", "orjson")),
    *(("iris", name) for name in ("scikit-learn", "fastapi", "uvicorn", "pydantic", "orjson")),
]


@functools.cache
def _installed(image: str) -> frozenset[str]:
    return frozenset(distributions(image))


@pytest.mark.parametrize(("image", "name"), ABSENT)
def test_image_lacks_the_other_services_stack(
    built_images: dict[str, str], image: str, name: str
) -> None:
    assert name not in _installed(built_images[image]), (
        f"{built_images[image]} holds {name}: {sorted(_installed(built_images[image]))}"
    )


@pytest.mark.parametrize(("image", "name"), PRESENT)
def test_image_has_its_own_stack(built_images: dict[str, str], image: str, name: str) -> None:
    assert name in _installed(built_images[image]), sorted(_installed(built_images[image]))


def test_web_image_is_smaller_than_the_model_image(
    built_images: dict[str, str], timings: dict[str, float]
) -> None:
    def size_mb(image: str) -> float:
        info = json.loads(run(["docker", "image", "inspect", image]).stdout)[0]
        return round(info["Size"] / 1e6, 1)

    web, model = size_mb(built_images["web"]), size_mb(built_images["iris"])
    timings["web-app image (MB)"] = web
    timings["model-service:iris image (MB)"] = model
    assert web < model, f"web-app {web} MB, model-service:iris {model} MB"

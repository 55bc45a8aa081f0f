"""The web app is a thin client of the model service: building it and
serving its pages must not load the model side's stack (numpy,
scikit-learn, FastAPI, uvicorn), directly or through `shared/`.

Checked in a fresh interpreter, since this test process has them loaded
already; the fake endpoint there is a few lines of `requests`, because the
shared fakes decode with `shared.codecs`, which loads numpy itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.web_fakes import iris_card

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("numpy", "sklearn", "fastapi", "uvicorn")

SCRIPT = """
import json, sys
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from web_app import Settings, create_app

card = json.loads(sys.argv[1])
answers = {
    "/metadata": card,
    "/invocations": {
        "model": {"name": card["name"], "version": card["version"]},
        "predictions": ["versicolor"],
        "probabilities": [[0.03, 0.94, 0.03]],
        "classes": ["setosa", "versicolor", "virginica"],
    },
}


class Endpoint(BaseAdapter):
    def send(self, request, **kwargs):
        answer = requests.Response()
        answer.status_code, answer.reason = 200, "OK"
        answer.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        answer._content = json.dumps(answers[request.path_url]).encode()
        answer.request, answer.url = request, request.url
        return answer

    def close(self):
        pass


session = requests.Session()
session.mount("http://", Endpoint())
app = create_app(Settings(model_url="http://model.test", secret_key="k"), session)
app.config["WTF_CSRF_ENABLED"] = False
client = app.test_client()
form = client.get("/")
assert form.status_code == 200, form.status_code
fields = {"model": f"iris:1:{'a' * 12}", "format": "json"}
fields.update({"x:" + f["name"]: str(f["example"]) for f in card["features"]})
answer = client.post("/predict", data=fields)
assert answer.status_code == 200 and b"versicolor" in answer.data, answer.status_code
print(json.dumps(sorted(m for m in sys.argv[2:] if m in sys.modules)))
"""


def test_the_web_app_loads_nothing_of_the_model_side() -> None:
    card = json.dumps(iris_card().model_dump(mode="json"))
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT, card, *HEAVY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == []

"""The peers' throwaway virtual environments and model artefacts, under
`$BENCH_ROOT` (default /tmp/sklearn-endpoint-bench), never in the project.

Each peer is installed from PyPI with pip, at the versions below and with
this project's scikit-learn and numpy, so every server unpickles and runs
the very same fitted estimator. A venv is reused while its requirements are
unchanged (delete it to rebuild).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

BENCH_ROOT = Path(os.environ.get("BENCH_ROOT", "/tmp/sklearn-endpoint-bench"))
VENVS = BENCH_ROOT / "venvs"

_SAME_MODEL = [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}"]
#: mlflow 3.18.0's mlflow-skinny could not be installed when this was
#: written; MLServer 1.7.1's inference workers crash with uvloop >= 0.22
#: (SeldonIO/MLServer#2286).
REQUIREMENTS: dict[str, list[str]] = {
    "mlflow": ["mlflow==3.17.2", *_SAME_MODEL],
    "mlserver": ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22", *_SAME_MODEL],
}


def bin_dir(name: str) -> Path:
    return VENVS / name / "bin"


def activated(name: str) -> dict[str, str]:
    """Environment variables as if the venv were activated."""
    return {
        "VIRTUAL_ENV": str(VENVS / name),
        "PATH": f"{bin_dir(name)}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }


def ensure(name: str) -> Path:
    """The venv `name`, created and installed if its requirements changed."""
    venv = VENVS / name
    marker = venv / "bench-requirements.txt"
    wanted = "\n".join(REQUIREMENTS[name]) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return venv
    python = shutil.which("python3") or sys.executable
    if not (venv / "bin" / "python").exists():
        print(f"bench: creating {venv}", flush=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    print(f"bench: pip install {' '.join(REQUIREMENTS[name])} into {venv}", flush=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", *REQUIREMENTS[name]],
        check=True,
        timeout=1800,
    )
    marker.write_text(wanted)
    return venv


def version(name: str, package: str) -> str:
    python = bin_dir(name) / "python"
    if not python.exists():
        return ""
    done = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def save_joblib(estimator: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, out)
    return out


def mlserver_repository(joblib_path: Path, name: str, out: Path) -> Path:
    """A one-model MLServer repository: the joblib file and its settings."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copy(joblib_path, out / "model.joblib")
    settings = {
        "name": name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (out / "model-settings.json").write_text(json.dumps(settings, indent=2))
    return out


#: Run in the mlflow venv: save the joblib estimator as an MLflow model that
#: answers predict_proba. The estimator was fitted on an array; MLflow feeds
#: it a DataFrame, and scikit-learn would then warn on every request ("X has
#: feature names, but ... was fitted without"), which MLflow's server prints:
#: the copy gets the `feature_names_in_` that fitting on the DataFrame would
#: have recorded (parameters and predictions unchanged).
_MLFLOW_SAVE = """
import json, shutil, sys
import joblib, numpy as np, pandas as pd
import mlflow.sklearn
import skops.io as sio
from mlflow.models import infer_signature

source, out, columns = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
estimator = joblib.load(source)
first = estimator.steps[0][1] if hasattr(estimator, "steps") else estimator
first.feature_names_in_ = np.asarray(columns, dtype=object)
example = pd.DataFrame([json.loads(sys.argv[4])], columns=columns)
signature = infer_signature(example, estimator.predict_proba(example))
trusted = sio.get_untrusted_types(data=sio.dumps(estimator))
shutil.rmtree(out, ignore_errors=True)
mlflow.sklearn.save_model(estimator, out, signature=signature,
                          pyfunc_predict_fn="predict_proba", skops_trusted_types=trusted)
"""


def mlflow_model(joblib_path: Path, columns: list[str], example: list[float], out: Path) -> Path:
    subprocess.run(
        [
            str(bin_dir("mlflow") / "python"),
            "-c",
            _MLFLOW_SAVE,
            str(joblib_path),
            str(out),
            json.dumps(columns),
            json.dumps(example),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out

"""The raw floor: an ASGI app without a framework that serves a
scikit-learn model, the least Python a request can meet on its way to
`predict_proba` (the benchmark's yardstick, docs in bench/README.md).

Copied, with its approach, from the project's peer benchmark harness
(shared/bench/servers/raw_app.py in the steering repository, written for
issue 10); only this docstring and the method's environment variable default
differ.

POST /predict   body: {"inputs": [[f1, f2, f3, f4], ...]}
response:       {"predictions": [[p0, p1, p2], ...]}   (predict_proba)
GET  anything   {"status": "ok"} (readiness)

Env: MODEL_PATH (a joblib file), PREDICT_METHOD (predict_proba | predict).
orjson parses into a float64 array and serialises numpy directly. Run under
uvicorn with uvloop + httptools, one worker.
"""

import os

import joblib
import numpy as np
import orjson

MODEL = joblib.load(os.environ["MODEL_PATH"])
METHOD = getattr(MODEL, os.environ.get("PREDICT_METHOD", "predict_proba"))
JSON_HDR = (b"content-type", b"application/json")
DUMPS_OPT = orjson.OPT_SERIALIZE_NUMPY


async def _lifespan(receive, send):  # type: ignore[no-untyped-def]
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _reply(send, status, body):  # type: ignore[no-untyped-def]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [JSON_HDR, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] != "http":
        return None
    chunks = []
    more = True
    while more:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        more = msg.get("more_body", False)
    if scope["method"] != "POST":
        return await _reply(send, 200, b'{"status":"ok"}')  # health check
    try:
        doc = orjson.loads(b"".join(chunks))
        X = np.asarray(doc["inputs"], dtype=np.float64)
        if X.ndim != 2:
            raise ValueError("inputs must be a 2-D array")
        y = METHOD(X)
    except Exception as exc:  # noqa: BLE001 - the floor reports and moves on
        return await _reply(send, 400, orjson.dumps({"error": str(exc)}))
    await _reply(send, 200, orjson.dumps({"predictions": y}, option=DUMPS_OPT))
    return None

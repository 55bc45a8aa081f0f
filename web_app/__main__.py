"""`python -m web_app --model-url URL --host H --port P`: the development
server. The container runs gunicorn on `web_app.wsgi:app` instead."""

from __future__ import annotations

import argparse
import logging

from web_app import Settings, create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m web_app", description=__doc__)
    parser.add_argument(
        "--model-url",
        help="base URL of the model service (default: $WEB_APP_MODEL_URL or http://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides = {"model_url": args.model_url} if args.model_url else {}
    app = create_app(Settings(**overrides))
    # Never debug=True: the debugger shows stack traces and runs code from the page.
    app.run(host=args.host, port=args.port, debug=False, threaded=True)


if __name__ == "__main__":
    main()

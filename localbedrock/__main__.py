"""``python -m localbedrock [--host HOST] [--port PORT]``: serve the endpoint until stopped."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from dataclasses import asdict
from types import FrameType

from werkzeug.serving import make_server

from localbedrock.faults import Settings
from localbedrock.server import create_app

DEFAULT_PORT = 8010


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, read the ``LOCALBEDROCK_*`` settings and serve with threads."""
    parser = argparse.ArgumentParser(
        prog="python -m localbedrock",
        description="Local Bedrock-runtime-compatible image model endpoint for development "
        "and tests (placeholder images, not Amazon Bedrock).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("LOCALBEDROCK_PORT") or DEFAULT_PORT),
        help=f"port to bind; 0 picks a free one (LOCALBEDROCK_PORT or {DEFAULT_PORT})",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one JSON line per call is enough
    settings = Settings.from_env(os.environ)
    server = make_server(args.host, args.port, create_app(settings), threaded=True)
    port = server.socket.getsockname()[1]
    logging.getLogger("localbedrock").info(
        json.dumps(
            {
                "event": "listening",
                "url": f"http://{args.host}:{port}",
                "settings": asdict(settings),
            }
        )
    )
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

"""Container health check for either role: `python -m imagegen.healthcheck`.

The API is healthy when its /healthz answers 200; a worker (IMAGEGEN_ROLE=worker), which
serves no HTTP, when Redis answers. Exit status 0 is healthy, 1 is not.
"""

from __future__ import annotations

import os
import sys
import urllib.request

from redis import Redis


def main() -> int:
    try:
        if os.environ.get("IMAGEGEN_ROLE", "api") == "worker":
            Redis.from_url(os.environ["IMAGEGEN_REDIS_URL"], socket_timeout=4).ping()
            return 0
        port = os.environ.get("IMAGEGEN_BIND", "127.0.0.1:8000").rsplit(":", 1)[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as response:
            return 0 if response.status == 200 else 1
    except Exception as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""`python -m tests.moto_server -p PORT`: moto's server, answering one request at a time.

The stock `moto_server` serves each request on a thread of its own, and moto's DynamoDB
neither isolates a conditional write from a concurrent one nor rolls back a cancelled
transaction without undoing them: it restores a copy of the whole table taken when the
transaction began, erasing what other requests wrote meanwhile. DynamoDB is linearizable per
item, and the tests that race writes from many threads (test_racing_changes_count_once) hold
only on a server that is too: one request at a time is. The races themselves still happen,
between the clients' reads and conditional writes.
"""

from __future__ import annotations

import argparse


def serve_one_request_at_a_time(host: str, port: int) -> None:
    """moto's server as `moto_server` builds it, without a thread per request."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.server import MotoRequestHandler
    from werkzeug.serving import run_simple

    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    arguments = parser.parse_args()
    serve_one_request_at_a_time(arguments.host, arguments.port)

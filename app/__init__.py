"""The HTTP API: an application factory, one blueprint per resource."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider

from imagegen import logs
from imagegen.config import Settings
from imagegen.model_lifecycle import log_default_model
from imagegen.services import Services, build_services


class ContractOrderJSON(DefaultJSONProvider):
    """Keeps response fields in the order the contract lists them."""

    sort_keys = False


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = logging.getLogger("app.access")


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    # Werkzeug answers a path with "//" with an HTML redirect to the merged path; unmerged,
    # such a path matches no route and gets the enveloped 404.
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json = ContractOrderJSON(app)
    app.extensions["imagegen"] = services or build_services(settings)
    log_default_model(settings.default_model_choice, "api")

    from app import errors
    from app.api import (
        balance,
        batches,
        docs,
        edits,
        files,
        generations,
        health,
        images,
        jobs,
        models,
        uploads,
        usage,
        webhooks,
    )
    from app.query_params import declared_query_parameters, refuse_unknown_query_parameters
    from app.rate_limit_fields import add_rate_limit_fields

    errors.register(app)
    modules = (
        health,
        docs,
        files,
        models,
        generations,
        edits,
        uploads,
        images,
        jobs,
        batches,
        usage,
        balance,
        webhooks,
    )
    for module in modules:
        app.register_blueprint(module.bp)

    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else "req_" + uuid.uuid4().hex
        g.started = time.perf_counter()
        g.log_binding = logs.bind(request_id=g.request_id)

    # After the request id is set, so the refusal carries it.
    declared_query_parameters()
    app.before_request(refuse_unknown_query_parameters)

    app.after_request(add_rate_limit_fields)

    @app.after_request
    def _finish_request(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.request_id
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.started) * 1000, 1),
            },
        )
        return response

    @app.teardown_request
    def _unbind_log_context(_exc: BaseException | None) -> None:
        # gunicorn reuses threads: ids bound for this request must not leak into the next.
        logs.unbind(g.pop("log_binding", []))

    return app

"""Flask app speaking Bedrock runtime's InvokeModel REST protocol, the control plane's
foundation-model calls (localbedrock.control_plane), plus test introspection.

Errors follow the rest-json protocol botocore parses: a JSON body ``{"message": ...}``, the
error name in the ``x-amzn-ErrorType`` header and the status the service model declares
for it, so ``ClientError.response["Error"]["Code"]`` and the modeled
``client.exceptions.<Name>`` classes come out as they do against AWS.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request
from PIL import Image
from werkzeug.exceptions import HTTPException

from localbedrock.control_plane import ControlPlane
from localbedrock.faults import Faults, Settings
from localbedrock.models import BedrockError, GenerationJob, ModelHandler, resolve
from localbedrock.render import encode, sketch_image

logger = logging.getLogger("localbedrock")

RECORD_LIMIT = 500
_BASE64_ELIDE_OVER = 200
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_JSON_TYPES = ("application/json", "*/*")
# SigV4's credential scope: Credential=<key id>/<date>/<region>/<service>/aws4_request.
_SIGNED_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/")


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload), status=status, headers=headers, mimetype="application/json"
    )


def error_response(error: BedrockError) -> Response:
    """The HTTP answer botocore turns back into ``error.name`` with ``error.message``."""
    return _json(
        error.status,
        {"message": error.message},
        {"x-amzn-ErrorType": error.name},
    )


def elide_base64(value: Any) -> Any:
    """``value`` with every base64-looking string over 200 chars replaced by its size."""
    if isinstance(value, dict):
        return {key: elide_base64(item) for key, item in value.items()}
    if isinstance(value, list):
        return [elide_base64(item) for item in value]
    if isinstance(value, str) and len(value) > _BASE64_ELIDE_OVER:
        compact = value.replace("\r", "").replace("\n", "")
        if _BASE64.match(compact):
            return f"<base64:{len(compact) * 3 // 4 - compact.count('=')} bytes>"
    return value


class CallLog:
    """The last ``RECORD_LIMIT`` invoke calls, accepted or rejected, for tests to inspect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: deque[dict[str, Any]] = deque(maxlen=RECORD_LIMIT)

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append(entry)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> int:
        with self._lock:
            count = len(self._calls)
            self._calls.clear()
            return count


def _check_media_types() -> None:
    for header, label in (("Content-Type", "content type"), ("Accept", "accept type")):
        value = request.headers.get(header, "").split(";")[0].strip().lower()
        if value and value not in _JSON_TYPES:
            raise BedrockError(
                "ValidationException",
                f"The provided {label} {value} is not supported; use application/json.",
            )


def signed_region(authorization: str) -> str | None:
    """The region a SigV4-signed request was signed for: the one the client called."""
    match = _SIGNED_REGION.search(authorization)
    return match.group(1) if match else None


def _parse_body(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BedrockError(
            "ValidationException",
            "Malformed input request, please reformat your input and try again.",
        ) from None


def _render(
    model_id: str, job: GenerationJob, seed: int, index: int = 0, *, blurred: bool = False
) -> bytes:
    """Output image ``index`` of the call: the seeded sketch, or the job's edit of its input."""

    def sketch() -> Image.Image:
        return sketch_image(
            model_id=model_id,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            seed=seed,
            index=index,
            width=job.width,
            height=job.height,
            style=job.style,
            blurred=blurred,
        )

    image = sketch() if job.edit is None else job.edit.render(sketch)
    return encode(image, job.output_format)


def _generate(
    faults: Faults, model_id: str, handler: ModelHandler, job: GenerationJob
) -> dict[str, Any]:
    faults.for_prompt(job.prompt, job.requested_seed)
    if faults.is_filtered(job.prompt):
        return handler.filtered(job, lambda: _render(model_id, job, job.seeds[0], blurred=True))
    images = [_render(model_id, job, seed, index) for index, seed in enumerate(job.seeds)]
    return handler.respond(job, images)


def create_app(
    settings: Settings | None = None, control_plane: ControlPlane | None = None
) -> Flask:
    """The localbedrock WSGI app; ``settings`` and ``control_plane`` default to the
    ``LOCALBEDROCK_*`` env vars."""
    faults = Faults(settings or Settings.from_env(os.environ))
    control_plane = control_plane or ControlPlane.from_env(os.environ)
    calls = CallLog()
    app = Flask("localbedrock")

    @app.post("/model/<path:model_id>/invoke")
    def invoke(model_id: str) -> Response:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        raw = request.get_data()
        body: Any = raw.decode("utf-8", errors="replace")
        task: str | None = None  # known once the body is valid
        try:
            faults.before_call()
            base_model_id, handler = resolve(model_id)
            _check_media_types()
            body = _parse_body(raw)
            job = handler.parse(body)
            task = job.task
            response = _json(200, _generate(faults, base_model_id, handler, job))
            error_type = None
        except BedrockError as error:
            response, error_type = error_response(error), error.name
        except Exception:
            logger.exception("unexpected failure handling %s", request_id)
            internal = BedrockError(
                "InternalServerException",
                "The server encountered an internal error while processing the request.",
            )
            response, error_type = error_response(internal), internal.name
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        response.headers["x-amzn-RequestId"] = request_id
        answered_at = datetime.now(UTC).isoformat()
        calls.add(
            {
                "request_id": request_id,
                "time": answered_at,
                "model_id": model_id,
                "region": signed_region(request.headers.get("Authorization", "")),
                "task": task,
                "body": elide_base64(body),
                "status": response.status_code,
                "error_type": error_type,
                "latency_ms": latency_ms,
            }
        )
        logger.info(
            json.dumps(
                {
                    "request_id": request_id,
                    "time": answered_at,
                    "model": model_id,
                    "status": response.status_code,
                    "error_type": error_type,
                    "latency_ms": latency_ms,
                }
            )
        )
        return response

    def control_plane_answer(answer: Callable[[str], dict[str, Any]]) -> Response:
        """Call ``answer(region)`` for a control-plane operation, in the region the client
        signed for (its ARNs name it), and shape its result or error as rest-json."""
        region = signed_region(request.headers.get("Authorization", "")) or "us-east-1"
        try:
            response = _json(200, answer(region))
        except BedrockError as error:
            response = error_response(error)
        response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return response

    @app.get("/foundation-models")
    def list_foundation_models() -> Response:
        query = request.args.to_dict(flat=False)
        return control_plane_answer(lambda region: control_plane.list_models(query, region))

    @app.get("/foundation-models/<path:model_identifier>")
    def get_foundation_model(model_identifier: str) -> Response:
        query = request.args.to_dict(flat=False)
        return control_plane_answer(
            lambda region: control_plane.get_model(model_identifier, query, region)
        )

    @app.get("/_local/health")
    def health() -> Response:
        return _json(200, {"status": "ok"})

    @app.get("/_local/requests")
    def list_requests() -> Response:
        return _json(200, {"requests": calls.snapshot()})

    @app.delete("/_local/requests")
    def clear_requests() -> Response:
        return _json(200, {"cleared": calls.clear()})

    @app.errorhandler(HTTPException)
    def unknown_route(error: HTTPException) -> Response:
        return _json(
            error.code or 404,
            {"message": f"{request.method} {request.path} is not a localbedrock operation."},
            {"x-amzn-ErrorType": "UnknownOperationException"},
        )

    return app

"""JSON-lines logging with the request, job and tenant ids of the work in hand.

The ids live in context variables so that every log call inside a request or a job carries
them without passing them around. Never log keys, signatures, image bytes or whole prompts.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
tenant_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tenant_id", default=None
)

_ID_VARS = (("request_id", request_id_var), ("job_id", job_id_var), ("tenant_id", tenant_id_var))

# Attributes every LogRecord has; anything else was passed with extra= and is logged as a field.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service
        # The time to the second, formatted once per second rather than once per line.
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        entry = {
            "time": f"{self._second_text}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in _ID_VARS:
            value = var.get()
            if value is not None:
                entry[name] = value
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # botocore at DEBUG would log request bodies (prompts, images).
    logging.getLogger("botocore").setLevel(max(logging.INFO, root.level))


Binding = list[tuple[contextvars.ContextVar[str | None], contextvars.Token[str | None]]]


def bind(
    request_id: str | None = None, job_id: str | None = None, tenant_id: str | None = None
) -> Binding:
    """Set the given ids for the current context; undo with unbind()."""
    pairs = ((request_id_var, request_id), (job_id_var, job_id), (tenant_id_var, tenant_id))
    return [(var, var.set(value)) for var, value in pairs if value is not None]


def unbind(binding: Binding) -> None:
    for var, token in reversed(binding):
        var.reset(token)


@contextmanager
def log_context(
    request_id: str | None = None, job_id: str | None = None, tenant_id: str | None = None
) -> Iterator[None]:
    binding = bind(request_id, job_id, tenant_id)
    try:
        yield
    finally:
        unbind(binding)

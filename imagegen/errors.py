"""Error codes of the public API (seed 004's ImageErrorCode) and the exception that carries them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INVALID_PROMPT = "IMG001"
PROMPT_TOO_LONG = "IMG002"
UNSAFE_PROMPT = "IMG003"
INSUFFICIENT_CREDITS = "IMG101"
RATE_LIMIT_EXCEEDED = "IMG102"
STORAGE_LIMIT_EXCEEDED = "IMG103"
GENERATION_FAILED = "IMG201"
TIMEOUT = "IMG202"
SERVICE_UNAVAILABLE = "IMG203"
INVALID_IMAGE_SIZE = "IMG301"
INVALID_PARAMETERS = "IMG302"
# Input images (issue 3) extend the seed's IMG3xx validation family.
INVALID_IMAGE = "IMG303"
IMAGE_TOO_LARGE = "IMG304"
# Codes outside the seed's image-specific list, for the HTTP layer's own failures.
UNAUTHENTICATED = "AUTH001"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
INTERNAL_ERROR = "INTERNAL_ERROR"

# The HTTP status each code is answered with.
HTTP_STATUS: dict[str, int] = {
    INVALID_PROMPT: 400,
    PROMPT_TOO_LONG: 400,
    UNSAFE_PROMPT: 422,
    # 402 Payment Required: the caller's balance cannot pay; granting credits fixes it.
    INSUFFICIENT_CREDITS: 402,
    RATE_LIMIT_EXCEEDED: 429,
    # 413: a client error (4xx, so no SDK retries it as it would a 507) that says the
    # stored content would be too large; deleting images, or a larger quota, fixes it.
    STORAGE_LIMIT_EXCEEDED: 413,
    GENERATION_FAILED: 502,
    TIMEOUT: 504,
    SERVICE_UNAVAILABLE: 503,
    INVALID_IMAGE_SIZE: 400,
    INVALID_PARAMETERS: 400,
    INVALID_IMAGE: 400,
    IMAGE_TOO_LARGE: 413,
    UNAUTHENTICATED: 401,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    PAYLOAD_TOO_LARGE: 413,
    INTERNAL_ERROR: 500,
}


@dataclass
class ServiceError(Exception):
    """A failure with a public error code; the HTTP layer renders it as the error envelope."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    # When the code's usual status does not fit (a conflict answers 409 with IMG302).
    status: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return self.status or HTTP_STATUS[self.code]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceError:
        return cls(data["code"], data["message"], data.get("details") or {})

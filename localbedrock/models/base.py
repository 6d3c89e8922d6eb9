"""Shared pieces of the model handlers: Bedrock errors, the parsed job, body validation.

Bedrock validates first-party model bodies against a JSON schema and answers a
``ValidationException`` whose message names the failing JSON pointer, e.g.
``Malformed input request: #/imageGenerationConfig/seed: 2147483647 is not less or equal to
2147483646, please reformat your input and try again.``  The helpers below produce messages
in that shape so clients see the same kind of text they get from the real service.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from localbedrock.edits import Edit

# Error name -> HTTP status, as modeled in botocore's bedrock-runtime service definition.
ERROR_STATUS: dict[str, int] = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}


class BedrockError(Exception):
    """An error answered the way Bedrock runtime answers it (name, status, message)."""

    def __init__(self, name: str, message: str) -> None:
        if name not in ERROR_STATUS:
            raise ValueError(f"unknown Bedrock error name {name!r}")
        super().__init__(message)
        self.name = name
        self.message = message
        self.status = ERROR_STATUS[name]


def malformed(path: str, detail: str) -> BedrockError:
    """A schema-violation ValidationException for the JSON pointer ``path``."""
    return BedrockError(
        "ValidationException",
        f"Malformed input request: {path}: {detail}, please reformat your input and try again.",
    )


def not_supported(what: str) -> BedrockError:
    """A ValidationException for a real Bedrock feature that localbedrock does not emulate yet."""
    return BedrockError(
        "ValidationException",
        f"{what} is not supported by localbedrock yet.",
    )


@dataclass(frozen=True)
class GenerationJob:
    """A validated request, reduced to what rendering and faults need."""

    task: str  # in the model's own words (TEXT_IMAGE, image-to-image, masking, ...)
    prompt: str
    negative_prompt: str | None
    requested_seed: int | None  # as sent: keys the flaky-trigger counter
    seeds: tuple[int, ...]  # one per image to produce: the seed the model reports for it
    width: int
    height: int
    style: str | None
    output_format: str  # png | jpeg | webp
    edit: Edit | None = None  # how the input image(s) shape the output; None = text-to-image


class ModelHandler(abc.ABC):
    """One model family: validates bodies and shapes responses like that family does."""

    model_ids: ClassVar[tuple[str, ...]]

    @abc.abstractmethod
    def parse(self, body: Any) -> GenerationJob:
        """Validate ``body`` and return the job; raise BedrockError when Bedrock would."""

    @abc.abstractmethod
    def respond(self, job: GenerationJob, images: list[bytes]) -> dict[str, Any]:
        """The 200 response body for rendered ``images``."""

    @abc.abstractmethod
    def filtered(self, job: GenerationJob, placeholder: Callable[[], bytes]) -> dict[str, Any]:
        """The answer when the content filter blocks the prompt (may raise instead).

        ``placeholder`` renders the blurred stand-in image for models that return one.
        """


def dispatch(
    task: str, tasks: Mapping[str, Callable[[], GenerationJob] | None], path: str
) -> GenerationJob:
    """Run the parser for ``task``; known-but-unemulated tasks get a clear ValidationException.

    ``tasks`` maps every task name the real model accepts to its parser, or to None when
    localbedrock does not emulate it yet (colour guidance, virtual try-on, ...).
    """
    if task not in tasks:
        raise malformed(path, f"{task} is not a valid enum value")
    parser = tasks[task]
    if parser is None:
        raise not_supported(f"Task {task}")
    return parser()


# --- JSON-schema-like checks -------------------------------------------------------------


def type_name(value: Any) -> str:
    """The JSON type name Bedrock's schema errors use for ``value``."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    return "JSONObject"


def child(path: str, key: str | int) -> str:
    """JSON pointer of ``key`` under ``path`` (``#`` is the document root)."""
    return f"{path}/{key}"


def expect_object(value: Any, path: str) -> dict[str, Any]:
    """Return ``value`` as a JSON object or raise the schema type error."""
    if not isinstance(value, dict):
        raise malformed(path, f"expected type: JSONObject, found: {type_name(value)}")
    return value


def check_keys(
    obj: Mapping[str, Any], path: str, allowed: Iterable[str], required: Iterable[str] = ()
) -> None:
    """Reject missing required keys and keys the schema does not allow."""
    for key in required:
        if key not in obj:
            raise malformed(path, f"required key [{key}] not found")
    allowed_set = set(allowed)
    for key in obj:
        if key not in allowed_set:
            raise malformed(path, f"extraneous key [{key}] is not permitted")


def get_string(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    min_len: int = 0,
    max_len: int | None = None,
    enum: Iterable[str] | None = None,
) -> str | None:
    """Optional string member with length (and enum) limits; None when absent."""
    if key not in obj:
        return None
    value = obj[key]
    where = child(path, key)
    if not isinstance(value, str):
        raise malformed(where, f"expected type: String, found: {type_name(value)}")
    if enum is not None and value not in set(enum):
        raise malformed(where, f"{value} is not a valid enum value")
    if len(value) < min_len:
        raise malformed(where, f"expected minLength: {min_len}, actual: {len(value)}")
    if max_len is not None and len(value) > max_len:
        raise malformed(where, f"expected maxLength: {max_len}, actual: {len(value)}")
    return value


def _check_range(value: float, where: str, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise malformed(where, f"{value} is not greater or equal to {minimum}")
    if maximum is not None and value > maximum:
        raise malformed(where, f"{value} is not less or equal to {maximum}")


def get_int(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """Optional integer member within [minimum, maximum]; None when absent."""
    if key not in obj:
        return None
    value = obj[key]
    where = child(path, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(where, f"expected type: Integer, found: {type_name(value)}")
    _check_range(value, where, minimum, maximum)
    return value


def get_bool(obj: Mapping[str, Any], key: str, path: str) -> bool | None:
    """Optional boolean member; None when absent."""
    if key not in obj:
        return None
    value = obj[key]
    if not isinstance(value, bool):
        raise malformed(child(path, key), f"expected type: Boolean, found: {type_name(value)}")
    return value


def get_number(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    """Optional number member within [minimum, maximum]; None when absent."""
    if key not in obj:
        return None
    value = obj[key]
    where = child(path, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise malformed(where, f"expected type: Number, found: {type_name(value)}")
    _check_range(value, where, minimum, maximum)
    return float(value)

"""POST /v1/images/edits: image-to-image, inpainting, outpainting, variation, background removal.

The body is JSON, or (for OpenAI-style clients) multipart/form-data with `image` and `mask`
files. Every input image is decoded and checked here, then prepared for the model and stored;
the job carries only storage keys, so image bytes never go through the queue. Images given
inline (base64 or files) become uploads, and the stored request names them by id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue

from app import idempotency
from app.api.image_input import accept_large_bodies, file_as_base64, is_multipart
from app.auth import require_api_key
from app.context import services
from app.json_body import check_text, json_body
from app.submission import check_webhook_url, replay, requested_wait, submit
from imagegen import catalog, errors
from imagegen.editing import (
    EditImages,
    EditRequest,
    InputKeys,
    PreparedInputs,
    check_request,
    choose_model,
    parse_edit_request,
    plan_edit,
    prepare_inputs,
)
from imagegen.errors import ServiceError
from imagegen.input_images import InputImage, decode_base64, open_image
from imagegen.records import PENDING, Job, utc_now
from imagegen.services import Services
from imagegen.storage.blobs import blob_key
from imagegen.uploads import image_limits, load_owned_image, store_upload

bp = Blueprint("edits", __name__, url_prefix="/v1")
bp.before_request(require_api_key)
accept_large_bodies(bp)

# OpenAI's images/edits form sends response_format; we always answer with URLs.
_OPENAI_URL_FORMAT = "url"


@bp.post("/images/edits")
def create_edit() -> ResponseReturnValue:
    wait = requested_wait()
    seen = idempotency.seen_before()
    if seen is not None:
        return replay(seen.resource_id, wait)
    body, strict = _read_body()
    draft = EditDraft.check(services(), parse_edit_request(body, strict=strict))
    return submit(draft.job(), draft.edit.async_, wait)


@dataclass
class EditDraft:
    """An edit request whose every parameter and image proved usable, nothing stored yet.

    Checking all of a request (or of a batch's requests) before storing anything means a
    refused request leaves no uploads or input files behind.
    """

    svc: Services
    edit: EditRequest
    spec: catalog.ModelSpec
    requested: str
    note: str | None
    inputs: _InputCollector
    prepared: PreparedInputs

    @classmethod
    def check(cls, svc: Services, edit: EditRequest) -> EditDraft:
        spec, requested, note = choose_model(edit, svc.settings.default_model)
        check_request(edit, spec)
        check_webhook_url(edit.webhook_url)
        inputs = _InputCollector(svc)
        prepared = prepare_inputs(edit, spec, inputs.collect(edit))
        return cls(svc, edit, spec, requested, note, inputs, prepared)

    def job(self, batch_id: str | None = None) -> Job:
        """Store the inline images as uploads and the prepared inputs; the job using them."""
        stored_request = self.inputs.store_inline(self.edit)
        job_id = "job_" + uuid.uuid4().hex
        created_at = utc_now()
        keys = _store_prepared(self.svc, job_id, created_at, self.prepared)
        plan = plan_edit(self.edit, self.spec, self.requested, self.note, self.prepared, keys)
        return Job(
            job_id=job_id,
            tenant_id=g.tenant_id,
            user_id=g.user_id,
            request_id=g.request_id,
            kind=self.edit.task,
            request=stored_request,
            plan=plan.to_dict(),
            status=PENDING,
            status_message="queued",
            created_at=created_at,
            webhook_url=self.edit.webhook_url,
            priority=self.edit.priority,
            batch_id=batch_id,
        )


def _read_body() -> tuple[dict[str, Any], bool]:
    """The request as a dict, and whether it is JSON (strict types) or form fields."""
    if is_multipart():
        return _form_body(), False
    body = json_body()
    if body is None:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "the request body must be JSON (Content-Type: application/json) or multipart/form-data",
        )
    if not isinstance(body, dict):
        raise ServiceError(errors.INVALID_PARAMETERS, "the request body must be a JSON object")
    return body, True


def _form_body() -> dict[str, Any]:
    """An OpenAI-style form: `image` file(s), optional `mask` file, the rest as fields."""
    body: dict[str, Any] = {}
    for name in request.form:
        values = request.form.getlist(name)
        body[name] = values if name in ("user_tags", "image_ids") else values[0]
    check_text(body)
    response_format = body.pop("response_format", _OPENAI_URL_FORMAT)
    if response_format != _OPENAI_URL_FORMAT:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "response_format must be 'url': images are returned as signed URLs",
            {"parameter": "response_format", "allowed": [_OPENAI_URL_FORMAT]},
        )
    files = request.files.getlist("image") + request.files.getlist("image[]")
    if len(files) == 1:
        body["input_image_base64"] = file_as_base64(files[0], "image")
    elif files:
        body["input_images_base64"] = [file_as_base64(f, "image") for f in files]
    mask = request.files.get("mask")
    if mask is not None:
        body["mask_image_base64"] = file_as_base64(mask, "mask")
    unknown_files = sorted(set(request.files) - {"image", "image[]", "mask"})
    if unknown_files:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"unknown file fields: {', '.join(unknown_files)} (send 'image' and 'mask')",
            {"parameter": unknown_files[0]},
        )
    # OpenAI's edits endpoint is inpainting when a mask is given.
    body.setdefault("task", "inpaint" if mask is not None else catalog.IMAGE_TO_IMAGE)
    return body


@dataclass
class _Inline:
    field: str
    data: bytes
    checked: InputImage


class _InputCollector:
    """Decodes every image a request names, remembering inline ones to store as uploads."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc
        self._limits = image_limits(svc.settings)
        self._inline: list[_Inline] = []

    def collect(self, edit: EditRequest) -> EditImages:
        sources: list[InputImage] = []
        if edit.image_id is not None:
            sources.append(self._owned(edit.image_id, "image_id"))
        if edit.input_image_base64 is not None:
            sources.append(self._decode(edit.input_image_base64, "input_image_base64"))
        for i, image_id in enumerate(edit.image_ids):
            sources.append(self._owned(image_id, f"image_ids[{i}]"))
        for i, value in enumerate(edit.input_images_base64):
            sources.append(self._decode(value, f"input_images_base64[{i}]"))
        mask = None
        if edit.mask_image_id is not None:
            mask = self._owned(edit.mask_image_id, "mask_image_id")
        elif edit.mask_image_base64 is not None:
            mask = self._decode(edit.mask_image_base64, "mask_image_base64", keep=False)
        return EditImages(sources=sources, mask=mask)

    def store_inline(self, edit: EditRequest) -> dict[str, Any]:
        """Store inline source images as uploads; the request as kept, naming them by id."""
        stored = edit.model_dump(by_alias=True, exclude_none=True)
        for field in ("input_image_base64", "input_images_base64", "mask_image_base64"):
            stored.pop(field, None)
        for inline in self._inline:
            image = store_upload(self._svc, g.tenant_id, g.user_id, inline.data, inline.checked)
            if inline.field == "input_image_base64":
                stored["image_id"] = image.image_id
            else:
                stored.setdefault("image_ids", []).append(image.image_id)
        if edit.mask_image_base64 is not None:
            stored["mask_image_inline"] = True  # used for this job only, not kept as an upload
        if not stored.get("image_ids"):
            stored.pop("image_ids", None)
        if not stored.get("user_tags"):
            stored.pop("user_tags", None)
        return stored

    def _owned(self, image_id: str, field: str) -> InputImage:
        _, checked = load_owned_image(self._svc, g.tenant_id, image_id, field)
        return checked

    def _decode(self, value: str, field: str, *, keep: bool = True) -> InputImage:
        data = decode_base64(value, field, self._limits)
        checked = open_image(data, field, self._limits)
        if keep:
            self._inline.append(_Inline(field.split("[")[0], data, checked))
        return checked


def _store_prepared(
    svc: Services, job_id: str, created_at: str, prepared: PreparedInputs
) -> InputKeys:
    """Write the model-ready inputs; the plan refers to them by key."""

    def put(name: str, data: bytes) -> str:
        key = blob_key(g.tenant_id, "inputs", created_at, f"{job_id}-{name}.png")
        svc.blobs.put(key, data, "image/png")
        return key

    return InputKeys(
        source=put("source", prepared.source) if prepared.source is not None else None,
        mask=put("mask", prepared.mask) if prepared.mask is not None else None,
        references=tuple(put(f"reference-{i}", data) for i, data in enumerate(prepared.references)),
    )

"""The images of an edit request: decoded and checked before anything is stored, then kept.

Checking all of a request (or of a batch's requests) before storing anything means a
refused request leaves no uploads or input files behind. Images given inline (base64 or
form files) become uploads, and the stored request names them by id; the model-ready
inputs are stored as blobs the plan refers to by key, so image bytes never go through the
queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagegen import catalog
from imagegen.caller import Caller
from imagegen.catalog import EOL
from imagegen.editing import (
    EditImages,
    EditRequest,
    InputKeys,
    PreparedInputs,
    check_request,
    choose_model,
    plan_edit,
    prepare_inputs,
)
from imagegen.input_images import InputImage, decode_base64, open_image
from imagegen.plan import GenerationPlan
from imagegen.services import Services
from imagegen.storage.blobs import blob_key
from imagegen.uploads import image_limits, load_owned_image, store_upload
from imagegen.webhooks.destinations import check_webhook_url


@dataclass
class EditDraft:
    """An edit request whose every parameter and image proved usable, nothing stored yet."""

    edit: EditRequest
    spec: catalog.ModelSpec
    requested: str
    note: str | None
    inputs: _InputCollector
    prepared: PreparedInputs

    @classmethod
    def check(cls, svc: Services, caller: Caller, edit: EditRequest) -> EditDraft:
        spec, requested, note = choose_model(
            edit,
            svc.lifecycle.serving_default(svc.settings.default_model),
            lambda model_id: svc.lifecycle.of(model_id).status != EOL,
        )
        svc.lifecycle.require_usable(spec.model_id)
        check_request(edit, spec)
        check_webhook_url(edit.webhook_url, svc.webhook_policy)
        inputs = _InputCollector(svc, caller)
        prepared = prepare_inputs(edit, spec, inputs.collect(edit))
        return cls(edit, spec, requested, note, inputs, prepared)

    def store(self, job_id: str, created_at: str) -> tuple[dict[str, Any], GenerationPlan]:
        """Store the inline images as uploads and the prepared inputs; the request as kept
        (naming the uploads by id) and the plan that reads the inputs."""
        stored_request = self.inputs.store_inline(self.edit)
        keys = self.inputs.store_prepared(job_id, created_at, self.prepared)
        plan = plan_edit(self.edit, self.spec, self.requested, self.note, self.prepared, keys)
        return stored_request, plan


@dataclass
class _Inline:
    field: str
    data: bytes
    checked: InputImage


class _InputCollector:
    """Decodes every image a request names, remembering inline ones to store as uploads."""

    def __init__(self, svc: Services, caller: Caller) -> None:
        self._svc = svc
        self._caller = caller
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
        style = None
        if edit.style_image_id is not None:
            style = self._owned(edit.style_image_id, "style_image_id")
        return EditImages(sources=sources, mask=mask, style=style)

    def store_inline(self, edit: EditRequest) -> dict[str, Any]:
        """Store inline source images as uploads; the request as kept, naming them by id."""
        stored = edit.model_dump(by_alias=True, exclude_none=True)
        for field in ("input_image_base64", "input_images_base64", "mask_image_base64"):
            stored.pop(field, None)
        tenant, user = self._caller.tenant_id, self._caller.user_id
        for inline in self._inline:
            image = store_upload(self._svc, tenant, user, inline.data, inline.checked)
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

    def store_prepared(self, job_id: str, created_at: str, prepared: PreparedInputs) -> InputKeys:
        """Write the model-ready inputs; the plan refers to them by key."""

        def put(name: str, data: bytes) -> str:
            key = blob_key(self._caller.tenant_id, "inputs", created_at, f"{job_id}-{name}.png")
            self._svc.blobs.put(key, data)
            return key

        return InputKeys(
            source=put("source", prepared.source) if prepared.source is not None else None,
            mask=put("mask", prepared.mask) if prepared.mask is not None else None,
            references=tuple(
                put(f"reference-{i}", data) for i, data in enumerate(prepared.references)
            ),
        )

    def _owned(self, image_id: str, field: str) -> InputImage:
        _, checked = load_owned_image(self._svc, self._caller.tenant_id, image_id, field)
        return checked

    def _decode(self, value: str, field: str, *, keep: bool = True) -> InputImage:
        data = decode_base64(value, field, self._limits)
        checked = open_image(data, field, self._limits)
        if keep:
            self._inline.append(_Inline(field.split("[")[0], data, checked))
        return checked

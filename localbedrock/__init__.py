"""localbedrock: a local Bedrock-runtime-compatible image model endpoint for development and tests.

Like DynamoDB Local for DynamoDB, it answers ``POST /model/<modelId>/invoke`` the way Amazon
Bedrock runtime does, so an unmodified boto3 ``bedrock-runtime`` client pointed at it
(``endpoint_url=`` or ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``) can call ``invoke_model``.  It
validates request bodies as AWS documents them and returns deterministic *placeholder* images
at the real output sizes.  It is not Bedrock: no model runs, and the images only show which
request produced them.

Models (also as foundation-model ARNs or ``us.``/``eu.``/... profile ids):
``stability.stable-diffusion-xl-v1`` (text-to-image, image-to-image, masking),
``stability.sd3-5-large-v1:0`` (text-to-image, image-to-image),
``stability.stable-image-core-v1:1`` and ``stability.stable-image-ultra-v1:1`` (text-to-image),
``amazon.titan-image-generator-v1`` (text-to-image, inpainting, outpainting, variation),
``amazon.titan-image-generator-v2:0`` and ``amazon.nova-canvas-v1:0`` (the same plus
background removal).  Edited images are deterministic composites of the input image(s) and
the placeholder.  Other tasks (colour guidance, image conditioning, virtual try-on, Ultra's
image-to-image) answer a ValidationException saying they are not supported yet.

It is also the control plane's ``ListFoundationModels`` and ``GetFoundationModel`` for a
``bedrock`` client (``AWS_ENDPOINT_URL_BEDROCK``): every model it serves, ACTIVE unless
``LOCALBEDROCK_LIFECYCLE`` says otherwise (localbedrock.control_plane).

Run: ``python -m localbedrock --host 127.0.0.1 --port 8010``.

Environment variables, read once at start:

* ``LOCALBEDROCK_PORT``: default port when ``--port`` is not given (8010).
* ``LOCALBEDROCK_LATENCY_MS``: delay added to every invoke call (0).
* ``LOCALBEDROCK_RPM``: invoke calls admitted per rolling minute across all models, beyond
  which calls get ThrottlingException "Too many requests, please wait before trying again."
  (0 = unlimited).
* ``LOCALBEDROCK_FILTER_WORD``: a prompt containing it trips the model's content filter
  ("forbidden-content"): SDXL answers 200 with finishReason CONTENT_FILTERED, SD3.5/Core/
  Ultra answer 200 with finish_reasons ["Filter reason: prompt"], Titan and Nova answer a
  400 ValidationException "This request has been blocked by our content filters...".
* Trigger words; a prompt containing one gets that answer on every call:
  ``LOCALBEDROCK_THROTTLE_WORD`` ("trigger-throttle") -> ThrottlingException 429,
  ``LOCALBEDROCK_NOT_READY_WORD`` ("trigger-not-ready") -> ModelNotReadyException 429,
  ``LOCALBEDROCK_TIMEOUT_WORD`` ("trigger-timeout") -> ModelTimeoutException 408,
  ``LOCALBEDROCK_ERROR_WORD`` ("trigger-error") -> InternalServerException 500,
  ``LOCALBEDROCK_UNAVAILABLE_WORD`` ("trigger-unavailable") -> ServiceUnavailableException 503,
  ``LOCALBEDROCK_SLOW_WORD`` ("trigger-slow") -> sleeps ``LOCALBEDROCK_SLOW_SECONDS`` (30)
  and then answers normally.
* ``trigger-flaky-<N>`` in a prompt (not configurable): the first N calls with that exact
  prompt and seed get ThrottlingException, later ones succeed.

Introspection: ``GET /_local/health`` -> ``{"status": "ok"}``; ``GET /_local/requests`` ->
the last 500 invoke calls (model id, task, body with long base64 strings elided, status,
error type), newest last; ``DELETE /_local/requests`` clears them.  One JSON line per call is
logged to stderr (model, status, latency).
"""

from localbedrock.faults import Settings
from localbedrock.server import create_app

__all__ = ["Settings", "create_app"]

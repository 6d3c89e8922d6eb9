"""The OpenAPI document (/openapi.json) and a Swagger UI page (/docs) served from the
swagger-ui-bundle package, so the docs work without any CDN."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import swagger_ui_bundle
import yaml
from flask import Blueprint, Response, jsonify, send_from_directory
from flask.typing import ResponseReturnValue

from app.context import services

bp = Blueprint("docs", __name__)
_SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>imagegen API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""

_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
"""


@cache
def openapi_document() -> dict[str, Any]:
    text = resources.files("app").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    # The document's servers entry is a placeholder: clients must be told this deployment's.
    server = {"url": services().settings.public_base_url}
    return jsonify({**openapi_document(), "servers": [server]})


@bp.get("/docs")
def docs_page() -> Response:
    return Response(_PAGE, mimetype="text/html")


@bp.get("/docs/init.js")
def docs_init() -> Response:
    # A file, not an inline script, so a strict Content-Security-Policy can forbid inline JS.
    return Response(_INIT, mimetype="text/javascript")


@bp.get("/docs/assets/<path:name>")
def docs_asset(name: str) -> Response:
    return send_from_directory(_SWAGGER_DIR, name, max_age=86400)

"""The webhook receiver the README shows works against the real service, as printed there."""

from __future__ import annotations

import re
import threading

import requests
from werkzeug.serving import make_server

from tests.conftest import ROOT, WEBHOOK_SPARE_PORT, wait_until

NOVA = "amazon.nova-canvas-v1:0"


def readme_receiver(secret: str):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [code] = re.findall(r"```python\n(from flask import Flask, request\n.*?)```", readme, re.S)
    namespace: dict = {"__name__": "readme_receiver"}
    exec(code.replace("whsec_...", secret), namespace)
    return namespace["app"]


def test_the_readme_receiver_verifies_our_webhooks_and_refuses_forgeries(api, capsys):
    secret = api.request("GET", "/v1/webhooks/secret").json()["secret"]
    port = WEBHOOK_SPARE_PORT  # one the stack's webhook allowlist names
    server = make_server("127.0.0.1", port, readme_receiver(secret), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/imagegen"
        job_id = api.generate(
            {"prompt": "a quay", "model": NOVA, "async": True, "webhook_url": url}
        ).json()["job_id"]
        wait_until(lambda: api.job(job_id).json()["job"]["webhook_delivered"], what="delivery")
        [attempt] = api.request("GET", f"/v1/jobs/{job_id}/webhook-deliveries").json()["deliveries"]
        assert attempt["status_code"] == 204
        assert f"image.generation.completed {job_id}" in capsys.readouterr().out

        forged = requests.post(
            url,
            data=b'{"event": "image.generation.completed"}',
            headers={"webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,x"},
            timeout=5,
        )
        assert forged.status_code == 400
    finally:
        server.shutdown()

"""The documentation page renders in a real browser (headless Chromium)."""

from __future__ import annotations

import shutil
import subprocess


def test_docs_page_renders_every_operation(stack, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium must be installed (apt-get install chromium)"
    result = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path}", "--virtual-time-budget=10000", "--dump-dom",
            f"{stack.base_url}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    dom = result.stdout
    assert "Unable to render this definition" not in dom
    for path in ("/v1/images/generations", "/v1/jobs/{job_id}", "/v1/models"):
        assert path in dom

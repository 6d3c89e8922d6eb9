"""The operator's dead-letter list and retry, through `python -m imagegen.cli`."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import PYTHON, ROOT

NOVA = "amazon.nova-canvas-v1:0"


def cli(stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "imagegen.cli", *args],
        env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_an_operator_lists_failed_jobs_of_every_tenant_and_retries_one(api, other_api, stack):
    mine = api.generate({"prompt": "trigger-error", "model": NOVA, "async": True}).json()
    theirs = other_api.generate({"prompt": "trigger-error", "model": NOVA, "async": True}).json()
    api.wait_for_job(mine["job_id"])
    other_api.wait_for_job(theirs["job_id"])

    listed = cli(stack, "failed-jobs", "--limit", "500")
    assert listed.returncode == 0, listed.stderr
    lines = {line["job_id"]: line for line in map(json.loads, listed.stdout.splitlines())}
    assert {mine["job_id"], theirs["job_id"]} <= set(lines)
    assert lines[mine["job_id"]]["error"]["code"] == "IMG201"
    only_b = cli(stack, "failed-jobs", "--tenant", "tenant-b", "--limit", "500").stdout
    assert mine["job_id"] not in only_b and theirs["job_id"] in only_b

    retried = cli(stack, "retry-job", mine["job_id"])
    assert retried.returncode == 0, retried.stderr
    again = api.wait_for_job(mine["job_id"])["job"]
    assert again["retry_count"] == 1
    assert again["status"]["status"] == "failed"  # the model still fails it

    done = api.generate({"prompt": "a calm sea", "model": NOVA}).json()
    refused = cli(stack, "retry-job", done["job_id"])
    assert refused.returncode == 1 and "only a failed job" in refused.stderr

"""A stack of its own for the fuzz suite: the fuzzer's thousands of requests and jobs must
not queue ahead of the other tests' jobs on the shared stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import (
    Stack,
    Tenant,
    free_port,
    make_tenant,
    run_stack,
    service_env,
    start_localbedrock,
)


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("fuzz")
    # No model latency, so the jobs valid requests create finish while the fuzzer runs.
    endpoint, model = start_localbedrock(workdir, {"LOCALBEDROCK_LATENCY_MS": "0"})
    api_port = free_port()
    # A Redis database of its own, so the shared stack's worker never takes these jobs.
    env = service_env(workdir, redis_url.rsplit("/", 1)[0] + "/9", endpoint, api_port)
    # A synchronous request waits at most 1 s (whatever its Prefer: wait says), so the few
    # hundred valid generations and edits cost seconds, not minutes.
    env["IMAGEGEN_SYNC_WAIT_SECONDS"] = "1"
    # No development allowlist: generated webhook URLs naming loopback ports (Redis, the
    # model endpoint) are refused, never posted to.
    env.pop("IMAGEGEN_WEBHOOK_ALLOWED_HOSTS", None)
    try:
        yield from run_stack(workdir, env, api_port, endpoint)
    finally:
        model.stop()


@pytest.fixture(scope="module")
def fuzz_tenant(fuzz_stack: Stack) -> Tenant:
    return make_tenant(fuzz_stack, "tenant-fuzz", "fuzzer")

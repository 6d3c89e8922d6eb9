"""A stack of its own for the fuzz suite: the fuzzer's thousands of requests and jobs must
not queue ahead of the other tests' jobs on the shared stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import (
    Stack,
    Tenant,
    make_tenant,
    run_own_stack,
)


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    yield from run_own_stack(
        tmp_path_factory.mktemp("fuzz"),
        redis_url,
        9,
        # No model latency, so the jobs valid requests create finish while the fuzzer runs.
        {"LOCALBEDROCK_LATENCY_MS": "0"},
        {
            # A synchronous request waits at most 1 s (whatever its Prefer: wait says), so
            # the few hundred valid generations and edits cost seconds, not minutes.
            "IMAGEGEN_SYNC_WAIT_SECONDS": "1",
            # No development allowlist: generated webhook URLs naming loopback ports (Redis,
            # the model endpoint) are refused, never posted to.
            "IMAGEGEN_WEBHOOK_ALLOWED_HOSTS": "",
        },
    )


@pytest.fixture(scope="module")
def fuzz_tenant(fuzz_stack: Stack) -> Tenant:
    return make_tenant(fuzz_stack, "tenant-fuzz", "fuzzer")

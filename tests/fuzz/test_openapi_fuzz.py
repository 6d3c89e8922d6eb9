"""Fuzzing every operation of the OpenAPI document with schemathesis, through the real stack.

Each operation gets the document's examples, schemathesis' coverage cases (boundary values,
missing and wrong-typed fields, unexpected methods) and MAX_EXAMPLES generated requests,
valid and invalid (`mode: all`). Every answer must be no 5xx, carry a documented status
code and content type, and match the documented response schema and headers; a request
that violates the schema, or comes without the key, must be refused.

Reproducible: the seed is fixed (each operation's is derived from it) and no example
database is kept, so a run repeats the same requests. A failure prints a curl command for
its request (the plugin drops notes added to the failure, so the run's settings are here).
Reproduce a whole run, or go deeper, with e.g.
    FUZZ_SEED=12 FUZZ_MAX_EXAMPLES=1000 .venv/bin/pytest tests/fuzz -k 'POST and batches'

The schema is loaded when the module is collected, from the document the API serves
(`openapi_document()`, which `GET /openapi.json` returns with its own `servers`), and
test_the_fuzzed_document_is_the_served_one checks the running API serves that document.
schemathesis' loader from a fixture (`schemathesis.pytest.from_fixture`) cannot run under
pytest 9.2: it renames nodes through `Function._nodeid`, which pytest 9.2 removed.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from app.api.docs import openapi_document
from tests.conftest import Stack, Tenant

SEED = int(os.environ.get("FUZZ_SEED", "12"))
# About 35 s for all 26 operations on two cores.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100"))

# schemathesis' default refusals, and the HTTP server's: a request line or a header over its
# limits (414, 431), a body over the size limit (413).
REJECTED = [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429, 431, "5xx"]

schema = schemathesis.openapi.from_dict(
    openapi_document(),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "request-timeout": 30,
            "checks": {
                "negative_data_rejection": {"expected-statuses": REJECTED},
            },
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                # A failure is reported as found: shrinking it would re-send requests for
                # minutes, and the curl command already shows the input.
                "no-shrink": True,
                "database": "none",
            },
        }
    ),
)

# The contract (no 5xx, documented status, type, schema and headers), and that what breaks
# it is refused: schema-violating requests, undeclared methods (405 with Allow, RFC 9110),
# requests without the API key. Left out on purpose: positive_data_acceptance, since a
# schema-valid request may rightly be refused for what the schema cannot say (an unknown
# image id, a webhook host that does not resolve, a parameter the chosen model lacks).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    unsupported_method,
    ignored_auth,
]


def test_the_fuzzed_document_is_the_served_one(fuzz_stack: Stack) -> None:
    served = requests.get(f"{fuzz_stack.base_url}/openapi.json", timeout=10).json()
    document: dict[str, Any] = openapi_document()
    assert {**served, "servers": None} == {**document, "servers": None}


@schema.parametrize()
def test_every_operation_keeps_the_contract(
    case: schemathesis.Case, fuzz_stack: Stack, fuzz_tenant: Tenant
) -> None:
    case.call_and_validate(base_url=fuzz_stack.base_url, headers=fuzz_tenant.headers, checks=CHECKS)

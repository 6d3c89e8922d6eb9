"""Apply infra/modules/data to moto's server, so AWS tests run against the real table and bucket.

The table's keys and indexes come from the Terraform, not from a copy in Python: code that
disagrees with the module about a name fails its tests.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
ROOT_MODULE = Path(__file__).resolve().with_name("terraform") / "main.tf"
DATA_MODULE = ROOT / "infra" / "modules" / "data"
MODULE_SOURCE = '"../../../infra/modules/data"'
# The provider mirror scripts/infra-check.sh uses: nothing is downloaded.
PLUGIN_DIR = os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins")


def terraform_env() -> dict[str, str]:
    # Credentials or endpoints of the caller's own AWS setup must not reach the provider.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # A CLI config variable naming a missing file only produces warnings (as in infra-check.sh).
    config = env.get("TF_CLI_CONFIG_FILE")
    if config and not Path(config).is_file():
        del env["TF_CLI_CONFIG_FILE"]
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    return env


def run_terraform(workdir: Path, *args: str) -> str:
    result = subprocess.run(
        ["terraform", f"-chdir={workdir}", *args, "-no-color"],
        env=terraform_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"terraform {args[0]} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


# Applies made by this process: (endpoint, name, variables) -> outputs.
_applied: dict[tuple[str, str, str], dict[str, Any]] = {}


def apply_data_module(
    endpoint_url: str,
    workdir: Path,
    name: str,
    variables: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the data module's table, bucket and key on moto; return the module's outputs.

    `name` prefixes the table and bucket names (3-25 lowercase letters, digits, hyphens), so
    several applies can share one moto server. `variables` sets further inputs of
    tests/aws/terraform/main.tf (versioning_enabled, temporary/saved_retention_days). The
    state stays in `workdir`; applying again with the same workdir updates in place.

    The bucket is left without its TLS-only policy, which would deny every request to moto.

    An apply takes about a minute (the provider waits that long for S3 to settle the
    lifecycle rules), so one this process already made with the same endpoint, name and
    variables is not repeated: its outputs are returned again, wherever its state is.
    """
    key = (endpoint_url, name, json.dumps(dict(variables or {}), sort_keys=True))
    if key in _applied:
        return copy.deepcopy(_applied[key])

    workdir.mkdir(parents=True, exist_ok=True)
    # A copy of the root in workdir keeps .terraform, the lock file and the state out of the
    # repository; only its module source must become absolute.
    source = ROOT_MODULE.read_text(encoding="utf-8")
    assert MODULE_SOURCE in source, "tests/aws/terraform/main.tf must call the data module"
    (workdir / "main.tf").write_text(
        source.replace(MODULE_SOURCE, json.dumps(str(DATA_MODULE))), encoding="utf-8"
    )
    tfvars = {"endpoint_url": endpoint_url, "name": name, **(variables or {})}
    (workdir / "terraform.tfvars.json").write_text(json.dumps(tfvars), encoding="utf-8")

    run_terraform(workdir, "init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}")
    run_terraform(workdir, "apply", "-auto-approve", "-input=false")
    outputs = json.loads(run_terraform(workdir, "output", "-json"))
    values = {output: entry["value"] for output, entry in outputs.items()}
    # moto serves plain HTTP, so the bucket's TLS-only policy denies every object request
    # (moto also denies on any statement whose condition it cannot evaluate). The policy
    # itself is checked by infra/modules/data/tests.
    boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).delete_bucket_policy(Bucket=values["bucket_name"])
    _applied[key] = values
    return copy.deepcopy(values)

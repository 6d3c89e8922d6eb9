"""The environment variables the code reads and those the Terraform sets must agree.

Terraform that misses a variable deploys a service running on a default meant for a laptop;
Terraform that sets an unknown one (a typo) silently changes nothing. Both fail here.
"""

from __future__ import annotations

import re

from tests.conftest import ROOT

SETTING = re.compile(r"\b((?:IMAGEGEN|GUNICORN)_[A-Z0-9_]+)\b")
# Read only by local tooling (make run's key bootstrap), never by a deployed task.
LOCAL_ONLY = {"IMAGEGEN_BOOTSTRAP_API_KEY"}


def names_in(patterns: list[str]) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        for path in ROOT.glob(pattern):
            found |= set(SETTING.findall(path.read_text(encoding="utf-8")))
    return found


def read_by_code() -> set[str]:
    return names_in(["app/**/*.py", "imagegen/**/*.py", "worker/**/*.py", "gunicorn.conf.py"])


def set_by_terraform() -> set[str]:
    return names_in(["infra/modules/**/*.tf"])


def test_terraform_sets_every_variable_the_code_reads():
    missing = read_by_code() - LOCAL_ONLY - set_by_terraform()
    assert not missing, f"the task definitions do not set: {sorted(missing)}"


def test_terraform_sets_no_variable_the_code_does_not_read():
    unknown = set_by_terraform() - read_by_code()
    assert not unknown, f"Terraform sets variables no code reads: {sorted(unknown)}"


def test_the_scan_sees_both_sides():
    assert {"IMAGEGEN_REDIS_URL", "IMAGEGEN_METRICS_NAMESPACE"} <= read_by_code()
    assert {"IMAGEGEN_REDIS_URL", "IMAGEGEN_METRICS_NAMESPACE"} <= set_by_terraform()

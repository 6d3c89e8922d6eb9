"""The operator's set-limits and show-limits, through imagegen.cli.main on a temporary SQLite
database."""

from __future__ import annotations

import json

import pytest

from imagegen.cli import main


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IMAGEGEN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IMAGEGEN_DEFAULT_REQUESTS_PER_MINUTE", "100")
    monkeypatch.setenv("IMAGEGEN_DEFAULT_MAX_CONCURRENT_JOBS", "3")

    def run(*args: str) -> dict:
        assert main(list(args)) == 0
        return json.loads(capsys.readouterr().out)

    return run


def test_a_tenant_with_no_limits_set_shows_the_defaults(run):
    shown = run("show-limits", "--tenant", "acme")

    assert shown["tenant_id"] == "acme"
    assert shown["stored"] is None
    assert shown["effective"] == {
        "requests_per_minute": 100,
        "images_per_minute": None,
        "storage_bytes": None,
        "max_concurrent_jobs": 3,
    }


def test_set_limits_keeps_what_it_is_not_given_and_resets_default(run):
    first = run("set-limits", "--tenant", "acme", "--images-per-minute", "20",
                "--storage-bytes", "5000", "--max-concurrent-jobs", "0")  # fmt: skip
    assert first["stored"]["images_per_minute"] == 20
    assert first["stored"]["updated_at"]
    assert first["effective"] == {
        "requests_per_minute": 100,
        "images_per_minute": 20,
        "storage_bytes": 5000,
        "max_concurrent_jobs": None,  # 0: unlimited, whatever the default
    }

    second = run("set-limits", "--tenant", "acme", "--requests-per-minute", "7",
                 "--storage-bytes", "default")  # fmt: skip

    assert {name: second["stored"][name] for name in second["effective"]} == {
        "requests_per_minute": 7,
        "images_per_minute": 20,  # not given: kept
        "storage_bytes": None,  # reset to the default
        "max_concurrent_jobs": 0,
    }
    assert second["effective"]["storage_bytes"] is None  # and the default is unlimited
    assert run("show-limits", "--tenant", "acme") == second
    assert run("show-limits", "--tenant", "globex")["stored"] is None


@pytest.mark.parametrize("value", ["-1", "many", "1.5", ""])
def test_set_limits_refuses_a_value_that_is_not_a_limit(run, value, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["set-limits", "--tenant", "acme", "--requests-per-minute", value])

    assert refused.value.code == 2
    assert "integer >= 0" in capsys.readouterr().err
    assert run("show-limits", "--tenant", "acme")["stored"] is None


def test_a_tenant_no_operator_granted_credits_is_not_metered(run):
    shown = run("show-limits", "--tenant", "acme")
    assert shown["credits"] == {
        "metered": False,
        "balance": None,
        "reserved": None,
        "updated_at": None,
    }


def test_grant_credits_opens_the_account_and_adds_to_it(run, capsys):
    assert run("grant-credits", "--tenant", "acme", "12.5")["credits"]["balance"] == 12.5
    shown = run("grant-credits", "--tenant", "acme", "-2.5", "--note", "correction")
    assert shown["credits"]["metered"] is True
    assert (shown["credits"]["balance"], shown["credits"]["reserved"]) == (10.0, 0.0)

    assert main(["grant-credits", "--tenant", "acme", "-20"]) == 1
    assert "below 0" in capsys.readouterr().err
    assert run("show-limits", "--tenant", "acme")["credits"]["balance"] == 10.0


def test_set_limits_credits_sets_the_balance_and_keeps_the_limits(run, capsys):
    run("set-limits", "--tenant", "acme", "--images-per-minute", "20")
    shown = run("set-limits", "--tenant", "acme", "--credits", "100")
    assert shown["credits"]["balance"] == 100.0
    assert shown["stored"]["images_per_minute"] == 20
    assert run("set-limits", "--tenant", "acme", "--credits", "40")["credits"]["balance"] == 40.0

    assert main(["show-ledger", "--tenant", "acme"]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["kind"], e["amount"], e["note"]) for e in entries] == [
        ("grant", -60.0, "balance set by operator"),
        ("grant", 100.0, "balance set by operator"),
    ]

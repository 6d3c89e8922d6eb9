"""A database from before batches, leases and recoveries keeps its jobs, and their plans."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

from imagegen.generation import parse_request, plan_generation
from imagegen.plan import ImageLabels
from imagegen.records import PENDING, utc_now
from imagegen.storage.sqlite import SqliteRepository

# The jobs table as the image-editing release left it (user_version 2).
VERSION_2_JOBS = """
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,
    request_id TEXT NOT NULL, kind TEXT NOT NULL, request_json TEXT NOT NULL,
    plan_json TEXT NOT NULL, status TEXT NOT NULL, status_message TEXT,
    progress INTEGER NOT NULL DEFAULT 0, error_json TEXT,
    image_ids_json TEXT NOT NULL DEFAULT '[]', cost_json TEXT, created_at TEXT NOT NULL,
    started_at TEXT, completed_at TEXT, priority INTEGER NOT NULL DEFAULT 5,
    retry_count INTEGER NOT NULL DEFAULT 0, webhook_url TEXT,
    webhook_delivered INTEGER NOT NULL DEFAULT 0
);
PRAGMA user_version = 2;
"""
# A job of that release: its plan has no labels yet, its request has them.
VERSION_2_REQUEST = {"prompt": "a fox", "user_tags": ["winter"], "chat_id": "chat_1"}


def test_a_version_2_database_keeps_its_jobs(tmp_path):
    path = tmp_path / "imagegen.sqlite3"
    plan = plan_generation(parse_request(VERSION_2_REQUEST), "amazon.nova-canvas-v1:0")
    old_plan = {name: value for name, value in plan.to_dict().items() if name != "labels"}
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_2_JOBS)
        db.execute(
            "INSERT INTO jobs (job_id, tenant_id, user_id, request_id, kind, request_json,"
            " plan_json, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("job_old", "t1", "u1", "req", "text_to_image", json.dumps(VERSION_2_REQUEST),
             json.dumps(old_plan), "pending", "2026-11-20T00:00:00.000Z"),
        )  # fmt: skip
    repo = SqliteRepository(path)
    old = repo.load_job("job_old")
    assert old is not None and (old.status, old.recoveries, old.batch_id) == (PENDING, 0, None)
    assert [j.job_id for j in repo.pending_jobs(utc_now(), 10)] == ["job_old"]
    # Its images are still filed under what its request said.
    assert old.plan == replace(plan, labels=ImageLabels(chat_id="chat_1", user_tags=("winter",)))
    SqliteRepository(path)  # opening again changes nothing

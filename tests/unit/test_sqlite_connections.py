"""SQLite connections (imagegen.storage.sqlite.connection): one kept per thread, never
carried over a fork or past a failed operation, and writers of every thread and process
taking turns."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest

from imagegen.caller import Caller
from imagegen.generation import parse_request, plan_generation
from imagegen.records import PENDING, Job, utc_now
from imagegen.storage.sqlite import SqliteRepository
from imagegen.storage.sqlite import connection as sqlite_connection
from imagegen.storage.sqlite.connection import Connections


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "imagegen.sqlite3"


def _job(tenant_id: str = "tenant-a") -> Job:
    caller = Caller(tenant_id=tenant_id, user_id="user-1", request_id="req_1")
    plan = plan_generation(parse_request({"prompt": "a lighthouse"}), "amazon.nova-canvas-v1:0")
    return Job(
        job_id="job_" + uuid.uuid4().hex,
        tenant_id=caller.tenant_id,
        user_id=caller.user_id,
        request_id=caller.request_id,
        kind="text_to_image",
        request={"prompt": "a lighthouse"},
        plan=plan,
        status=PENDING,
        created_at=utc_now(),
    )


def _count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    return count


def test_a_thread_keeps_its_connection_and_another_thread_has_its_own(path: Path) -> None:
    SqliteRepository(path)
    connections = Connections(path)
    with connections.connection() as first:
        pass
    with connections.connection() as again:
        assert again is first
    seen: list[sqlite3.Connection] = []

    def other_thread() -> None:
        with connections.connection() as db:
            seen.append(db)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen and seen[0] is not first


def test_a_kept_connection_reads_what_others_committed_since(path: Path) -> None:
    reader, writer = SqliteRepository(path), SqliteRepository(path)
    job = _job()
    assert reader.load_job(job.job_id) is None
    writer.add_job(job)
    found = reader.load_job(job.job_id)
    assert found is not None and found.status == PENDING


def test_a_use_nested_in_another_has_a_connection_of_its_own(path: Path) -> None:
    SqliteRepository(path)
    connections = Connections(path)
    with connections.connection() as outer:
        with connections.connection() as inner:
            assert inner is not outer
        with pytest.raises(sqlite3.ProgrammingError):
            inner.execute("SELECT 1")  # closed once the nested use ended
    with connections.connection() as again:
        assert again is outer


def test_a_connection_whose_operation_raised_is_closed_with_its_transaction(path: Path) -> None:
    SqliteRepository(path)
    connections = Connections(path)
    with pytest.raises(RuntimeError), connections.connection() as failed:
        failed.execute("BEGIN IMMEDIATE")
        raise RuntimeError("the operation failed half way")
    with pytest.raises(sqlite3.ProgrammingError):
        failed.execute("SELECT 1")
    # Its write lock went with it: another connection writes at once.
    other = sqlite3.connect(path, timeout=0.1)
    other.execute("DELETE FROM jobs")
    other.commit()
    other.close()
    with connections.connection() as fresh:
        assert fresh is not failed


def test_a_forked_child_opens_its_own_connection(path: Path) -> None:
    repo = SqliteRepository(path)
    parent_job, child_job = _job(), _job()
    repo.add_job(parent_job)  # the parent's thread now keeps a connection
    pid = os.fork()
    if pid == 0:  # the child: its writes must land, through a connection of its own
        code = 1
        try:
            with repo._connections.connection() as db:
                inherited = [slot.db for slot in sqlite_connection._INHERITED]
                assert db not in inherited
            repo.add_job(child_job)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert repo.load_job(child_job.job_id) is not None
    repo.add_job(dataclasses.replace(parent_job, job_id="job_" + uuid.uuid4().hex))
    assert _count(path) == 3


def test_writers_of_many_threads_and_processes_all_commit(path: Path) -> None:
    repo = SqliteRepository(path)
    threads, processes, each = 8, 2, 25
    pids = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for _ in range(each):
                    repo.add_job(_job())
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(each):
                repo.add_job(_job())
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=write) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for pid in pids:
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert failures == []
    assert _count(path) == (threads + processes) * each


def test_a_writer_that_gets_no_turn_in_time_fails_as_a_locked_database(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SqliteRepository(path)
    connections = Connections(path)
    monkeypatch.setattr(sqlite_connection, "LOCK_TIMEOUT_SECONDS", 0.2)
    holding, release = threading.Event(), threading.Event()

    def hold_the_turn() -> None:
        with connections.write():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_turn)
    holder.start()
    try:
        assert holding.wait(10)
        with (
            pytest.raises(sqlite3.OperationalError, match="database is locked"),
            connections.write(),
        ):
            pass
    finally:
        release.set()
        holder.join()
    with connections.write():  # free again
        pass


def test_the_write_lock_file_lies_beside_the_database(path: Path) -> None:
    repo = SqliteRepository(path)
    repo.add_job(_job())
    assert path.with_name(path.name + ".write-lock").exists()

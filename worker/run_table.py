"""Which jobs, under which runs, a runner process holds: a table its supervisor can read.

Anonymous shared memory (MAP_SHARED | MAP_ANONYMOUS) that the supervisor makes before
forking the runner: one fixed-size row per job slot. A slot's thread writes its row before
it takes a job and clears it after the run ends. So when the supervisor kills a runner that
outlived the shutdown grace (or that stalled), it hands back exactly the runs that runner
held: a run that replaced one of them elsewhere (its lease ran out) is left alone, and
Redis is not needed to find out.
"""

from __future__ import annotations

import mmap
import threading

_ROW_BYTES = 256


class RunTable:
    def __init__(self, slots: int) -> None:
        self._slots = slots
        self._memory = mmap.mmap(-1, slots * _ROW_BYTES)
        # Guards the choice of a free row among the runner's threads. A lock made before
        # the fork is copied into the runner in its released state: nothing holds it then.
        self._lock = threading.Lock()

    def hold(self, job_id: str, run_id: str) -> int:
        """Write the run in a free row; the row, to release it with."""
        data = f"{job_id} {run_id}".encode()
        if len(data) > _ROW_BYTES:
            raise ValueError("job and run ids too long for the run table")
        with self._lock:
            for row in range(self._slots):
                start = row * _ROW_BYTES
                if self._memory[start] == 0:
                    self._memory[start : start + _ROW_BYTES] = data.ljust(_ROW_BYTES, b"\0")
                    return row
        raise RuntimeError("more runs than the run table has rows")

    def release(self, row: int) -> None:
        start = row * _ROW_BYTES
        with self._lock:
            self._memory[start : start + _ROW_BYTES] = bytes(_ROW_BYTES)

    def clear(self) -> None:
        """Forget every row: for a new runner, once the one that wrote them is gone."""
        self._memory[:] = bytes(len(self._memory))

    def held(self) -> list[tuple[str, str]]:
        """(job id, run id) of every run held. Read it once the runner is gone."""
        runs = []
        for row in range(self._slots):
            start = row * _ROW_BYTES
            data = self._memory[start : start + _ROW_BYTES].rstrip(b"\0")
            if data:
                job_id, _, run_id = data.decode().partition(" ")
                runs.append((job_id, run_id))
        return runs

"""A paced (open-loop) HTTP load generator: requests at a fixed rate over keep-alive
connections, each one's latency measured from when it was due, not from when it was sent.

wrk keeps every connection busy (closed loop), so it measures peak throughput, and it
cannot hold a rate; Debian's packages have no wrk2, which can. A closed-loop client also
hides a stalled server: while a response is late, the client sends nothing, so the
requests that would have waited are never counted ("coordinated omission"). Here the
arrival schedule is fixed in advance (request i is due at start + i / rate): a due request
goes to the first idle connection and, while every connection is busy, waits for one, the
wait counted in its latency, as a real client's would be.

One asyncio loop in one process. Its own overhead counts against the server: a request
dispatched late (the loop busy) has its lateness in its latency. `lateness_ms` says how late
the loop put each request out, to tell the two apart.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class PacedResult:
    rate: float  # asked for, requests a second
    sent: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0  # connections that failed mid-request (not retried: a POST may have landed)
    elapsed_s: float = 0.0
    # The loop's own: how late it put each request out (before any connection took it).
    lateness_ms: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)

    @property
    def achieved_rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (p from 0 to 100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = min(len(ordered), max(1, math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def http_request(
    method: str, host: str, port: int, path: str, headers: dict[str, str], body: bytes
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    keep = True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
    if length:
        await reader.readexactly(length)
    return status, keep


async def _paced(
    host: str, port: int, request: bytes, rate: float, duration_s: float, connections: int
) -> PacedResult:
    total = int(rate * duration_s)
    result = PacedResult(rate=rate, sent=total)
    due: asyncio.Queue[float | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while (scheduled := await due.get()) is not None:
            try:
                writer.write(request)
                status, keep = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                keep = False
            else:
                result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
                result.statuses[status] += 1
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
        writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.sleep(0.2)  # every connection open before the first request is due
    start = time.perf_counter()
    for index in range(total):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.lateness_ms.append((time.perf_counter() - scheduled) * 1000)
        due.put_nowait(scheduled)
    for _ in tasks:
        due.put_nowait(None)
    await asyncio.gather(*tasks)
    result.elapsed_s = time.perf_counter() - start
    return result


def paced_load(
    host: str,
    port: int,
    request: bytes,
    rate: float,
    duration_s: float = 10.0,
    connections: int = 32,
) -> PacedResult:
    """Send `request` (raw HTTP/1.1 bytes) rate times a second for duration_s seconds."""
    return asyncio.run(_paced(host, port, request, rate, duration_s, connections))

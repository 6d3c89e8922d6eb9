"""gunicorn settings, from the environment so one image serves every deployment.

Threads, not processes, carry the concurrency: a synchronous generation request spends its
time waiting on Redis, so a thread per waiting request is cheap.

The worker is gthread's, changed (app/server.py) so that a thread is given only a request
that has fully arrived: the event loop reads headers and body, so slow or stalled clients
cost a buffer, not a thread, and /healthz keeps answering with hundreds of them connected.
Reading has deadlines (app.server.ReadLimits): the request line and headers within 10 s of
the connection opening, the body with at most 10 s between two pieces and 120 s in all;
a request that misses one is answered 408 in the error envelope and closed. gevent was the
other candidate: it would also free threads from slow clients, but it puts SQLite's and
Pillow's blocking C calls on one event loop, where a thread pool runs them side by side,
and it has no read deadlines of its own either; gunicorn 27's asyncio (ASGI) worker would
need a WSGI adapter with its own thread pool and has no header deadline.
"""

import os

bind = os.environ.get("IMAGEGEN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "app.server.BufferingWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# Open connections per worker, slow ones included, past which it stops accepting.
worker_connections = 1000
# Longer than the longest synchronous wait, so gunicorn never kills a waiting request.
timeout = int(float(os.environ.get("IMAGEGEN_SYNC_WAIT_SECONDS", "60"))) + 30
graceful_timeout = 30
keepalive = 5
accesslog = None  # the app logs every request as a JSON line
errorlog = "-"
# gunicorn's control socket defaults to one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl or
# ~/.gunicorn/gunicorn.ctl): two instances on one machine (a test run and `make run`)
# would take and then delete each other's. Nothing here uses gunicornc, so there is none.
control_socket_disable = True

"""gunicorn settings, from the environment so one image serves every deployment.

Threads, not processes, carry the concurrency: a synchronous generation request spends its
time waiting on Redis, so a thread per waiting request is cheap.
"""

import os

bind = os.environ.get("IMAGEGEN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# Longer than the longest synchronous wait, so gunicorn never kills a waiting request.
timeout = int(float(os.environ.get("IMAGEGEN_SYNC_WAIT_SECONDS", "60"))) + 30
graceful_timeout = 30
keepalive = 5
accesslog = None  # the app logs every request as a JSON line
errorlog = "-"

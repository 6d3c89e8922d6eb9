"""The reference of bench.submit_path: a hello-world Flask POST route, served by the same
gunicorn settings (gunicorn.conf.py, app.server.BufferingWorker) as the API.

    gunicorn -c gunicorn.conf.py bench.hello_app:app
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.post("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}

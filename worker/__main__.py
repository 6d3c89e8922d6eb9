"""Worker entry point: `python -m worker` runs the worker container's processes.

See worker.supervisor for what runs and how it shuts down.
"""

from __future__ import annotations

from imagegen import logs
from imagegen.config import Settings
from imagegen.model_lifecycle import log_default_model
from worker import jobs
from worker.supervisor import Supervisor


def main() -> None:
    settings = Settings.from_env()
    logs.configure("worker", settings.log_level)
    log_default_model(settings.default_model_choice, "worker")
    # Build the adapters (database schema, boto3 client) once here; the processes forked
    # from this one inherit them instead of rebuilding them for every job.
    jobs.warm_up()
    Supervisor(settings).run()


if __name__ == "__main__":
    main()

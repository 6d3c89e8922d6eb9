"""The WSGI entry point for gunicorn: `gunicorn app.wsgi:app`."""

from app import create_app
from imagegen import logs
from imagegen.config import Settings

settings = Settings.from_env()
logs.configure("api", settings.log_level)
app = create_app(settings)

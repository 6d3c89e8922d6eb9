"""The repository on SQLite: the embedded default for running without AWS.

The modules: schema (the DDL), migrations (opening a database: the schema created, or an
older one's brought up to date in place), codec (records <-> rows), counters (the image
library's per-tenant counters) and repository (SqliteRepository, the Repository interface).
"""

from imagegen.storage.sqlite.migrations import SCHEMA_VERSION
from imagegen.storage.sqlite.repository import SqliteRepository

__all__ = ["SCHEMA_VERSION", "SqliteRepository"]

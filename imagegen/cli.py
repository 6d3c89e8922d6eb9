"""Operator commands: `python -m imagegen.cli create-key|bootstrap-key`."""

from __future__ import annotations

import argparse
import os
import sys

from imagegen import keys
from imagegen.config import Settings
from imagegen.storage.sqlite import SqliteRepository


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imagegen.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key and print it once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--user", required=True)
    create.add_argument("--name", default="default")
    create.add_argument("--key", help="store this key instead of generating one")
    commands.add_parser(
        "bootstrap-key",
        help="store IMAGEGEN_BOOTSTRAP_API_KEY, or make a development key once, and print it",
    )
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    repo = SqliteRepository(settings.database_path)
    if args.command == "create-key":
        print(keys.create_key(repo, args.tenant, args.user, args.name, args.key))
        return 0

    bootstrap = os.environ.get("IMAGEGEN_BOOTSTRAP_API_KEY", "")
    if bootstrap:
        keys.create_key(repo, "default", "admin", "bootstrap", bootstrap)
        print("API key: the value of IMAGEGEN_BOOTSTRAP_API_KEY", file=sys.stderr)
        return 0
    # A generated development key is kept in the data directory so that every `make run`
    # prints the same working key.
    path = settings.data_dir / "dev-api-key"
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
    else:
        key = keys.new_key()
        path.write_text(key + "\n", encoding="ascii")
        path.chmod(0o600)
    keys.create_key(repo, "default", "admin", "development", key)
    print(f"API key: {key}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

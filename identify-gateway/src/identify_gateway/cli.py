"""Operator commands: `identify-gateway migrate` (or `python -m identify_gateway.cli migrate`)."""

from __future__ import annotations

import argparse
import logging
import sys

from identify_gateway.config import get_settings
from identify_gateway.migrations import upgrade
from plant_shared.logging import configure_logging

SERVICE = "identify-gateway"
log = logging.getLogger("identify_gateway.cli")  # not __main__ under `python -m`


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="identify-gateway", description="Identification gateway operator commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate", help="apply the database migrations (idempotent)")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    args = parser.parse_args(argv)

    settings = get_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    if args.command == "migrate":
        upgrade(settings.database_url, args.revision)
        log.info("migrations applied", extra={"revision": args.revision})
    return 0


if __name__ == "__main__":
    sys.exit(main())

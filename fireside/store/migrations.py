"""Versioned SQL migrations: `migrations/NNNN_name.sql`, applied in order, each exactly once.

`schema.sql` beside this module is the truth about the current schema; a test checks that the
migrations, applied from nothing, build the same catalog.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

# Any fixed number works; it only has to be the same in every Fireside process so that N of
# them starting at once apply each migration once.
MIGRATION_LOCK_ID = 7_351_244_019

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def packaged_migrations() -> list[Migration]:
    folder = resources.files("fireside.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(url: str) -> list[str]:
    """Apply every pending migration; return the names applied."""
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migration")}
            for migration in packaged_migrations():
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migration (version, name) VALUES (%s, %s)",
                        [migration.version, migration.name],
                    )
                log.info("applied migration %s", migration.name)
                applied.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
    return applied


def packaged_schema() -> str:
    return resources.files("fireside.store").joinpath("schema.sql").read_text("utf-8")

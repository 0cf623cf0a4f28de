"""Saleor's database access rules: writer access in tasks, reads from the replica."""

from contextlib import AbstractContextManager

from django.conf import settings


def allow_writer() -> AbstractContextManager:
    """Saleor's ``allow_writer``.

    Saleor's Celery tasks refuse (in tests) or log (in production) writer-database
    access outside this context; every task of ours that writes enters it.
    """
    from saleor.core.db.connection import allow_writer as saleor_allow_writer

    return saleor_allow_writer()


def replica_name() -> str:
    """The connection Saleor reads from (its replica alias)."""
    return getattr(settings, "DATABASE_CONNECTION_REPLICA_NAME", "default")


def iter_id_batches(queryset, batch_size: int):
    """Primary keys of ``queryset`` in ascending batches, paged by key (never OFFSET)."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        batch = list(page.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not batch:
            return
        yield batch
        last = batch[-1]

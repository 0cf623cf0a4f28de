"""Scan for abandoned checkouts: create the emails that are due and hand them to senders.

Beat ticks every five minutes and the Dashboard's interval decides whether a tick
scans; the command scans at once. A duplicate scan is harmless (rows are unique per
checkout and step, and the sender locks each row); the scan lock keeps each scan's
count of the rows it created true.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from ..emails.sequence import create_due
from ..models import AbandonedEmail, EmailStatus
from ..shop import get_shop
from .queueing import SEND_ABANDONED_EMAIL, task_named

logger = logging.getLogger(__name__)

LAST_SCAN = "saleor_personalization:abandoned-last-scan"
SCAN_LOCK = "sp:abandoned-scan-lock"
STALE_PENDING = timedelta(minutes=10)

Sender = Callable[[int], None]


@dataclass
class AbandonedScan:
    created: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)  # pending rows whose send was lost
    skipped_reason: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        if self.skipped_reason and self.skipped_reason != "another scan is running":
            return {"skipped": self.skipped_reason}
        result = {"created": len(self.created), "requeued": len(self.requeued)}
        if self.skipped_reason:
            result["skipped"] = self.skipped_reason
        return result


def _take_scan_lock() -> bool:
    """One scan at a time across workers; without a usable cache the scan runs anyway."""
    try:
        return bool(cache.add(SCAN_LOCK, 1, timeout=900))
    except Exception:
        logger.warning("Cache unavailable; scanning without the scan lock")
        return True


def _release_scan_lock() -> None:
    try:
        cache.delete(SCAN_LOCK)
    except Exception:
        logger.warning("Cache unavailable; the scan lock expires by itself")


def queue_send(email_id: int) -> None:
    task_named(SEND_ABANDONED_EMAIL).delay(email_id)


def scan(
    force: bool = False,
    *,
    now: datetime | None = None,
    send: Sender | None = queue_send,
) -> AbandonedScan:
    """Create due emails and pass each new or stale-pending one to ``send``.

    ``force`` ignores the Dashboard's scan interval; ``send`` queues a send task by
    default (the command sends in its own process; ``None`` sends nothing).
    """
    config, active = get_shop().configuration.load()
    if not (active and config.abandoned_emails_enabled):
        return AbandonedScan(skipped_reason="abandoned-checkout emails are off")
    last = cache.get(LAST_SCAN)
    if (
        not force
        and last
        and timezone.now() - last < timedelta(minutes=config.abandoned_scan_minutes)
    ):
        return AbandonedScan(skipped_reason="not due")
    if not _take_scan_lock():
        return AbandonedScan(skipped_reason="another scan is running")
    try:
        # Taken after the lock: a scan that waited sees the rows the last one created.
        when = now or timezone.now()
        cache.set(LAST_SCAN, when, timeout=24 * 3600)
        with get_shop().database.writer():
            created = create_due(when, config)
            stale = list(
                AbandonedEmail.objects.filter(
                    status=EmailStatus.PENDING, created_at__lt=when - STALE_PENDING
                ).values_list("pk", flat=True)[:10_000]
            )
    finally:
        _release_scan_lock()
    result = AbandonedScan(created=list(created), requeued=stale)
    if created or stale:
        result.warnings = list(get_shop().mail.checkouts().shop().warnings)
        for warning in result.warnings:
            logger.warning("Abandoned-checkout emails: %s", warning)
    if send is not None:
        for email_id in [*created, *stale]:
            send(email_id)
    return result

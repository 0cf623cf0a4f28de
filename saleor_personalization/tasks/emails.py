"""Abandoned-checkout emails: the periodic scan and the exactly-once sender."""

import logging
import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from ..emails.delivery import mark_failed, send_abandoned_email
from ..emails.sequence import create_due
from ..models import AbandonedEmail, EmailStatus
from ..shop import get_shop

logger = logging.getLogger(__name__)

LAST_SCAN = "saleor_personalization:abandoned-last-scan"
SCAN_LOCK = "saleor_personalization:abandoned-scan"
STALE_PENDING = timedelta(minutes=10)
MAX_RETRIES = 5


SCAN_LOCK = "sp:abandoned-scan-lock"


def _take_scan_lock() -> bool:
    """One scan at a time across workers (the shared cache; Redis in Saleor).

    Rows are unique per checkout and step and every send locks its row, so two
    concurrent scans never mail twice; the lock keeps each scan's count of the rows
    it created true. Without a usable cache the scan runs anyway.
    """
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


@shared_task(name="saleor_personalization.scan_abandoned_checkouts", time_limit=900)
def scan_abandoned_task(force: bool = False) -> dict:
    """Create due emails and queue them; also requeue pending ones whose task was lost.

    Beat ticks every five minutes; the Dashboard's interval decides whether a tick
    scans. A duplicate scan (two beats, a manual run) is harmless: rows are unique
    per checkout and step, and the sender locks each row.
    """
    config, active = get_shop().configuration.load()
    if not (active and config.abandoned_emails_enabled):
        return {"skipped": "abandoned-checkout emails are off"}
    last = cache.get(LAST_SCAN)
    if (
        not force
        and last
        and timezone.now() - last < timedelta(minutes=config.abandoned_scan_minutes)
    ):
        return {"skipped": "not due"}
    if not _take_scan_lock():
        return {"created": 0, "requeued": 0, "skipped": "another scan is running"}
    try:
        # Taken after the lock: a scan that waited sees the rows the last one created.
        now = timezone.now()
        cache.set(LAST_SCAN, now, timeout=24 * 3600)
        with get_shop().database.writer():
            created = create_due(now, config)
            stale = list(
                AbandonedEmail.objects.filter(
                    status=EmailStatus.PENDING, created_at__lt=now - STALE_PENDING
                ).values_list("pk", flat=True)[:10_000]
            )
    finally:
        _release_scan_lock()
    if created or stale:
        for warning in get_shop().mail.checkouts().shop().warnings:
            logger.warning("Abandoned-checkout emails: %s", warning)
    for email_id in [*created, *stale]:
        send_abandoned_email_task.delay(email_id)
    return {"created": len(created), "requeued": len(stale)}


@shared_task(
    bind=True,
    name="saleor_personalization.send_abandoned_email",
    max_retries=MAX_RETRIES,
    acks_late=True,
)
def send_abandoned_email_task(self, email_id: int) -> str:
    config, _ = get_shop().configuration.load()
    try:
        with get_shop().database.writer():
            result = send_abandoned_email(
                email_id,
                source=get_shop().mail.checkouts(),
                config=config,
                smtp=get_shop().mail.smtp(config),
                now=timezone.now(),
            )
    except (smtplib.SMTPException, OSError) as error:
        if self.request.retries >= MAX_RETRIES:
            with get_shop().database.writer():
                mark_failed(email_id, f"{type(error).__name__}: {error}")
            logger.error("Abandoned email %s failed after retries: %s", email_id, error)
            return "failed"
        base = getattr(settings, "PERSONALIZATION_EMAIL_RETRY_SECONDS", 30)
        countdown = min(2**self.request.retries * base, 1800)
        raise self.retry(exc=error, countdown=countdown) from error
    return result.status

"""Abandoned-checkout emails: the periodic scan (``services.abandoned``) and the
exactly-once sender."""

import logging
import smtplib

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from ..emails.delivery import mark_failed, send_abandoned_email
from ..services.abandoned import LAST_SCAN, SCAN_LOCK, scan
from ..shop import get_shop

logger = logging.getLogger(__name__)

__all__ = ["LAST_SCAN", "SCAN_LOCK", "scan_abandoned_task", "send_abandoned_email_task"]

MAX_RETRIES = 5


@shared_task(name="saleor_personalization.scan_abandoned_checkouts", time_limit=900)
def scan_abandoned_task(force: bool = False) -> dict:
    """Create due emails and queue them; requeue pending ones whose task was lost."""
    return scan(force).as_dict()


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
    except Exception as error:
        # Anything else is not a passing fault of the server: the row is marked failed
        # with the reason (the send's transaction rolled back) rather than left pending
        # for a requeue that would fail the same way.
        logger.exception("Abandoned email %s failed", email_id)
        with get_shop().database.writer():
            mark_failed(email_id, f"{type(error).__name__}: {error}")
        return "failed"
    return result.status

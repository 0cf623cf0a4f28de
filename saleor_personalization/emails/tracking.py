"""Opens, clicks, unsubscribes and recovered orders of reminder emails."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q, Sum

from ..models import AbandonedEmail, CustomerProfile, EmailOptOut, EmailStatus
from .links import email_hash


def record_open(email_id: int, at: datetime) -> None:
    AbandonedEmail.objects.filter(pk=email_id, opened_at__isnull=True).update(opened_at=at)


def record_click(email_id: int, at: datetime) -> None:
    """A click also proves the email was opened (images may be blocked)."""
    AbandonedEmail.objects.filter(pk=email_id, clicked_at__isnull=True).update(clicked_at=at)
    record_open(email_id, at)


def unsubscribe(address: str, customer_id: int | None, at: datetime) -> None:
    """Stop all reminder and marketing email to this address (and customer)."""
    with transaction.atomic():
        EmailOptOut.objects.get_or_create(
            email_hash=email_hash(address), defaults={"opted_out_at": at}
        )
        if customer_id:
            CustomerProfile.objects.filter(customer_id=customer_id).update(
                marketing_consent=False, consent_updated_at=at
            )
        AbandonedEmail.objects.filter(recipient__iexact=address, status=EmailStatus.PENDING).update(
            status=EmailStatus.SKIPPED, error="unsubscribed"
        )


def attribute_order(checkout_token: str, order_ref: str, total, currency: str) -> bool:
    """A completed checkout that got reminders counts for the last step sent."""
    last = (
        AbandonedEmail.objects.filter(
            checkout_token=checkout_token, status=EmailStatus.SENT, order_ref=""
        )
        .order_by("-step")
        .first()
    )
    if last is None:
        return False
    last.order_ref = order_ref
    last.revenue = total
    last.currency = currency
    last.save(update_fields=["order_ref", "revenue", "currency"])
    return True


@dataclass(frozen=True)
class StepStats:
    step: int
    sent: int
    opened: int
    clicked: int
    recovered_orders: int
    revenue: Decimal
    skipped: int
    failed: int


def email_stats(since: datetime) -> list[StepStats]:
    rows = (
        AbandonedEmail.objects.filter(created_at__gte=since)
        .values("step")
        .annotate(
            sent=Count("id", filter=Q(status=EmailStatus.SENT)),
            opened=Count("id", filter=Q(opened_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
            recovered=Count("id", filter=~Q(order_ref="")),
            revenue=Sum("revenue"),
            skipped=Count("id", filter=Q(status=EmailStatus.SKIPPED)),
            failed=Count("id", filter=Q(status=EmailStatus.FAILED)),
        )
        .order_by("step")
    )
    return [
        StepStats(
            step=r["step"],
            sent=r["sent"],
            opened=r["opened"],
            clicked=r["clicked"],
            recovered_orders=r["recovered"],
            revenue=r["revenue"] or Decimal(0),
            skipped=r["skipped"],
            failed=r["failed"],
        )
        for r in rows
    ]

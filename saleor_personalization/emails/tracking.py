"""Opens, clicks, unsubscribes and recovered orders of reminder emails."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q, Sum

from ..models import AbandonedEmail, CustomerProfile, EmailOptOut, EmailStatus


def record_open(email_id: int, at: datetime) -> None:
    AbandonedEmail.objects.filter(pk=email_id, opened_at__isnull=True).update(opened_at=at)


def record_click(email_id: int, at: datetime) -> None:
    """A click also proves the email was opened (images may be blocked)."""
    AbandonedEmail.objects.filter(pk=email_id, clicked_at__isnull=True).update(clicked_at=at)
    record_open(email_id, at)


def unsubscribe(email_id: int, address_hash: str, at: datetime) -> None:
    """Stop all reminder and marketing email to this address (and its customer).

    The link names the email and the hash of the address it went to; the customer
    whose consent is withdrawn is the one that email was personal to, if any.
    """
    with transaction.atomic():
        EmailOptOut.objects.get_or_create(email_hash=address_hash, defaults={"opted_out_at": at})
        customer_id = (
            AbandonedEmail.objects.filter(pk=email_id, recipient_hash=address_hash)
            .values_list("customer_id", flat=True)
            .first()
        )
        if customer_id:
            CustomerProfile.objects.filter(customer_id=customer_id).update(
                marketing_consent=False, consent_updated_at=at
            )
        AbandonedEmail.objects.filter(
            recipient_hash=address_hash, status=EmailStatus.PENDING
        ).update(status=EmailStatus.SKIPPED, error="unsubscribed")


def attribute_order(checkout_token: str, order_ref: str, total, currency: str) -> bool:
    """Credit a recovered order to the last step sent before it, once.

    Saleor fires ``order_created`` and, for a paid checkout, ``order_fully_paid``:
    both record the order, possibly at the same time on two workers. The checkout's
    rows are locked, and a checkout that already credited an order credits nothing
    more, so each order counts once, for one step.
    """
    with transaction.atomic():
        rows = list(
            AbandonedEmail.objects.select_for_update()
            .filter(checkout_token=checkout_token)
            .order_by("step")
        )
        if any(row.order_ref for row in rows):
            return False
        sent = [row for row in rows if row.status == EmailStatus.SENT]
        if not sent:
            return False
        last = sent[-1]
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

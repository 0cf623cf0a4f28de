"""Which checkouts are due which reminder step.

A checkout is due step *k* when it has an email and lines, is not completed, has
been idle for step *k*'s hours, got step *k-1* at least the difference between the
two delays ago, and has no step *k* yet. Each scan creates at most one step per
checkout, so a shop switching the feature on never sends three emails at once to a
checkout that has been idle for days. The queries use the partial index on open
carts' ``last_change_at`` and NOT EXISTS on the email table's unique key.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef

from ..configuration import PersonalizationConfig
from ..models import AbandonedEmail, CartState, CustomerProfile, EmailOptOut, EmailStatus
from .links import email_hash, email_hashes


@dataclass(frozen=True)
class DueEmail:
    token: str
    step: int
    email: str
    customer_id: int | None
    language: str
    channel: str


def open_carts(now: datetime, config: PersonalizationConfig):
    oldest = now - timedelta(days=config.abandoned_max_age_days)
    return (
        CartState.objects.filter(completed_at__isnull=True, last_change_at__gte=oldest)
        .exclude(email="")
        .exclude(lines={})
    )


def due(now: datetime, config: PersonalizationConfig, limit: int = 200_000) -> list[DueEmail]:
    hours = config.abandoned_step_hours
    found: dict[str, DueEmail] = {}
    for step, delay in enumerate(hours, start=1):
        carts = open_carts(now, config).filter(last_change_at__lte=now - timedelta(hours=delay))
        carts = carts.exclude(
            Exists(AbandonedEmail.objects.filter(checkout_token=OuterRef("token"), step=step))
        )
        if step > 1:
            gap = timedelta(hours=delay - hours[step - 2])
            carts = carts.filter(
                Exists(
                    AbandonedEmail.objects.filter(
                        checkout_token=OuterRef("token"),
                        step=step - 1,
                        created_at__lte=now - gap,
                    )
                )
            )
        for token, email, customer_id, language, channel in carts.values_list(
            "token", "email", "customer_id", "language_code", "channel"
        )[:limit]:
            # Lowest step first: a checkout due two steps gets the earlier one now.
            found.setdefault(token, DueEmail(token, step, email, customer_id, language, channel))
    return list(found.values())


def refusal(email: str, customer_id: int | None, config: PersonalizationConfig) -> str:
    """Why this shopper must not get marketing email, or "".

    ``customer_id`` is the customer the email is personal to (``shopper_id`` of the
    checkout): a guest checkout cannot borrow an account's consent.
    """
    if EmailOptOut.objects.filter(email_hash__in=email_hashes(email)).exists():
        return "unsubscribed"
    if config.abandoned_require_consent:
        if not customer_id:
            return "no marketing consent (guest)"
        consented = CustomerProfile.objects.filter(
            customer_id=customer_id, marketing_consent=True
        ).exists()
        if not consented:
            return "no marketing consent"
    return ""


def allowed(items: list[DueEmail], config: PersonalizationConfig) -> list[DueEmail]:
    """``refusal`` for many shoppers at once: two queries, not two per shopper."""
    if not items:
        return []
    hashes = [email_hashes(item.email) for item in items]
    opted_out = set(
        EmailOptOut.objects.filter(
            email_hash__in=[form for forms in hashes for form in forms]
        ).values_list("email_hash", flat=True)
    )
    consenting: set[int] = set()
    if config.abandoned_require_consent:
        consenting = set(
            CustomerProfile.objects.filter(
                customer_id__in=[i.customer_id for i in items if i.customer_id],
                marketing_consent=True,
            ).values_list("customer_id", flat=True)
        )
    return [
        item
        for item, hashed in zip(items, hashes, strict=True)
        if opted_out.isdisjoint(hashed)
        and (not config.abandoned_require_consent or item.customer_id in consenting)
    ]


def create_due(now: datetime, config: PersonalizationConfig) -> list[int]:
    """Create the rows of due, allowed emails; returns the new rows' ids.

    Rows are inserted in bulk; the unique (checkout, step) key silently drops any a
    duplicate scan, here or on another worker, already created. The rows this scan
    created are the ones stamped with its ``now``.
    """
    rows = [
        AbandonedEmail(
            checkout_token=item.token,
            step=item.step,
            customer_id=item.customer_id,
            recipient_hash=email_hash(item.email),
            language=item.language[:8],
            channel=item.channel,
            created_at=now,
        )
        for item in allowed(due(now, config), config)
    ]
    if not rows:
        return []
    AbandonedEmail.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return list(
        AbandonedEmail.objects.filter(created_at=now, status=EmailStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )

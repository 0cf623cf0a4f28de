"""Customer order summaries derived from the interaction log.

Summaries are recomputed from purchases rather than incremented, so a replayed event,
a reloaded export or a merged identity can never double-count an order.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Min, Sum
from django.utils import timezone

from ..events.identity import address_digest
from ..models import CustomerProfile, Interaction, InteractionKind

_CHUNK = 2000


def refresh_customer_summaries(customer_ids: Sequence[int]) -> int:
    """Recompute orders, spend, first seen and last order for the given customers.

    Returns how many profiles changed.
    """
    changed = 0
    for start in range(0, len(customer_ids), _CHUNK):
        chunk = list(customer_ids[start : start + _CHUNK])
        changed += _refresh_chunk(chunk)
    return changed


def _refresh_chunk(customer_ids: list[int]) -> int:
    line_total = ExpressionWrapper(
        F("quantity") * F("unit_price"), output_field=DecimalField(max_digits=14, decimal_places=3)
    )
    summaries = {
        row["customer_id"]: row
        for row in Interaction.objects.filter(
            customer_id__in=customer_ids, kind=InteractionKind.PURCHASE
        )
        .values("customer_id")
        .annotate(
            orders=Count("basket_ref", distinct=True),
            spent=Sum(line_total),
            first=Min("occurred_at"),
            last=Max("occurred_at"),
            currency=Max("currency"),
        )
        .order_by()
    }
    first_seen = dict(
        Interaction.objects.filter(customer_id__in=customer_ids)
        .values("customer_id")
        .annotate(first=Min("occurred_at"))
        .order_by()
        .values_list("customer_id", "first")
    )
    now = timezone.now()
    to_update = []
    for profile in CustomerProfile.objects.filter(customer_id__in=customer_ids):
        summary = summaries.get(profile.customer_id)
        orders = summary["orders"] if summary else 0
        spent = (summary["spent"] or 0) if summary else 0
        last = summary["last"] if summary else None
        currency = (summary["currency"] or profile.currency) if summary else profile.currency
        seen = first_seen.get(profile.customer_id)
        first = (
            min(d for d in (profile.first_seen_at, seen) if d)
            if (profile.first_seen_at or seen)
            else None
        )
        new_values = (orders, round(spent, 3), last, currency, first)
        old_values = (
            profile.orders_count,
            round(profile.total_spent, 3),
            profile.last_order_at,
            profile.currency,
            profile.first_seen_at,
        )
        if new_values != old_values:
            (
                profile.orders_count,
                profile.total_spent,
                profile.last_order_at,
                profile.currency,
                profile.first_seen_at,
            ) = new_values
            profile.updated_at = now
            to_update.append(profile)
    CustomerProfile.objects.bulk_update(
        to_update,
        ["orders_count", "total_spent", "last_order_at", "currency", "first_seen_at", "updated_at"],
    )
    return len(to_update)


@dataclass(frozen=True)
class CustomerFeatures:
    """A customer as read from Saleor's account data.

    ``consent`` is ``None`` when the source says nothing about marketing consent, so a
    sync never overwrites what the customer chose through the plugin's API. ``email``
    passes through: the profile keeps only its keyed hash. ``attributes`` are the
    ``key=value`` pairs of the customer metadata keys the merchant maps (loyalty tier,
    age band, ...), features for the recommender; ``None``: the source has none to say.
    """

    customer_id: int
    email: str = ""
    country: str = ""
    language_code: str = ""
    first_seen_at: datetime | None = None
    consent: bool | None = None
    attributes: tuple[str, ...] | None = None


def upsert_customers(customers: Iterable[CustomerFeatures]) -> int:
    """Create or update customer profiles; returns how many were written."""
    customers = list(customers)
    if not customers:
        return 0
    now = timezone.now()
    with transaction.atomic():
        existing = {
            p.customer_id: p
            for p in CustomerProfile.objects.filter(
                customer_id__in=[c.customer_id for c in customers]
            )
        }
        to_create, to_update = [], []
        for customer in customers:
            profile = existing.get(customer.customer_id)
            if profile is None:
                profile = CustomerProfile(customer_id=customer.customer_id)
                _apply(profile, customer, now)
                to_create.append(profile)
            elif _apply(profile, customer, now):
                to_update.append(profile)
        CustomerProfile.objects.bulk_create(to_create)
        CustomerProfile.objects.bulk_update(
            to_update,
            [
                "email_digest",
                "country",
                "language_code",
                "first_seen_at",
                "marketing_consent",
                "consent_updated_at",
                "metadata_consent",
                "attributes",
                "updated_at",
            ],
        )
    return len(to_create) + len(to_update)


def clear_attributes() -> int:
    """Forget every customer's metadata attributes (no key is mapped any more)."""
    return CustomerProfile.objects.exclude(attributes=[]).update(attributes=[])


def _apply(profile: CustomerProfile, customer: CustomerFeatures, now: datetime) -> bool:
    changed = False
    for name, value in (
        ("email_digest", address_digest(customer.email)),
        ("country", customer.country),
        ("language_code", customer.language_code),
    ):
        if value and getattr(profile, name) != value:
            setattr(profile, name, value)
            changed = True
    if customer.first_seen_at and (
        profile.first_seen_at is None or customer.first_seen_at < profile.first_seen_at
    ):
        profile.first_seen_at = customer.first_seen_at
        changed = True
    if customer.attributes is not None and list(customer.attributes) != profile.attributes:
        profile.attributes = list(customer.attributes)
        changed = True
    if _apply_metadata_consent(profile, customer.consent, now):
        changed = True
    if changed:
        profile.updated_at = now
    return changed


def _apply_metadata_consent(profile: CustomerProfile, consent: bool | None, now: datetime) -> bool:
    """Import the consent metadata key only when its value changed since the last import.

    The key is read on every sync of the customer (any account update fires one), but it
    is a statement made once: a customer who withdrew through the API or an unsubscribe
    link after staff set the key to "true" must stay withdrawn until the key is set again
    (to "false" and back, or cleared and set) or the customer grants consent themselves.
    A profile whose consent was chosen before the imported value was kept (upgrade from
    a version that did not keep it) takes the key's current value as the baseline and
    lets it withdraw, never grant, so an old withdrawal is not undone by the upgrade.
    """
    if consent is None or consent == profile.metadata_consent:
        return False
    chosen_before_baseline = (
        profile.metadata_consent is None and profile.consent_updated_at is not None
    )
    profile.metadata_consent = consent
    if consent != profile.marketing_consent and not (chosen_before_baseline and consent):
        profile.marketing_consent = consent
        profile.consent_updated_at = now
    return True

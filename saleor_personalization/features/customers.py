"""Customer order summaries derived from the interaction log.

Summaries are recomputed from purchases rather than incremented, so a replayed event,
a reloaded export or a merged identity can never double-count an order.
"""

from collections.abc import Sequence

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Min, Sum
from django.utils import timezone

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

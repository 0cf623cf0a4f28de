"""Recommendation ids, clicks on recommendations and the attribution report.

A ``recommendationId`` is signed (Django's signing with ``SECRET_KEY``), so a click
reported by a storefront names a list that really served that product: nobody can
inflate a list's figures by inventing ids. It carries the list, the product and when
it was served; nothing about the shopper, so it is safe in a URL.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core import signing
from django.db.models import Count
from django.utils import timezone

from ..models import Interaction, InteractionKind, RecommendationClick
from .recording import TrackedShopper, event_key, record_view

logger = logging.getLogger(__name__)

_SIGNER = signing.Signer(salt="saleor_personalization.recommendation")
ATTRIBUTION_DAYS = 7


class InvalidRecommendationId(ValueError):
    pass


@dataclass(frozen=True)
class RecommendationRef:
    source: str
    product_id: int
    served_at: datetime


def recommendation_id(source: str, product_id: int, served_at: datetime) -> str:
    return _SIGNER.sign(f"{source}.{product_id}.{int(served_at.timestamp())}")


def read_recommendation_id(value: str) -> RecommendationRef:
    try:
        source, product, served = _SIGNER.unsign(value).split(".")
        return RecommendationRef(
            source=source,
            product_id=int(product),
            served_at=datetime.fromtimestamp(int(served), tz=UTC),
        )
    except (signing.BadSignature, ValueError) as error:
        raise InvalidRecommendationId("not a recommendation id issued by this shop") from error


def record_click(
    shopper: TrackedShopper,
    ref: RecommendationRef,
    channel: str,
    *,
    event_id: str = "",
    served_key: str = "",
    occurred_at: datetime | None = None,
) -> bool:
    """Write a click on a served recommendation (and the product view it leads to).

    ``served_key`` names the served item itself: given, the item counts one click
    whoever sends it (a list served to a shared anonymous id, or replayed by several
    accounts, cannot inflate clicks); otherwise one click per shopper and event.
    """
    when = occurred_at or timezone.now()
    key = (
        served_key or event_id or f"{ref.source}.{ref.product_id}.{int(ref.served_at.timestamp())}"
    )
    source_key = f"click:{served_key}" if served_key else event_key("click", shopper, key)
    _, created = RecommendationClick.objects.get_or_create(
        source_key=source_key,
        defaults={
            "source": ref.source,
            "product_id": ref.product_id,
            "customer_id": shopper.customer_id,
            "anonymous_id": "" if shopper.customer_id else shopper.identity,
            "channel": channel,
            "served_at": ref.served_at,
            "clicked_at": when,
        },
    )
    if created:
        record_view(shopper, ref.product_id, channel, event_id=f"click-{key}", occurred_at=when)
    return created


@dataclass(frozen=True)
class SourceReport:
    source: str
    clicks: int
    attributed_orders: int
    attributed_revenue: Decimal


def attribution_report(since: datetime, days: int = ATTRIBUTION_DAYS) -> list[SourceReport]:
    """Clicks per list since ``since`` and the purchases that followed them.

    A purchase is attributed to a click when the same customer bought the clicked
    product within ``days`` after clicking it; an order (``basket_ref``) counts once
    per list, its revenue being the clicked lines' value.
    """
    clicks = RecommendationClick.objects.filter(clicked_at__gte=since)
    reports: dict[str, dict] = {}
    for source, count in _count_by_source(clicks):
        reports[source] = {"clicks": count, "orders": set(), "revenue": Decimal(0)}
    purchases = (
        Interaction.objects.filter(
            kind=InteractionKind.PURCHASE,
            customer_id__isnull=False,
            occurred_at__gte=since,
        )
        .filter(
            customer_id__in=clicks.filter(customer_id__isnull=False).values("customer_id"),
        )
        .values_list(
            "customer_id", "product_id", "occurred_at", "basket_ref", "quantity", "unit_price"
        )
    )
    by_customer: dict[tuple[int, int], list[tuple[str, datetime]]] = {}
    for customer_id, product_id, source, clicked_at in clicks.filter(
        customer_id__isnull=False
    ).values_list("customer_id", "product_id", "source", "clicked_at"):
        by_customer.setdefault((customer_id, product_id), []).append((source, clicked_at))
    window = timedelta(days=days)
    for customer_id, product_id, occurred_at, basket, quantity, price in purchases:
        for source, clicked_at in by_customer.get((customer_id, product_id), ()):
            if clicked_at <= occurred_at <= clicked_at + window:
                report = reports[source]
                if (basket, product_id) not in report["orders"]:
                    report["orders"].add((basket, product_id))
                    report["revenue"] += (price or Decimal(0)) * quantity
    return [
        SourceReport(
            source=source,
            clicks=data["clicks"],
            attributed_orders=len({basket for basket, _ in data["orders"]}),
            attributed_revenue=data["revenue"],
        )
        for source, data in sorted(reports.items())
    ]


def _count_by_source(clicks) -> list[tuple[str, int]]:
    return list(
        clicks.values("source").annotate(n=Count("id")).order_by().values_list("source", "n")
    )

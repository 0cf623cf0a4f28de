"""Recompute segments from the feature store and record entries and exits."""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from ..models import (
    CartState,
    CustomerProfile,
    Segment,
    SegmentKind,
    SegmentMembership,
    SegmentSize,
)
from .rules import CustomerSummary, SegmentRules, memberships

logger = logging.getLogger(__name__)

ABANDONED_AFTER = timedelta(hours=24)
ABANDONER_WINDOW = timedelta(days=90)


@dataclass
class SegmentReport:
    sizes: dict[str, int]
    entered: int
    left: int


def customer_summaries(as_of: datetime) -> list[CustomerSummary]:
    abandoned = defaultdict(int)
    for customer_id, carts in (
        CartState.objects.filter(
            customer_id__isnull=False,
            completed_at__isnull=True,
            last_change_at__lt=as_of - ABANDONED_AFTER,
            last_change_at__gte=as_of - ABANDONER_WINDOW,
        )
        .exclude(lines={})
        .values("customer_id")
        .annotate(carts=Count("token"))
        .values_list("customer_id", "carts")
    ):
        abandoned[customer_id] = carts
    return [
        CustomerSummary(
            customer_id=cid,
            orders=orders,
            spent=spent,
            last_order_at=last,
            country=country,
            abandoned_carts=abandoned.get(cid, 0),
        )
        for cid, orders, spent, last, country in CustomerProfile.objects.values_list(
            "customer_id", "orders_count", "total_spent", "last_order_at", "country"
        ).iterator(chunk_size=5000)
    ]


def compute_segments(
    *, as_of: datetime | None = None, rules: SegmentRules | None = None
) -> SegmentReport:
    """Bring every rule segment's membership up to date; idempotent for the same data."""
    as_of = as_of or timezone.now()
    rules = rules or SegmentRules()
    members, definitions = memberships(customer_summaries(as_of), as_of, rules)
    entered, left = sync_segments(
        {key: (d.name, d.description, {"rules": rules.__dict__}) for key, d in definitions.items()},
        members,
        SegmentKind.RULE,
        as_of,
    )
    sizes = {key: len(members.get(key, set())) for key in definitions}
    logger.info("Segments recomputed: %s entered, %s left", entered, left)
    return SegmentReport(sizes=sizes, entered=entered, left=left)


def sync_segments(
    definitions: dict[str, tuple[str, str, dict]],
    members: dict[str, set[int]],
    kind: str,
    as_of: datetime,
) -> tuple[int, int]:
    """Make the segments of one kind exactly ``definitions``, with these members.

    Entries and exits are recorded (``entered_at``/``left_at``), today's sizes kept,
    and segments of that kind no longer defined are switched off with everyone
    leaving them. Returns (entered, left).
    """
    entered = left = 0
    with transaction.atomic():
        segments = {}
        for key, (name, description, definition) in definitions.items():
            segment, _ = Segment.objects.update_or_create(
                key=key,
                defaults={
                    "name": name,
                    "description": description,
                    "definition": definition,
                    "kind": kind,
                    "is_active": True,
                },
            )
            segments[key] = segment
        stale = Segment.objects.filter(kind=kind).exclude(key__in=list(definitions))
        left += SegmentMembership.objects.filter(segment__in=stale, left_at__isnull=True).update(
            left_at=as_of
        )
        stale.update(is_active=False)
        for key, segment in segments.items():
            target = members.get(key, set())
            current = set(
                SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).values_list(
                    "customer_id", flat=True
                )
            )
            joining = target - current
            leaving = current - target
            SegmentMembership.objects.bulk_create(
                [
                    SegmentMembership(segment=segment, customer_id=c, entered_at=as_of)
                    for c in joining
                ],
                batch_size=2000,
            )
            if leaving:
                left += SegmentMembership.objects.filter(
                    segment=segment, customer_id__in=leaving, left_at__isnull=True
                ).update(left_at=as_of)
            entered += len(joining)
            SegmentSize.objects.update_or_create(
                segment=segment, date=as_of.date(), defaults={"size": len(target)}
            )
    return entered, left


def segments_of(customer_id: int) -> list[Segment]:
    return list(
        Segment.objects.filter(
            memberships__customer_id=customer_id, memberships__left_at__isnull=True
        ).order_by("key")
    )


def current_sizes() -> dict[int, int]:
    """Members now, per segment id (one grouped query; segments without members absent)."""
    return dict(
        SegmentMembership.objects.filter(left_at__isnull=True)
        .values("segment_id")
        .annotate(n=Count("id"))
        .values_list("segment_id", "n")
    )


# What the API shows of segments (read side) -------------------------------------------


@dataclass(frozen=True)
class SegmentSummary:
    """An active segment and its current size."""

    segment_id: int
    key: str
    name: str
    kind: str
    description: str
    size: int


@dataclass(frozen=True)
class CustomerSegment:
    """A segment a customer is in now, and since when."""

    key: str
    name: str
    description: str
    entered_at: datetime


@dataclass(frozen=True)
class SizePoint:
    day: date
    size: int


@dataclass(frozen=True)
class Member:
    customer_id: int
    entered_at: datetime


def active_segments() -> list[SegmentSummary]:
    """Every active segment with its size, by kind then key (two queries in all)."""
    counts = current_sizes()
    return [
        SegmentSummary(
            segment_id=segment.pk,
            key=segment.key,
            name=segment.name,
            kind=segment.kind,
            description=segment.description,
            size=counts.get(segment.pk, 0),
        )
        for segment in Segment.objects.filter(is_active=True).order_by("kind", "key")
    ]


def customer_segments(customer_id: int) -> list[CustomerSegment]:
    """The active segments the customer is in now, by key (one query)."""
    memberships = (
        SegmentMembership.objects.filter(
            customer_id=customer_id, left_at__isnull=True, segment__is_active=True
        )
        .select_related("segment")
        .order_by("segment__key")
    )
    return [
        CustomerSegment(
            key=m.segment.key,
            name=m.segment.name,
            description=m.segment.description,
            entered_at=m.entered_at,
        )
        for m in memberships
    ]


def segment_sizes(segment_id: int, since: date) -> list[SizePoint]:
    """The segment's recorded daily sizes from ``since``, oldest first."""
    rows = SegmentSize.objects.filter(segment_id=segment_id, date__gte=since).order_by("date")
    return [SizePoint(day=row.date, size=row.size) for row in rows]


def segment_members(segment_id: int, first: int) -> list[Member]:
    """The segment's ``first`` current members, newest first."""
    rows = (
        SegmentMembership.objects.filter(segment_id=segment_id, left_at__isnull=True)
        .order_by("-entered_at", "customer_id")
        .values_list("customer_id", "entered_at")[:first]
    )
    return [
        Member(customer_id=customer_id, entered_at=entered_at) for customer_id, entered_at in rows
    ]

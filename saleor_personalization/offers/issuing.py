"""Issue codes to segment members, within the guardrails, idempotently."""

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet

from ..configuration import PersonalizationConfig
from ..models import SegmentMembership, SegmentOffer
from ..shop import get_shop
from .campaigns import Campaign, VoucherCodes, guardrail_refusal
from .redemption import owner_hash

logger = logging.getLogger(__name__)


@dataclass
class IssueReport:
    issued: dict[str, int] = field(default_factory=dict)
    held_out: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    closed: int = 0


def new_code() -> str:
    """80 random bits as five groups of four: not guessable, easy to type."""
    raw = secrets.token_hex(10).upper()
    return "-".join(raw[i : i + 4] for i in range(0, 20, 4))


def in_holdout(campaign_key: str, customer_id: int, share_percent: int) -> bool:
    """A stable coin flip per customer and campaign, so a rerun puts nobody elsewhere."""
    digest = hashlib.sha256(f"{campaign_key}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share_percent / 100


def close_finished(now: datetime, codes: VoucherCodes) -> int:
    """Close offers that expired: their codes stop working."""
    finished = SegmentOffer.objects.filter(closed_at__isnull=True, expires_at__lte=now)
    expiring = list(
        finished.filter(redeemed_at__isnull=True, code__isnull=False).values_list("code", flat=True)
    )
    with transaction.atomic():
        closed = finished.update(closed_at=now)
        if expiring:
            codes.deactivate(expiring)
    return closed


def recently_offered(now: datetime, frequency_days: int) -> "QuerySet[SegmentOffer]":
    """Codes (any campaign) issued within the frequency window: their customers get no
    other code until it has passed (the Dashboard's offer frequency cap)."""
    if not frequency_days:
        return SegmentOffer.objects.none()
    since = now - timedelta(days=frequency_days)
    return SegmentOffer.objects.filter(holdout=False, issued_at__gt=since)


def _capped(now: datetime, config: PersonalizationConfig) -> set[int]:
    """Customers who got a code (any campaign) within the frequency window."""
    offers = recently_offered(now, config.offer_frequency_days)
    return set(offers.values_list("customer_id", flat=True))


def issue_campaign(
    campaign: Campaign, config: PersonalizationConfig, now: datetime, codes: VoucherCodes
) -> tuple[int, int]:
    members = set(
        SegmentMembership.objects.filter(
            segment__key=campaign.segment_key, segment__is_active=True, left_at__isnull=True
        ).values_list("customer_id", flat=True)
    )
    # One offer per customer per campaign voucher, ever: an expired or redeemed offer
    # still counts. Offering again means a new voucher (or, for an automation, naming
    # another voucher), which is a new campaign round with a fresh holdout.
    taken = set(
        SegmentOffer.objects.filter(campaign=campaign.key)
        .filter(Q(voucher_id=campaign.voucher_id) | Q(closed_at__isnull=True))
        .values_list("customer_id", flat=True)
    )
    candidates = sorted(members - taken - _capped(now, config))
    if not candidates:
        return 0, 0
    emails = get_shop().customers.emails(candidates)
    expires = now + timedelta(days=config.offer_validity_days)
    if campaign.ends_at and campaign.ends_at < expires:
        expires = campaign.ends_at
    offers = []
    for customer_id in candidates:
        holdout = in_holdout(campaign.key, customer_id, config.offer_holdout_percent)
        offers.append(
            SegmentOffer(
                campaign=campaign.key,
                segment_key=campaign.segment_key,
                voucher_id=campaign.voucher_id,
                customer_id=customer_id,
                email_hash=owner_hash(emails[customer_id]) if emails.get(customer_id) else "",
                code=None if holdout else new_code(),
                holdout=holdout,
                issued_at=now,
                expires_at=expires,
            )
        )
    new_codes = [offer.code for offer in offers if offer.code]
    with transaction.atomic():
        # A concurrent run that got here first makes this insert fail as a whole
        # (one open offer per customer and campaign): nothing half-issued remains.
        SegmentOffer.objects.bulk_create(offers, batch_size=1000)
        if new_codes:
            codes.create(campaign.voucher_id, new_codes)
    return len(new_codes), len(offers) - len(new_codes)


def issue_offers(
    campaigns: list[Campaign],
    config: PersonalizationConfig,
    now: datetime,
    codes: VoucherCodes,
) -> IssueReport:
    report = IssueReport(closed=close_finished(now, codes))
    for campaign in campaigns:
        refusal = guardrail_refusal(campaign, config)
        if refusal:
            report.skipped[campaign.key] = refusal
            logger.warning("Offer campaign %s not issued: %s", campaign.key, refusal)
            continue
        issued, held_out = issue_campaign(campaign, config, now, codes)
        report.issued[campaign.key] = issued
        report.held_out[campaign.key] = held_out
    return report

"""A code belongs to one customer: checked before Saleor creates the order."""

from dataclasses import dataclass
from datetime import datetime

from ..models import SegmentOffer


@dataclass(frozen=True)
class CodeCheck:
    ours: bool
    refusal: str = ""


def check_code(code: str, customer_id: int | None, email: str, now: datetime) -> CodeCheck:
    """Whether this shopper may use ``code`` (codes that are not ours always pass)."""
    offer = (
        SegmentOffer.objects.filter(code=code)
        .values("customer_id", "email", "redeemed_at", "expires_at", "closed_at")
        .first()
    )
    if offer is None:
        return CodeCheck(ours=False)
    owner = customer_id == offer["customer_id"] or (
        bool(email) and bool(offer["email"]) and email.strip().lower() == offer["email"].lower()
    )
    if not owner:
        return CodeCheck(True, "This voucher code was issued to another customer.")
    if offer["redeemed_at"] is not None:
        return CodeCheck(True, "This voucher code has already been used.")
    if offer["closed_at"] is not None or offer["expires_at"] <= now:
        return CodeCheck(True, "This voucher code has expired.")
    return CodeCheck(True)


def mark_redeemed(code: str, order_ref: str, at: datetime) -> bool:
    """Record the order that used the code; True the first time."""
    return bool(
        SegmentOffer.objects.filter(code=code, redeemed_at__isnull=True).update(
            redeemed_at=at, order_ref=order_ref, closed_at=at
        )
    )


@dataclass(frozen=True)
class LiveOffer:
    code: str
    campaign: str
    segment_key: str
    voucher_id: int
    expires_at: datetime


def live_offer(customer_id: int, now: datetime, campaign: str | None = None) -> LiveOffer | None:
    """The customer's usable code (of one campaign, or the one expiring first).

    This is the offer API other features use: the abandoned-checkout email shows it,
    the storefront shows ``myOffers``. Held-out customers have none, by design.
    """
    offers = SegmentOffer.objects.filter(
        customer_id=customer_id,
        holdout=False,
        closed_at__isnull=True,
        redeemed_at__isnull=True,
        expires_at__gt=now,
    )
    if campaign:
        offers = offers.filter(campaign=campaign)
    offer = offers.order_by("expires_at").first()
    if offer is None:
        return None
    return LiveOffer(
        code=offer.code,
        campaign=offer.campaign,
        segment_key=offer.segment_key,
        voucher_id=offer.voucher_id,
        expires_at=offer.expires_at,
    )

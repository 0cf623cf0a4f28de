"""A code belongs to one customer and works once: checked and claimed as the order is made.

Saleor deactivates a code of a ``single_use`` voucher when an order uses it, so a code
used once stops applying even with the plugin switched off. Saleor does not lock the
code while it does so: two ``checkoutComplete`` with the same code at the same moment
would both pass. The claim here closes that gap: ``claim_code`` locks the offer's row
and marks it redeemed by the checkout in the same statement sequence, so of two
concurrent checkouts the second waits for the first and then sees the code taken.
Saleor calls the hook just before it creates the order (inside its own transaction
where it has one, which then also covers the claim); a retry of the same checkout
keeps its claim, and a claim by a checkout whose order never came (payment declined,
stock gone) is released after ``CLAIM_HOLD``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..events.identity import address_digest, same_address
from ..models import SegmentOffer
from ..shop import get_shop

if TYPE_CHECKING:
    from .campaigns import VoucherCodes

CLAIM_HOLD = timedelta(minutes=15)
CHECKOUT_REF = "checkout:"

OTHER_CUSTOMER = "This voucher code was issued to another customer."
ALREADY_USED = "This voucher code has already been used."
EXPIRED = "This voucher code has expired."
PERSONAL_ONLY = "This voucher is only for the customers it was issued to; use your personal code."


def owner_hash(address: str) -> str:
    """The stored form of an owner's address: only ever compared, never sent to.

    The keyed digest customer profiles use, so a leaked table cannot be reversed by
    hashing a list of likely addresses.
    """
    return address_digest(address)


@dataclass(frozen=True)
class CodeCheck:
    ours: bool
    refusal: str = ""


def is_owner(offer: SegmentOffer, customer_id: int | None, email: str) -> bool:
    """A signed-in checkout belongs to its account; only a guest matches by address.

    The checkout's email is typed by whoever holds the checkout: on a signed-in
    checkout it proves nothing, so another customer's address there gets no code.
    """
    if customer_id is not None:
        return customer_id == offer.customer_id
    return bool(email.strip()) and same_address(offer.email_hash, email)


def _stale_claim(offer: SegmentOffer, now: datetime, order_exists: Callable[[str], bool]) -> bool:
    """A checkout claimed the code, but no order came of it within ``CLAIM_HOLD``."""
    if not offer.order_ref.startswith(CHECKOUT_REF) or offer.redeemed_at is None:
        return False
    if offer.redeemed_at > now - CLAIM_HOLD:
        return False
    return not order_exists(offer.order_ref.removeprefix(CHECKOUT_REF))


def claim_code(
    code: str,
    customer_id: int | None,
    email: str,
    checkout_token: str,
    now: datetime,
    order_exists: Callable[[str], bool],
) -> CodeCheck:
    """Whether this checkout may use ``code``; if so, the code is now taken by it.

    Must run inside a transaction (a savepoint in Saleor's): the offer's row stays
    locked until the order is committed or the hook's own block ends. Codes that are
    not the plugin's pass unclaimed (``ours`` False).
    """
    offer = SegmentOffer.objects.select_for_update().filter(code=code).first()
    if offer is None:
        return CodeCheck(ours=False)
    if not is_owner(offer, customer_id, email):
        return CodeCheck(True, OTHER_CUSTOMER)
    claim = f"{CHECKOUT_REF}{checkout_token}"
    if offer.order_ref == claim:
        return CodeCheck(True)  # the same checkout again (a retry): still its claim
    if offer.redeemed_at is not None and not _stale_claim(offer, now, order_exists):
        return CodeCheck(True, ALREADY_USED)
    if offer.expires_at <= now or (offer.closed_at is not None and offer.redeemed_at is None):
        return CodeCheck(True, EXPIRED)
    offer.redeemed_at = offer.closed_at = now
    offer.order_ref = claim
    offer.save(update_fields=["redeemed_at", "closed_at", "order_ref"])
    return CodeCheck(True)


def record_order(code: str, checkout_token: str | None, order_ref: str, at: datetime) -> bool:
    """Tie the code's claim to the order that used it; True if the code is ours.

    Orders that did not pass the checkout check (a draft order a staff member
    completed with the code) redeem an unclaimed code here.
    """
    offers = SegmentOffer.objects.filter(code=code)
    claimed = offers.filter(order_ref=f"{CHECKOUT_REF}{checkout_token}") if checkout_token else None
    if claimed is not None and claimed.update(order_ref=order_ref, redeemed_at=at, closed_at=at):
        return True
    if offers.filter(redeemed_at__isnull=True).update(
        order_ref=order_ref, redeemed_at=at, closed_at=at
    ):
        return True
    return offers.exists()


@dataclass(frozen=True)
class LiveOffer:
    code: str
    campaign: str
    segment_key: str
    voucher_id: int
    expires_at: datetime
    issued_at: datetime | None = None


def live_offers(
    customer_id: int,
    now: datetime,
    campaign: str | None = None,
    codes: "VoucherCodes | None" = None,
) -> list[LiveOffer]:
    """The customer's usable codes, the one expiring first first.

    An open offer is not enough: Saleor may have taken the code out of use while the
    plugin did not hear of it (an order with the plugin inactive, an admin switching
    the code off, deleting or ending the voucher). The shop is asked about all the
    customer's open codes in one query, and only the codes it still accepts count.
    """
    offers = SegmentOffer.objects.filter(
        customer_id=customer_id,
        holdout=False,
        code__isnull=False,
        closed_at__isnull=True,
        redeemed_at__isnull=True,
        expires_at__gt=now,
    )
    if campaign:
        offers = offers.filter(campaign=campaign)
    candidates = list(offers.order_by("expires_at", "pk"))
    if not candidates:
        return []
    if codes is None:
        codes = get_shop().vouchers.codes()
    accepted = codes.accepted([offer.code for offer in candidates], now)
    return [
        LiveOffer(
            code=offer.code,
            campaign=offer.campaign,
            segment_key=offer.segment_key,
            voucher_id=offer.voucher_id,
            expires_at=offer.expires_at,
            issued_at=offer.issued_at,
        )
        for offer in candidates
        if offer.code in accepted
    ]


def live_offer(
    customer_id: int,
    now: datetime,
    campaign: str | None = None,
    codes: "VoucherCodes | None" = None,
) -> LiveOffer | None:
    """The customer's usable code (of one campaign, or the one expiring first).

    This is the offer API other features use: the abandoned-checkout email shows it,
    the storefront shows ``myOffers``. Held-out customers have none, by design.
    """
    offers = live_offers(customer_id, now, campaign, codes)
    return offers[0] if offers else None


def catch_up_redemptions(codes: "VoucherCodes") -> int:
    """Record orders the shop made with the plugin's codes without the plugin hearing.

    With the plugin inactive Saleor still sells with a personal code (once: the
    voucher is single-use) but no hook records it, so the offer would stay open and
    the report would miss the redemption. Every code not yet redeemed is looked up in
    the shop's orders in one query, including offers that expired since: the order
    came while they ran. Each is recorded as ``order_created`` would have (order id
    and time, code switched off); a second run finds nothing left to record.
    Returns how many redemptions were recorded.
    """
    pending = SegmentOffer.objects.filter(
        holdout=False, code__isnull=False, redeemed_at__isnull=True
    ).values_list("code", flat=True)
    recorded = []
    for use in codes.uses(pending):
        if SegmentOffer.objects.filter(code=use.code, redeemed_at__isnull=True).update(
            order_ref=use.order_ref, redeemed_at=use.at, closed_at=use.at
        ):
            recorded.append(use.code)
    if recorded:
        codes.deactivate(recorded)
    return len(recorded)

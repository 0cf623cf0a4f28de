"""A customer's live offers as they are shown to them: code, voucher name, discount.

The codes come from :func:`.redemption.live_offers` (only those the shop still
accepts), the voucher behind each from the shop port in one call, so the storefront's
``myOffers`` and any other place showing offers word the discount alike.
"""

from dataclasses import dataclass
from datetime import datetime

from ..shop import VoucherSummary, get_shop
from .redemption import live_offers


@dataclass(frozen=True)
class DiscountText:
    kind: str | None  # "percentage" or "fixed"; None when the voucher is unknown
    amount: str | None  # e.g. "10%" or "5.00 USD"; None when it has no value


@dataclass(frozen=True)
class CustomerOffer:
    code: str
    voucher_name: str
    discount: DiscountText
    segment_key: str
    campaign: str
    issued_at: datetime | None
    expires_at: datetime


def discount_text(summary: VoucherSummary | None) -> DiscountText:
    """The voucher's discount in words; of several channel values, the largest."""
    if summary is None:
        return DiscountText(kind=None, amount=None)
    if not summary.discount_values:
        return DiscountText(kind=summary.discount_type, amount=None)
    currency, value = max(summary.discount_values.items(), key=lambda item: item[1])
    if summary.discount_type == "percentage":
        return DiscountText(kind="percentage", amount=f"{value.normalize():f}%")
    return DiscountText(kind="fixed", amount=f"{value:.2f} {currency}")


def customer_offers(customer_id: int, now: datetime) -> list[CustomerOffer]:
    """The customer's usable codes, the one expiring first first, with their vouchers."""
    offers = live_offers(customer_id, now)
    if not offers:
        return []
    summaries = get_shop().vouchers.summaries(sorted({o.voucher_id for o in offers}))
    result = []
    for offer in offers:
        summary = summaries.get(offer.voucher_id)
        result.append(
            CustomerOffer(
                code=offer.code,
                voucher_name=summary.name if summary else "",
                discount=discount_text(summary),
                segment_key=offer.segment_key,
                campaign=offer.campaign,
                issued_at=offer.issued_at,
                expires_at=offer.expires_at,
            )
        )
    return result

"""What a campaign is, and the guardrails that can stop one."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from ..configuration import PersonalizationConfig

SEGMENT_METADATA_KEY = "personalization.segment"
WINBACK = "winback"
ABANDONER = "abandoner"


@dataclass(frozen=True)
class Campaign:
    """A voucher offered to one segment's members, each with a code of their own."""

    key: str  # "voucher:<id>", "winback" or "abandoner"
    segment_key: str
    voucher_id: int
    voucher_name: str
    discount_type: str  # "percentage" or "fixed"
    discount_values: dict[str, Decimal]  # currency -> value, over the voucher's channels
    ends_at: datetime | None = None
    active: bool = True


@dataclass(frozen=True)
class CodeUse:
    """An order the shop made with one of the plugin's codes."""

    code: str
    order_ref: str
    at: datetime


class VoucherCodes(Protocol):
    """Where codes live (Saleor's ``VoucherCode`` rows).

    The shop, not the offer table, has the last word on whether a code still works:
    Saleor switches a single-use code off after its order even while the plugin is
    inactive, and an admin may delete or end the voucher at any time.
    """

    def create(self, voucher_id: int, codes: list[str]) -> None: ...

    def deactivate(self, codes: list[str]) -> None: ...

    def delete_unused(self, codes: list[str]) -> int: ...

    def accepted(self, codes: list[str], now: datetime) -> set[str]:
        """Those of ``codes`` the shop would take at checkout now (one query)."""
        ...

    def uses(self, codes: Iterable[str]) -> list[CodeUse]:
        """The first order the shop made with each of ``codes`` that has one."""
        ...


def _plain(value) -> str:
    """A number as an admin writes it: 40, 12.5 (Saleor stores 40.000)."""
    return format(Decimal(str(value)).normalize(), "f")


def guardrail_refusal(campaign: Campaign, config: PersonalizationConfig) -> str:
    """Why a campaign must not issue codes now, or "" if it may."""
    if not campaign.active:
        return "the voucher is not active"
    if not campaign.discount_values:
        return "the voucher has no channel with a discount value"
    if campaign.discount_type == "percentage":
        top = max(campaign.discount_values.values())
        if top > config.max_offer_percent:
            return (
                f"{_plain(top)}% is more than the maximum offer of "
                f"{_plain(config.max_offer_percent)}%"
            )
    elif config.max_offer_amount:
        top = max(campaign.discount_values.values())
        if top > config.max_offer_amount:
            return (
                f"{_plain(top)} off is more than the maximum offer of "
                f"{_plain(config.max_offer_amount)}"
            )
    return ""

"""Saleor's vouchers as segment campaigns, and the codes the plugin issues for them.

An admin targets a voucher at a segment by adding the metadata key
``personalization.segment`` (value: a segment key such as ``rfm-champions``) in the
Dashboard; the Dashboard's automations name a voucher by one of its codes. Saleor
prices the discount, records it on the order and shows usage; the plugin issues one
code per customer and checks ownership before the order is created.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..configuration import PersonalizationConfig
from ..offers.campaigns import ABANDONER, SEGMENT_METADATA_KEY, WINBACK, Campaign
from .availability import saleor_available
from .db import replica_name

logger = logging.getLogger(__name__)


def _campaign(voucher, key: str, segment_key: str) -> Campaign:
    from saleor.discount import DiscountValueType

    now = timezone.now()
    values: dict[str, Decimal] = {}
    for listing in voucher.channel_listings.all():
        values[listing.currency] = max(
            values.get(listing.currency, Decimal(0)), listing.discount_value
        )
    started = voucher.start_date is None or voucher.start_date <= now
    ended = voucher.end_date is not None and voucher.end_date <= now
    return Campaign(
        key=key,
        segment_key=segment_key,
        voucher_id=voucher.pk,
        voucher_name=voucher.name or "",
        discount_type=(
            "percentage" if voucher.discount_value_type == DiscountValueType.PERCENTAGE else "fixed"
        ),
        discount_values=values,
        ends_at=voucher.end_date,
        active=started and not ended,
    )


def targeted_campaigns(config: PersonalizationConfig) -> list[Campaign]:
    """Vouchers targeted through metadata, plus the enabled Dashboard automations."""
    if not saleor_available():
        return []
    from saleor.discount.models import Voucher

    vouchers = Voucher.objects.using(replica_name()).prefetch_related("channel_listings")
    campaigns = [
        _campaign(voucher, f"voucher:{voucher.pk}", str(voucher.metadata[SEGMENT_METADATA_KEY]))
        for voucher in vouchers.filter(metadata__has_key=SEGMENT_METADATA_KEY)
    ]
    automations = (
        (config.winback_enabled, config.winback_voucher, WINBACK, "lapsed"),
        (
            config.abandoner_offer_enabled,
            config.abandoner_voucher,
            ABANDONER,
            "frequent-abandoners",
        ),
    )
    for enabled, code, key, segment in automations:
        if not enabled:
            continue
        voucher = vouchers.filter(codes__code=code).first() if code else None
        if voucher is None:
            logger.warning("Automation %s: no voucher has the code %r", key, code)
            continue
        campaigns.append(_campaign(voucher, key, segment))
    return campaigns


def _tell_apps(event: str, codes: list) -> None:
    """Saleor's voucher-code events for the plugin's codes; a failure only logs."""
    from saleor.plugins.manager import get_plugins_manager

    try:
        getattr(get_plugins_manager(allow_replica=False), event)(codes)
    except Exception:
        logger.exception("Could not send %s for %s codes", event, len(codes))


class SaleorVoucherCodes:
    """``VoucherCode`` rows for the plugin's codes (Saleor applies and counts them)."""

    def create(self, voucher_id: int, codes: list[str]) -> None:
        from saleor.discount.models import VoucherCode

        created = VoucherCode.objects.bulk_create(
            [VoucherCode(voucher_id=voucher_id, code=code, is_active=True) for code in codes],
            batch_size=1000,
        )
        # Apps subscribed to VOUCHER_CODES_CREATED hear of them as of Dashboard codes.
        transaction.on_commit(lambda: _tell_apps("voucher_codes_created", created))

    def deactivate(self, codes: list[str]) -> None:
        from saleor.discount.models import VoucherCode

        VoucherCode.objects.filter(code__in=codes).update(is_active=False)

    def delete_unused(self, codes: list[str]) -> int:
        from saleor.discount.models import VoucherCode

        unused = list(VoucherCode.objects.filter(Q(code__in=codes), used=0))
        if not unused:
            return 0
        _tell_apps("voucher_codes_deleted", unused)
        deleted, _ = VoucherCode.objects.filter(pk__in=[code.pk for code in unused]).delete()
        return deleted


class NoVoucherCodes:
    """Standalone: there is no Saleor to hold codes; nothing to write."""

    def create(self, voucher_id: int, codes: list[str]) -> None:
        return None

    def deactivate(self, codes: list[str]) -> None:
        return None

    def delete_unused(self, codes: list[str]) -> int:
        return 0


def voucher_codes():
    return SaleorVoucherCodes() if saleor_available() else NoVoucherCodes()


def voucher_summaries(voucher_ids: list[int]) -> dict[int, dict]:
    """Name and discount of vouchers, for showing offers to their customers."""
    if not saleor_available() or not voucher_ids:
        return {}
    from saleor.discount.models import Voucher

    summaries = {}
    for voucher in (
        Voucher.objects.using(replica_name())
        .filter(pk__in=voucher_ids)
        .prefetch_related("channel_listings")
    ):
        campaign = _campaign(voucher, "", "")
        summaries[voucher.pk] = {
            "name": campaign.voucher_name,
            "discount_type": campaign.discount_type,
            "discount_values": campaign.discount_values,
        }
    return summaries

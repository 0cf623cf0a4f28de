"""Saleor's vouchers as segment campaigns, and the codes the plugin issues for them.

An admin targets a voucher at a segment by adding the metadata key
``personalization.segment`` (value: a segment key such as ``rfm-champions``) in the
Dashboard; the Dashboard's automations name a voucher by one of its codes. Saleor
prices the discount, records it on the order and shows usage; the plugin issues one
code per customer and checks ownership before the order is created.

A campaign voucher is sealed as soon as the plugin sees it (its voucher hooks, every
issuing run): ``single_use`` on, so Saleor itself switches each code off after one
order, even with the plugin inactive; every code that is not a personal one (the
shared code the Dashboard requires on create) switched off; and the outcome written
to the voucher's ``personalization.status`` metadata, where the admin looks.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..configuration import PersonalizationConfig
from ..models import SegmentOffer
from ..offers.campaigns import ABANDONER, SEGMENT_METADATA_KEY, WINBACK, Campaign, CodeUse
from ..offers.issuing import IssueReport
from ..offers.status import SHOWN_CODES, STATUS_METADATA_KEY, campaign_summary, status_text
from ..shop.port import VoucherSummary
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


@dataclass(frozen=True)
class CodeOwner:
    """The voucher a code belongs to, and what else already uses that voucher."""

    voucher_id: int
    voucher_name: str
    segment_key: str  # the voucher is targeted at this segment through its metadata
    personal: bool  # a personal code the plugin issued


def code_owners(codes: set[str]) -> dict[str, CodeOwner]:
    """Who owns each of these codes; a code no voucher has is left out."""
    if not codes:
        return {}
    from saleor.discount.models import VoucherCode

    rows = (
        VoucherCode.objects.using(replica_name())
        .filter(code__in=codes)
        .values_list("code", "voucher_id", "voucher__name", "voucher__metadata")
    )
    personal = set(SegmentOffer.objects.filter(code__in=codes).values_list("code", flat=True))
    return {
        code: CodeOwner(
            voucher_id=voucher_id,
            voucher_name=name or "",
            segment_key=str((metadata or {}).get(SEGMENT_METADATA_KEY, "")).strip(),
            personal=code in personal,
        )
        for code, voucher_id, name, metadata in rows
    }


def targeted_campaigns(config: PersonalizationConfig) -> list[Campaign]:
    """Vouchers targeted through metadata, plus the enabled Dashboard automations."""
    from saleor.discount.models import Voucher

    vouchers = Voucher.objects.using(replica_name()).prefetch_related("channel_listings")
    campaigns = [
        _campaign(voucher, f"voucher:{voucher.pk}", str(voucher.metadata[SEGMENT_METADATA_KEY]))
        for voucher in vouchers.filter(metadata__has_key=SEGMENT_METADATA_KEY)
    ]
    automations = (  # ``_automation_codes`` lists the same codes
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


def _automation_codes(config: PersonalizationConfig) -> list[str]:
    return [
        code
        for enabled, code in (
            (config.winback_enabled, config.winback_voucher),
            (config.abandoner_offer_enabled, config.abandoner_voucher),
        )
        if enabled and code
    ]


def _personal_codes(voucher_id: int):
    return SegmentOffer.objects.filter(voucher_id=voucher_id, code__isnull=False).values("code")


def seal_voucher(voucher) -> list[str]:
    """Make only personal codes usable, once each; returns the shared codes (all off now).

    The caller saves ``voucher`` (``single_use`` is set on the instance).
    """
    from saleor.discount.models import VoucherCode

    shared = VoucherCode.objects.filter(voucher_id=voucher.pk).exclude(
        code__in=_personal_codes(voucher.pk)
    )
    shared.filter(is_active=True).update(is_active=False)
    voucher.single_use = True
    return sorted(shared.values_list("code", flat=True)[: SHOWN_CODES + 1])


def _write_status(voucher, campaign_key: str, segment_key: str, **status) -> str:
    """Seal ``voucher`` and write what targeting did; returns the status written."""
    switched_off = seal_voucher(voucher)
    text = status_text(campaign_summary(campaign_key, segment_key), switched_off, **status)
    voucher.store_value_in_metadata({STATUS_METADATA_KEY: text})
    voucher.save(update_fields=["single_use", "metadata"])
    return text


def voucher_targeted(voucher) -> str:
    """A voucher was created or changed in the Dashboard: seal it if it is targeted.

    Returns the status written ("" for a voucher that is not targeted). Removing the
    targeting removes the status; the codes stay as they are (the admin decides).
    """
    segment_key = str((voucher.metadata or {}).get(SEGMENT_METADATA_KEY, "")).strip()
    if not segment_key:
        if STATUS_METADATA_KEY in (voucher.metadata or {}):
            voucher.delete_value_from_metadata(STATUS_METADATA_KEY)
            voucher.save(update_fields=["metadata"])
        return ""
    return _write_status(voucher, f"voucher:{voucher.pk}", segment_key, pending=True)


def report_campaigns(campaigns: list[Campaign], report: IssueReport) -> None:
    """After an issuing run, seal each campaign's voucher and say what happened on it."""
    from saleor.discount.models import Voucher

    vouchers = Voucher.objects.in_bulk([campaign.voucher_id for campaign in campaigns])
    for campaign in campaigns:
        voucher = vouchers.get(campaign.voucher_id)
        if voucher is None:
            continue
        try:
            with transaction.atomic():
                _write_status(
                    voucher,
                    campaign.key,
                    campaign.segment_key,
                    refusal=report.skipped.get(campaign.key, ""),
                )
        except Exception:
            logger.exception("Could not write the status of voucher %s", campaign.voucher_id)


def shared_code_of_campaign(code: str, config: PersonalizationConfig) -> bool:
    """Whether ``code`` (not a personal one) belongs to a campaign voucher.

    Such a code is switched off when the voucher is sealed; this refuses it at
    checkout even if an admin switched it back on or the hooks have not run yet.
    """
    from saleor.discount.models import VoucherCode

    row = VoucherCode.objects.filter(code=code).values("voucher_id", "voucher__metadata").first()
    if row is None:
        return False
    if SEGMENT_METADATA_KEY in (row["voucher__metadata"] or {}):
        return True
    automation = _automation_codes(config)
    return bool(automation) and (
        VoucherCode.objects.filter(voucher_id=row["voucher_id"], code__in=automation).exists()
    )


def release_refused_usage(checkout_info) -> None:
    """Give back the use Saleor counted for an order the plugin then refused.

    In Saleor's payment flow the voucher's use is counted (and a ``single_use`` code
    switched off) before ``preprocess_order_creation`` runs, and Saleor commits that
    even when the hook refuses the order. Without this, anyone holding a leaked code
    could burn it for its owner by trying it once.
    """
    from saleor.discount.models import VoucherCode
    from saleor.discount.utils.voucher import (
        get_customer_email_for_voucher_usage,
        release_voucher_code_usage,
    )

    checkout = checkout_info.checkout
    if not checkout.is_voucher_usage_increased:
        return
    release_voucher_code_usage(
        VoucherCode.objects.filter(code=checkout.voucher_code).first(),
        checkout_info.voucher,
        get_customer_email_for_voucher_usage(checkout_info),
    )
    checkout.is_voucher_usage_increased = False
    checkout.save(update_fields=["is_voucher_usage_increased"])


def signed_in_customer_id(checkout, requestor) -> int | None:
    """The account a checkout belongs to: its user, or the signed-in customer completing it.

    A guest checkout completed by a signed-in customer is theirs: the email typed into
    it must not make it someone else's.
    """
    if checkout.user_id:
        return checkout.user_id
    from saleor.account.models import User

    try:
        if isinstance(requestor, User) and requestor.is_authenticated:
            return requestor.pk
    except Exception:
        logger.exception("Could not read who completes the checkout")
    return None


def order_exists_for_checkout(checkout_token: str) -> bool:
    from saleor.order.models import Order

    return Order.objects.filter(checkout_token=checkout_token).exists()


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

    def accepted(self, codes: list[str], now: datetime) -> set[str]:
        """Codes Saleor would still apply: switched on, not used up, voucher running.

        The same conditions as Saleor's ``Voucher.objects.active`` (dates, usage
        limit) plus the code's own state; a deleted voucher takes its codes with it.
        Channel availability is left to checkout, where the channel is known.
        """
        from saleor.discount.models import Voucher, VoucherCode

        if not codes:
            return set()
        rows = (
            VoucherCode.objects.using(replica_name())
            .filter(code__in=codes, is_active=True, voucher__in=Voucher.objects.active(now))
            .exclude(voucher__single_use=True, used__gt=0)
        )
        return set(rows.values_list("code", flat=True))

    def uses(self, codes: Iterable[str]) -> list[CodeUse]:
        """The first non-draft order per code (``codes`` may be a queryset: one query)."""
        from saleor.order import OrderStatus
        from saleor.order.models import Order

        rows = (
            Order.objects.filter(voucher_code__in=codes)
            .exclude(status=OrderStatus.DRAFT)
            .order_by("voucher_code", "created_at")
            .distinct("voucher_code")
            .values_list("voucher_code", "pk", "created_at")
        )
        return [CodeUse(code, str(pk), created_at) for code, pk, created_at in rows]


def voucher_summaries(voucher_ids: list[int]) -> dict[int, VoucherSummary]:
    """Name and discount of vouchers, for showing offers to their customers."""
    if not voucher_ids:
        return {}
    from saleor.discount.models import Voucher

    summaries = {}
    for voucher in (
        Voucher.objects.using(replica_name())
        .filter(pk__in=voucher_ids)
        .prefetch_related("channel_listings")
    ):
        campaign = _campaign(voucher, "", "")
        summaries[voucher.pk] = VoucherSummary(
            name=campaign.voucher_name,
            discount_type=campaign.discount_type,
            discount_values=campaign.discount_values,
        )
    return summaries

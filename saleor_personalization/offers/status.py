"""What a targeted voucher's admin reads on the voucher: ``personalization.status``.

The Dashboard shows a voucher's metadata and nothing else of the plugin, so the result
of targeting (members, codes issued, shared codes switched off, or why nothing
happened) is written there in one sentence an admin can act on.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from ..models import Segment, SegmentMembership, SegmentOffer
from ..shop import get_shop
from .issuing import recently_offered

STATUS_METADATA_KEY = "personalization.status"
SHOWN_CODES = 5  # shared codes named in a status; more are summed up


@dataclass(frozen=True)
class CampaignSummary:
    segment_key: str
    known_segments: list[str]
    members: int
    issued: int
    held_out: int
    redeemed: int
    without_code: int = 0  # current members with no offer of this campaign
    capped: int = 0  # ...of whom this many got another campaign's code lately
    frequency_days: int = 0

    @property
    def segment_exists(self) -> bool:
        return self.segment_key in self.known_segments


def campaign_summary(
    campaign_key: str,
    segment_key: str,
    *,
    frequency_days: int | None = None,
    now: datetime | None = None,
) -> CampaignSummary:
    """The campaign's figures; ``frequency_days`` is the Dashboard's offer frequency
    cap (read from the shop's configuration when not given)."""
    if frequency_days is None:
        frequency_days = get_shop().configuration.load()[0].offer_frequency_days
    known = list(Segment.objects.filter(is_active=True).values_list("key", flat=True))
    current = SegmentMembership.objects.filter(
        segment__key=segment_key, segment__is_active=True, left_at__isnull=True
    )
    members = current.count()
    offers = SegmentOffer.objects.filter(campaign=campaign_key)
    without = current.exclude(customer_id__in=offers.values("customer_id"))
    lately = recently_offered(now or timezone.now(), frequency_days)
    return CampaignSummary(
        segment_key=segment_key,
        known_segments=sorted(known),
        members=members,
        issued=offers.filter(holdout=False).count(),
        held_out=offers.filter(holdout=True).count(),
        redeemed=offers.filter(holdout=False, redeemed_at__isnull=False).count(),
        without_code=without.count(),
        capped=without.filter(customer_id__in=lately.values("customer_id")).count(),
        frequency_days=frequency_days,
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def status_text(
    summary: CampaignSummary, switched_off: list[str], refusal: str = "", pending: bool = False
) -> str:
    """One sentence: what targeting did, or why it did nothing."""
    parts: list[str] = []
    if not summary.segment_exists:
        known = ", ".join(summary.known_segments) or "none yet (run the segment job)"
        parts.append(f"unknown segment '{summary.segment_key}'; known: {known}")
    elif summary.members == 0:
        parts.append(f"segment '{summary.segment_key}' has no members: no codes issued")
    else:
        parts.append(
            f"{_plural(summary.members, 'member')}, {_plural(summary.issued, 'code')} issued"
            f" ({summary.held_out} held out, {summary.redeemed} redeemed)"
        )
        if summary.without_code:
            # Otherwise the numbers do not add up: members skipped by the offer
            # frequency cap (another campaign's code lately) or not reached yet.
            reasons = []
            if summary.capped:
                reasons.append(
                    f"{summary.capped} got another campaign's code in the last "
                    f"{_plural(summary.frequency_days, 'day')} (the offer frequency cap)"
                )
            if waiting := summary.without_code - summary.capped:
                reasons.append(f"{waiting} not issued yet")
            parts.append(
                f"{_plural(summary.without_code, 'member')} without a code: " + ", ".join(reasons)
            )
    if refusal:
        parts.append(f"not issuing: {refusal}")
    elif pending and summary.segment_exists and summary.members:
        parts.append("issuing codes now")
    if switched_off:
        shown = ", ".join(sorted(switched_off)[:SHOWN_CODES])
        more = " and more" if len(switched_off) > SHOWN_CODES else ""
        parts.append(f"shared code(s) {shown}{more} switched off")
    parts.append("only personal codes work, once each")
    return "; ".join(parts)

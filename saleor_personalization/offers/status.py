"""What a targeted voucher's admin reads on the voucher: ``personalization.status``.

The Dashboard shows a voucher's metadata and nothing else of the plugin, so the result
of targeting (members, codes issued, shared codes switched off, or why nothing
happened) is written there in one sentence an admin can act on.
"""

from dataclasses import dataclass

from ..models import Segment, SegmentMembership, SegmentOffer

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

    @property
    def segment_exists(self) -> bool:
        return self.segment_key in self.known_segments


def campaign_summary(campaign_key: str, segment_key: str) -> CampaignSummary:
    known = list(Segment.objects.filter(is_active=True).values_list("key", flat=True))
    members = SegmentMembership.objects.filter(
        segment__key=segment_key, segment__is_active=True, left_at__isnull=True
    ).count()
    offers = SegmentOffer.objects.filter(campaign=campaign_key)
    without_code = (
        SegmentMembership.objects.filter(
            segment__key=segment_key, segment__is_active=True, left_at__isnull=True
        )
        .exclude(customer_id__in=offers.values("customer_id"))
        .count()
    )
    return CampaignSummary(
        segment_key=segment_key,
        known_segments=sorted(known),
        members=members,
        issued=offers.filter(holdout=False).count(),
        held_out=offers.filter(holdout=True).count(),
        redeemed=offers.filter(holdout=False, redeemed_at__isnull=False).count(),
        without_code=without_code,
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
            # Members skipped by the offer frequency cap (a code of another campaign
            # recently) or not reached yet: otherwise the numbers do not add up.
            parts.append(
                f"{_plural(summary.without_code, 'member')} without a code (offered another "
                "code within the frequency window, or not issued yet)"
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

"""Offers issued, redeemed and the revenue they brought, against the holdout."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from ..models import Interaction, InteractionKind, SegmentOffer


@dataclass(frozen=True)
class CampaignReport:
    campaign: str
    segment_key: str
    issued: int
    redeemed: int
    held_out: int
    revenue_with_offer: Decimal  # per customer who got a code
    revenue_holdout: Decimal  # per customer held out

    @property
    def uplift(self) -> Decimal:
        return self.revenue_with_offer - self.revenue_holdout


def _revenue(offers: list[dict]) -> Decimal:
    """Purchases while each offer ran, per offer (one query).

    A customer may hold several offers of a campaign over time (a redeemed one, an
    expired one): every offer's window counts, so a later offer never hides the
    revenue an earlier one brought.
    """
    if not offers:
        return Decimal(0)
    windows: dict[int, list[tuple]] = defaultdict(list)
    for o in offers:
        windows[o["customer_id"]].append((o["issued_at"], o["closed_at"] or o["expires_at"]))
    purchases = Interaction.objects.filter(
        kind=InteractionKind.PURCHASE,
        customer_id__in=list(windows),
        occurred_at__gte=min(o["issued_at"] for o in offers),
    ).values_list("customer_id", "occurred_at", "unit_price", "quantity")
    total = Decimal(0)
    for customer_id, occurred_at, price, quantity in purchases.iterator(chunk_size=5000):
        for start, end in windows[customer_id]:
            if start <= occurred_at <= end:
                total += (price or Decimal(0)) * quantity
    return (total / len(offers)).quantize(Decimal("0.01"))


def offer_report() -> list[CampaignReport]:
    groups: dict[tuple[str, str], dict[bool, list[dict]]] = defaultdict(
        lambda: {True: [], False: []}
    )
    for offer in SegmentOffer.objects.values(
        "campaign",
        "segment_key",
        "customer_id",
        "holdout",
        "issued_at",
        "expires_at",
        "closed_at",
        "redeemed_at",
    ):
        groups[(offer["campaign"], offer["segment_key"])][offer["holdout"]].append(offer)
    return [
        CampaignReport(
            campaign=campaign,
            segment_key=segment,
            issued=len(group[False]),
            redeemed=sum(1 for o in group[False] if o["redeemed_at"]),
            held_out=len(group[True]),
            revenue_with_offer=_revenue(group[False]),
            revenue_holdout=_revenue(group[True]),
        )
        for (campaign, segment), group in sorted(groups.items())
    ]

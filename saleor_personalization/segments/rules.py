"""Segment rules over plain customer summaries (no database, no Saleor).

RFM scores are quintiles (1-5) of recency, frequency and spend among the customers
scored together; the named RFM groups follow the usual marketing reading of them.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from ..recommender.ranks import average_ranks


@dataclass(frozen=True)
class CustomerSummary:
    customer_id: int
    orders: int
    spent: Decimal
    last_order_at: datetime | None
    country: str = ""
    abandoned_carts: int = 0

    @property
    def average_order(self) -> float:
        return float(self.spent) / self.orders if self.orders else 0.0


@dataclass(frozen=True)
class SegmentRules:
    lapse_days: int = 300
    abandoner_min_carts: int = 3
    high_order_value_quantile: float = 0.8


@dataclass(frozen=True)
class SegmentDefinition:
    key: str
    name: str
    description: str


LIFECYCLE = (
    SegmentDefinition("new-customers", "New customers", "Placed their first order."),
    SegmentDefinition("returning-customers", "Returning customers", "Placed exactly two orders."),
    SegmentDefinition("repeat-buyers", "Repeat buyers", "Placed three or more orders."),
    SegmentDefinition("active", "Active", "Ordered within the lapse window."),
    SegmentDefinition("lapsed", "Lapsed", "No order within the lapse window."),
)
RFM_GROUPS = (
    SegmentDefinition(
        "rfm-champions", "Champions", "Bought recently, buy often and spend the most (R, F, M 4-5)."
    ),
    SegmentDefinition("rfm-loyal", "Loyal", "Buy often (F 4-5) but are not champions."),
    SegmentDefinition(
        "rfm-potential-loyalists", "Potential loyalists", "Recent customers with 2-3 orders."
    ),
    SegmentDefinition("rfm-new", "Recent first-timers", "Bought recently (R 4-5), once."),
    SegmentDefinition(
        "rfm-at-risk", "At risk", "Used to buy often (F 3-5) but not recently (R 1-2)."
    ),
    SegmentDefinition("rfm-hibernating", "Hibernating", "Few orders (F 1-2), long ago (R 1-2)."),
    SegmentDefinition("rfm-need-attention", "Need attention", "Middling recency and frequency."),
)
OTHERS = (
    SegmentDefinition(
        "frequent-abandoners",
        "Frequent cart abandoners",
        "Left several carts with products unbought in the last 90 days.",
    ),
    SegmentDefinition(
        "high-order-value",
        "High order value",
        "Average order value in the top fifth of customers.",
    ),
)


def country_segment(code: str) -> SegmentDefinition:
    return SegmentDefinition(
        f"country-{code.lower()}", f"Country {code.upper()}", f"Customers in {code.upper()}."
    )


def _quintiles(values: np.ndarray) -> np.ndarray:
    """Scores 1-5 by rank; ties share the average rank."""
    if not len(values):
        return np.zeros(0, dtype=int)
    percentile = (average_ranks(values) - 0.5) / len(values)
    return np.minimum(5, 1 + np.floor(percentile * 5)).astype(int)


def rfm_scores(
    summaries: list[CustomerSummary], as_of: datetime
) -> dict[int, tuple[int, int, int]]:
    buyers = [s for s in summaries if s.orders and s.last_order_at]
    if not buyers:
        return {}
    days = np.array([(as_of - s.last_order_at).total_seconds() / 86400 for s in buyers])
    recency = _quintiles(-days)  # more recent -> higher score
    frequency = _quintiles(np.array([s.orders for s in buyers], dtype=float))
    monetary = _quintiles(np.array([float(s.spent) for s in buyers]))
    return {
        s.customer_id: (int(r), int(f), int(m))
        for s, r, f, m in zip(buyers, recency, frequency, monetary, strict=True)
    }


def rfm_group(r: int, f: int, m: int, orders: int) -> str:
    if r >= 4 and f >= 4 and m >= 4:
        return "rfm-champions"
    if f >= 4:
        return "rfm-loyal"
    if r >= 4 and orders <= 1:
        return "rfm-new"
    if r >= 3 and 2 <= orders <= 3:
        return "rfm-potential-loyalists"
    if r <= 2 and f >= 3:
        return "rfm-at-risk"
    if r <= 2 and f <= 2:
        return "rfm-hibernating"
    return "rfm-need-attention"


def memberships(
    summaries: list[CustomerSummary], as_of: datetime, rules: SegmentRules
) -> tuple[dict[str, set[int]], dict[str, SegmentDefinition]]:
    """Which customers belong to which segment, and every segment that exists."""
    members: dict[str, set[int]] = {d.key: set() for d in (*LIFECYCLE, *RFM_GROUPS, *OTHERS)}
    definitions = {d.key: d for d in (*LIFECYCLE, *RFM_GROUPS, *OTHERS)}
    lapse_seconds = rules.lapse_days * 86400
    for summary in summaries:
        cid = summary.customer_id
        if summary.orders == 1:
            members["new-customers"].add(cid)
        elif summary.orders == 2:
            members["returning-customers"].add(cid)
        elif summary.orders >= 3:
            members["repeat-buyers"].add(cid)
        if summary.last_order_at is not None:
            lapsed = (as_of - summary.last_order_at).total_seconds() > lapse_seconds
            members["lapsed" if lapsed else "active"].add(cid)
        if summary.abandoned_carts >= rules.abandoner_min_carts:
            members["frequent-abandoners"].add(cid)
        if summary.country:
            definition = country_segment(summary.country)
            definitions.setdefault(definition.key, definition)
            members.setdefault(definition.key, set()).add(cid)
    by_id = {s.customer_id: s for s in summaries}
    for cid, (r, f, m) in rfm_scores(summaries, as_of).items():
        members[rfm_group(r, f, m, by_id[cid].orders)].add(cid)
    values = [s.average_order for s in summaries if s.orders]
    if values:
        threshold = float(np.quantile(values, rules.high_order_value_quantile))
        members["high-order-value"] = {
            s.customer_id
            for s in summaries
            if s.orders
            and s.average_order > threshold
            and not math.isclose(s.average_order, threshold)
        }
    return members, definitions

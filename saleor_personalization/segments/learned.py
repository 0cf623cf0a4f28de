"""Compute the learned segments from the interaction log and store them.

``cluster-N`` segments come from :mod:`.clusters`; ``likely-buyers`` holds the top
fifth by 30-day purchase propensity (:mod:`.propensity`), whose holdout AUC is kept
in the segment's definition and on every customer profile's score.
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from django.db.models import F, Min, Sum
from django.utils import timezone

from ..models import (
    CustomerProfile,
    Interaction,
    InteractionKind,
    Segment,
    SegmentKind,
    SegmentMembership,
)
from .clusters import CLUSTER_KEY, carried_keys, cluster_customers
from .compute import sync_segments
from .propensity import Purchases, features_at, purchase_propensity, trust

logger = logging.getLogger(__name__)

LIKELY_BUYERS_SHARE = 0.2


@dataclass(frozen=True)
class LearnedReport:
    k: int
    silhouette: float
    clusters: list[tuple[str, str, str, int]]  # key, name, description, size
    propensity_auc: float | None
    likely_buyers: int
    scored: int
    propensity_note: str = ""

    def summary(self) -> list[str]:
        """The report as a merchant reads it (the CLI and the demo print it)."""
        if not self.k:
            return ["none yet: fewer than 10 customers with orders"]
        auc = f"{self.propensity_auc:.3f}" if self.propensity_auc is not None else "n/a"
        lines = [f"k-means, k={self.k} chosen by silhouette ({self.silhouette:.3f})"]
        lines += [f"  {key:<10} {name:<44} {text}" for key, name, text, _ in self.clusters]
        lines.append(
            f"  Purchase propensity (next 30 days): holdout AUC {auc}; "
            f"{self.likely_buyers:,} of {self.scored:,} customers in 'Likely buyers'"
        )
        if self.propensity_note:
            lines.append(f"  'Likely buyers' is empty: {self.propensity_note}")
        return lines


def order_history(as_of: datetime) -> Purchases:
    """One row per order (basket) up to ``as_of``: customer, time, value."""
    rows = (
        Interaction.objects.filter(
            kind=InteractionKind.PURCHASE, customer_id__isnull=False, occurred_at__lte=as_of
        )
        .values("customer_id", "basket_ref")
        .annotate(at=Min("occurred_at"), value=Sum(F("unit_price") * F("quantity")))
        .values_list("customer_id", "at", "value")
    )
    customers, times, values = [], [], []
    for customer_id, at, value in rows.iterator(chunk_size=10000):
        customers.append(customer_id)
        times.append(at.timestamp())
        values.append(float(value or 0))
    return Purchases(
        customer=np.array(customers, dtype=np.int64),
        at=np.array(times, dtype=np.float64),
        value=np.array(values, dtype=np.float64),
    )


def _embeddings(customers: np.ndarray) -> np.ndarray | None:
    """Customers' factorisation vectors from the live model, if there is one."""
    from ..recommender.pipeline import live_model

    live = live_model()
    if live is None:
        return None
    vectors, _ = live[1].user_factors(customers)
    return vectors if np.abs(vectors).sum() > 0 else None


def compute_learned_segments(as_of: datetime | None = None, max_k: int = 6) -> LearnedReport:
    as_of = as_of or timezone.now()
    purchases = order_history(as_of)
    customers, matrix = features_at(purchases, as_of.timestamp() + 1)
    if len(customers) < 10:
        sync_segments({}, {}, SegmentKind.LEARNED, as_of)
        return LearnedReport(0, 0.0, [], None, 0, 0)
    recency, orders = np.expm1(matrix[:, 0]), np.expm1(matrix[:, 1])
    spend = np.expm1(matrix[:, 2])
    clustering = cluster_customers(recency, orders, spend, _embeddings(customers), max_k=max_k)
    groups = [{int(c) for c in customers[clustering.labels == i]} for i in range(clustering.k)]
    keys = carried_keys(groups, _current_clusters(), _used_cluster_keys())
    profiles = [replace(p, key=key) for p, key in zip(clustering.profiles, keys, strict=True)]
    definitions: dict[str, tuple[str, str, dict]] = {}
    members: dict[str, set[int]] = {}
    for profile, group in zip(profiles, groups, strict=True):
        definitions[profile.key] = (
            profile.name,
            profile.description,
            {
                "method": "k-means",
                "k": clustering.k,
                "silhouette": round(clustering.silhouette, 4),
                "silhouettes": clustering.silhouettes,
                "median_recency_days": round(profile.recency_days, 1),
                "median_orders": round(profile.orders, 1),
                "median_spend": round(profile.spend, 2),
            },
        )
        members[profile.key] = group

    propensity = purchase_propensity(purchases, as_of)
    verdict = trust(propensity)
    likely: set[int] = set()
    if verdict.trusted and len(propensity.customers):
        cut = np.quantile(propensity.scores, 1 - LIKELY_BUYERS_SHARE)
        likely = {int(c) for c in propensity.customers[propensity.scores >= cut]}
        if propensity.scores.max() == propensity.scores.min():
            likely = set()
    auc_text = f"{propensity.auc:.3f}" if propensity.auc is not None else "n/a"
    # A model no better than chance drives nothing, and the segment says why it is empty.
    description = (
        f"Top {LIKELY_BUYERS_SHARE:.0%} by chance of ordering in the next 30 days "
        f"({verdict.reason})."
        if verdict.trusted
        else f"Empty: {verdict.reason}."
    )
    definitions["likely-buyers"] = (
        "Likely buyers",
        description,
        {
            "method": "logistic regression, 30-day horizon",
            "auc": propensity.auc,
            "auc_ci95": [round(x, 4) for x in verdict.interval] if verdict.interval else None,
            "used": verdict.trusted,
            "status": verdict.reason,
            "holdout_customers": propensity.holdout_customers,
            "base_rate": round(propensity.base_rate, 4),
        },
    )
    members["likely-buyers"] = likely
    sync_segments(definitions, members, SegmentKind.LEARNED, as_of)
    if verdict.trusted:
        _store_scores(propensity.customers, propensity.scores)
    else:
        CustomerProfile.objects.exclude(purchase_propensity=None).update(purchase_propensity=None)
    logger.info(
        "Learned segments: k=%s (silhouette %.3f), propensity AUC %s",
        clustering.k,
        clustering.silhouette,
        auc_text,
    )
    return LearnedReport(
        k=clustering.k,
        silhouette=clustering.silhouette,
        clusters=[(p.key, p.name, p.description, p.size) for p in profiles],
        propensity_auc=propensity.auc,
        likely_buyers=len(likely),
        scored=len(propensity.customers),
        propensity_note="" if verdict.trusted else verdict.reason,
    )


def _current_clusters() -> dict[str, set[int]]:
    """The active learned clusters' members, by key: what this run's clusters continue."""
    current: dict[str, set[int]] = {}
    rows = SegmentMembership.objects.filter(
        segment__kind=SegmentKind.LEARNED,
        segment__is_active=True,
        segment__key__startswith="cluster-",
        left_at__isnull=True,
    ).values_list("segment__key", "customer_id")
    for key, customer in rows.iterator(chunk_size=10000):
        current.setdefault(key, set()).add(customer)
    for key in Segment.objects.filter(
        kind=SegmentKind.LEARNED, is_active=True, key__startswith="cluster-"
    ).values_list("key", flat=True):
        current.setdefault(key, set())
    return current


def _used_cluster_keys() -> list[str]:
    """Every cluster key ever stored, active or not: a new cluster never takes one."""
    keys = Segment.objects.filter(key__startswith="cluster-").values_list("key", flat=True)
    return [key for key in keys if CLUSTER_KEY.match(key)]


def _store_scores(customers: np.ndarray, scores: np.ndarray) -> None:
    score_of = {int(c): float(s) for c, s in zip(customers, scores, strict=True)}
    profiles = list(CustomerProfile.objects.filter(customer_id__in=list(score_of)))
    for profile in profiles:
        profile.purchase_propensity = round(score_of[profile.customer_id], 5)
    CustomerProfile.objects.bulk_update(profiles, ["purchase_propensity"], batch_size=2000)

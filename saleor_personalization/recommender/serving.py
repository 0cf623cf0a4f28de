"""Read precomputed lists, apply the business rules, fall back when there is nothing.

Serving never scores a model: it reads one list row by its unique key, then applies
the shopper-facing rules of :mod:`.rules` (channel state and live stock of the
candidates). Every function returns a list (possibly
empty) and never raises to its caller; a database error is logged and answered with
an empty list, so a storefront page renders without its recommendations rather than
failing.
"""

import logging
from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..configuration import PersonalizationConfig
from ..models import (
    CustomerProfile,
    Interaction,
    InteractionKind,
    ItemChannel,
    ListKind,
    RecommendationList,
)
from .rules import Recommendation, Shopper, apply_rules, shopper_exclusions
from .session import SessionView

__all__ = ["Recommendation", "Shopper", "apply_rules"]

logger = logging.getLogger(__name__)


def _list(kind: str, subject: str, channel: str = "") -> list[dict]:
    row = (
        RecommendationList.objects.filter(kind=kind, subject=subject, channel=channel)
        .values_list("items", flat=True)
        .first()
    )
    return list(row or [])


def _safe(default=list):
    def decorate(function):
        def wrapper(*args, **kwargs):
            try:
                # A savepoint: a failed query (the plugin's tables unavailable, say)
                # must not abort the transaction Saleor's own fields then read in.
                with transaction.atomic():
                    return function(*args, **kwargs)
            except Exception:
                logger.exception("Serving %s failed; answering with nothing", function.__name__)
                return default()

        wrapper.__name__ = function.__name__
        wrapper.__doc__ = function.__doc__
        return wrapper

    return decorate


def _fallback_entries(shopper: Shopper, channel: str) -> tuple[list[dict], str]:
    country = ""
    if shopper.customer_id:
        country = (
            CustomerProfile.objects.filter(customer_id=shopper.customer_id)
            .values_list("country", flat=True)
            .first()
            or ""
        )
    for subject, list_channel, source in (
        (country, channel, "popular_country"),
        ("", channel, "popular"),
        ("", "", "popular"),
    ):
        if subject == "" and source == "popular_country":
            continue
        entries = _list(ListKind.POPULAR, subject, list_channel)
        if entries:
            return entries, source
    newest = (
        ItemChannel.objects.filter(channel=channel, is_available=True)
        .order_by("-item__created_at", "-item_id")
        .values_list("item_id", flat=True)[:200]
    )
    return [{"product_id": p, "score": 0.0, "reason": "New in the shop"} for p in newest], "newest"


def _followed(session: SessionView, entries: list[dict], *, personal: bool, first: int) -> list:
    """``entries`` blended with the session; as many as the rules may need, not more."""
    limit = max(len(entries), 3 * first, 50)
    return [e.to_json() for e in session.follow(entries, personal=personal, limit=limit)]


RECENT_PURCHASES = 10


def _complements_of_purchases(customer_id: int) -> list[dict]:
    """ "Often bought with" entries for the customer's latest purchases, not already owned."""
    bought = list(
        dict.fromkeys(
            Interaction.objects.filter(customer_id=customer_id, kind=InteractionKind.PURCHASE)
            .order_by("-occurred_at")
            .values_list("product_id", flat=True)[:100]
        )
    )
    if not bought:
        return []
    best: dict[int, dict] = {}
    rows = RecommendationList.objects.filter(
        kind=ListKind.BOUGHT_TOGETHER,
        subject__in=[str(p) for p in bought[:RECENT_PURCHASES]],
        channel="",
    ).values_list("items", flat=True)
    owned = set(bought)
    for items in rows:
        for entry in items or []:
            product = int(entry["product_id"])
            current = best.get(product)
            if product not in owned and (current is None or entry["score"] > current["score"]):
                best[product] = entry
    return sorted(best.values(), key=lambda e: -e["score"])


@_safe()
def personalized(
    shopper: Shopper, channel: str, first: int, config: PersonalizationConfig
) -> list[Recommendation]:
    """The shopper's "for you" list, or the best fallback there is.

    Before any model has scored them, a customer who has ordered gets what is bought
    with what they bought (from every basket, guests' included), then bestsellers.
    """
    exclude = shopper_exclusions(shopper, config)
    session = SessionView(shopper.customer_id, shopper.anonymous_id, config)
    if shopper.customer_id:
        entries, source = _list(ListKind.PERSONAL, str(shopper.customer_id)), "personal"
        if not entries:
            entries, source = _complements_of_purchases(shopper.customer_id), "bought_together"
        if entries:
            entries = _followed(session, entries, personal=True, first=first)
            items = apply_rules(
                entries,
                source=source,
                channel=channel,
                first=first,
                config=config,
                exclude=exclude,
            )
            if len(items) >= first:
                return items
            fallback, fallback_source = _fallback_entries(shopper, channel)
            more = apply_rules(
                _followed(session, fallback, personal=False, first=first),
                source=fallback_source,
                channel=channel,
                first=first,
                config=config,
                exclude=exclude | {i.product_id for i in items},
            )
            return (items + more)[:first]
    entries, source = _fallback_entries(shopper, channel)
    entries = _followed(session, entries, personal=False, first=first)
    return apply_rules(
        entries, source=source, channel=channel, first=first, config=config, exclude=exclude
    )


@_safe()
def similar(
    product_id: int,
    channel: str,
    first: int,
    config: PersonalizationConfig,
    shopper: Shopper | None = None,
) -> list[Recommendation]:
    return apply_rules(
        _list(ListKind.SIMILAR, str(product_id)),
        source="similar",
        channel=channel,
        first=first,
        config=config,
        exclude={product_id} | shopper_exclusions(shopper, config),
    )


@_safe()
def bought_together(
    product_ids: Sequence[int],
    channel: str,
    first: int,
    config: PersonalizationConfig,
    shopper: Shopper | None = None,
    follow_session: bool = False,
) -> list[Recommendation]:
    """Complements of one product, or of a whole cart (best score per product wins).

    ``follow_session`` (a cart's complements): blended with what the shopper viewed
    and added in their session, with the Dashboard's session weight.
    """
    best: dict[int, dict] = {}
    for product_id in product_ids:
        for entry in _list(ListKind.BOUGHT_TOGETHER, str(product_id)):
            current = best.get(int(entry["product_id"]))
            if current is None or entry["score"] > current["score"]:
                best[int(entry["product_id"])] = entry
    ranked = sorted(best.values(), key=lambda e: -e["score"])
    if follow_session and shopper is not None:
        session = SessionView(shopper.customer_id, shopper.anonymous_id, config)
        ranked = _followed(session, ranked, personal=True, first=first)
    return apply_rules(
        ranked,
        source="bought_together",
        channel=channel,
        first=first,
        config=config,
        exclude=set(product_ids) | shopper_exclusions(shopper, config),
    )


@_safe()
def trending(
    channel: str,
    first: int,
    config: PersonalizationConfig,
    category_id: int | None = None,
    shopper: Shopper | None = None,
) -> list[Recommendation]:
    subject = "" if category_id is None else str(category_id)
    return apply_rules(
        _list(ListKind.TRENDING, subject, channel),
        source="trending",
        channel=channel,
        first=first,
        config=config,
        exclude=shopper_exclusions(shopper, config),
    )


@_safe()
def recently_viewed(
    shopper: Shopper, channel: str, first: int, config: PersonalizationConfig, days: int = 30
) -> list[Recommendation]:
    views = Interaction.objects.filter(
        kind=InteractionKind.VIEW, occurred_at__gte=timezone.now() - timedelta(days=days)
    )
    if shopper.customer_id:
        views = views.filter(customer_id=shopper.customer_id)
    elif shopper.anonymous_id:
        views = views.filter(anonymous_id=shopper.anonymous_id)
    else:
        return []
    ordered: list[int] = []
    for product_id in views.order_by("-occurred_at").values_list("product_id", flat=True)[:500]:
        if product_id not in ordered:
            ordered.append(product_id)
    entries = [{"product_id": p, "score": 0.0, "reason": "You viewed this"} for p in ordered]
    return apply_rules(
        entries,
        source="recently_viewed",
        channel=channel,
        first=first,
        config=PersonalizationConfig(**{**config.__dict__, "max_per_category": 0}),
        exclude=shopper_exclusions(shopper, config),
    )


@_safe()
def rerank(
    shopper: Shopper, product_ids: Sequence[int], channel: str, config: PersonalizationConfig
) -> list[Recommendation]:
    """The storefront's own list, most relevant to this shopper first.

    Products on the shopper's precomputed list move up in its order; the rest keep
    their original order behind them. Unavailable products, the shopper's cart and
    recent purchases are dropped as from every list.
    """
    personal = _list(ListKind.PERSONAL, str(shopper.customer_id)) if shopper.customer_id else []
    rank = {int(e["product_id"]): (k, e) for k, e in enumerate(personal)}
    wanted = list(dict.fromkeys(int(p) for p in product_ids))
    ordered = sorted(wanted, key=lambda p: (0, rank[p][0]) if p in rank else (1, wanted.index(p)))
    entries = [
        rank[p][1] if p in rank else {"product_id": p, "score": 0.0, "reason": "In your list"}
        for p in ordered
    ]
    # What the shopper is looking at now moves its neighbours on the page up; nothing
    # off the page is added and nothing on it is dropped for being in the session.
    session = SessionView(shopper.customer_id, shopper.anonymous_id, config)
    followed = session.follow(
        entries, personal=bool(personal), within=set(wanted), exclude_context=False
    )
    entries = [e.to_json() for e in followed]
    relaxed = PersonalizationConfig(**{**config.__dict__, "max_per_category": 0})
    return apply_rules(
        entries,
        source="rerank",
        channel=channel,
        first=len(entries),
        config=relaxed,
        exclude=shopper_exclusions(shopper, config),
    )

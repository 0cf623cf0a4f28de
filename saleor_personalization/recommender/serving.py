"""Read precomputed lists, apply the business rules, fall back when there is nothing.

Serving never scores a model: it reads one list row by its unique key, then applies
the shopper-facing rules of :mod:`.rules` (channel state and live stock of the
candidates). Every function returns a list (possibly
empty) and never raises to its caller; a database error is logged and answered with
an empty list, so a storefront page renders without its recommendations rather than
failing.
"""

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..configuration import PersonalizationConfig
from ..models import (
    CustomerProfile,
    Interaction,
    InteractionKind,
    ItemChannel,
    ListEntry,
    ListKey,
    ListKind,
    RecommendationList,
    SubjectType,
)
from .lists import BOUGHT_BEFORE
from .mixing import mix
from .rules import Recommendation, Shopper, ShopperRules, apply_rules

__all__ = ["ListEntry", "Recommendation", "Shopper", "apply_rules"]

logger = logging.getLogger(__name__)


def _list(key: ListKey, source: str = "") -> list[ListEntry]:
    """One list by its unique key, each entry labelled with where it was served from."""
    return RecommendationList.read(key, source or key.kind)


def _customer(customer_id: int) -> ListKey:
    return ListKey.of(ListKind.PERSONAL, SubjectType.CUSTOMER, customer_id)


def _best_of(lists: Iterable[list[ListEntry]], owned: set[int] = frozenset()) -> list[ListEntry]:
    """Several lists merged: each product once with its best score, best first."""
    best: dict[int, ListEntry] = {}
    for entries in lists:
        for entry in entries:
            current = best.get(entry.product_id)
            if entry.product_id not in owned and (current is None or entry.score > current.score):
                best[entry.product_id] = entry
    return sorted(best.values(), key=lambda e: -e.score)


def _safe(default=list):
    def decorate(function):
        def wrapper(*args, **kwargs):
            try:
                if not transaction.get_connection().in_atomic_block:
                    # Autocommit (a storefront request): a failed query aborts
                    # nothing, and a transaction would cost two round trips.
                    return function(*args, **kwargs)
                # Inside a transaction, a savepoint: a failed query (the plugin's
                # tables unavailable, say) must not abort the transaction Saleor's
                # own fields then read in.
                with transaction.atomic():
                    return function(*args, **kwargs)
            except Exception:
                logger.exception("Serving %s failed; answering with nothing", function.__name__)
                return default()

        wrapper.__name__ = function.__name__
        wrapper.__doc__ = function.__doc__
        return wrapper

    return decorate


def _fallback_entries(shopper: Shopper, channel: str) -> list[ListEntry]:
    """The country's bestsellers in the channel, else the channel's, else the shop's, else
    the newest products: the first of these that exists."""
    country = ""
    if shopper.customer_id:
        country = (
            CustomerProfile.objects.filter(customer_id=shopper.customer_id)
            .values_list("country", flat=True)
            .first()
            or ""
        )
    keys = [ListKey.for_country(ListKind.POPULAR, country, channel)] if country else []
    keys += [ListKey(ListKind.POPULAR, channel=channel), ListKey(ListKind.POPULAR)]
    for key in keys:
        entries = _list(key, "popular_country" if key.country else "popular")
        if entries:
            return entries
    newest = (
        ItemChannel.objects.filter(channel=channel, is_available=True)
        .order_by("-item__created_at", "-item_id")
        .values_list("item_id", flat=True)[:200]
    )
    return [ListEntry(p, reason="New in the shop", source="newest") for p in newest]


RECENT_PURCHASES = 10


def _complement_lists(product_ids: Sequence[int]) -> list[list[ListEntry]]:
    """The "bought together" lists of these products, in the order the products are given
    (so that equal scores rank the same way on every read)."""
    wanted = list(dict.fromkeys(int(p) for p in product_ids))
    rows = {
        row.subject_id: row
        for row in RecommendationList.objects.filter(
            kind=ListKind.BOUGHT_TOGETHER,
            subject_type=SubjectType.PRODUCT,
            subject_id__in=wanted,
            country="",
            channel="",
        )
    }
    return [rows[p].ranked(ListKind.BOUGHT_TOGETHER) for p in wanted if p in rows]


def _complements_of_purchases(rules: ShopperRules) -> list[ListEntry]:
    """ "Often bought with" entries for the customer's latest purchases, not already owned."""
    purchases = rules.activity.purchases
    if not purchases:
        return []
    latest = sorted(purchases, key=lambda p: (purchases[p].last_at, p), reverse=True)
    return _best_of(_complement_lists(latest[:RECENT_PURCHASES]), owned=set(purchases))


@_safe()
def personalized(
    shopper: Shopper,
    channel: str,
    first: int,
    config: PersonalizationConfig,
    discovery_share: float = 1.0,
) -> list[Recommendation]:
    """The shopper's "for you" list (discovery), or the best fallback there is, following
    the session; with ``discovery_share`` below 1, mixed with their "buy again" list.

    Before any model has scored them, a customer who has ordered gets what is bought
    with what they bought (from every basket, guests' included), then bestsellers.
    Either is blended with what the shopper viewed, added and bought in their current
    session (:meth:`ShopperRules.follow_session`); a visitor's bestsellers follow it
    most. In a mix each list follows the session as it does when served alone (*for
    you* gains the session's neighbours, *buy again* is reordered among the customer's
    own products, :func:`buy_again`) before the places are dealt, so the session cannot
    crowd out the share the storefront asked for.
    """
    rules = ShopperRules(shopper, channel, config)
    if discovery_share <= 0:
        # *Buy again* only: the same answer as ``buyAgainProducts``, nothing filled in
        # from discovery or the bestsellers (a visitor has nothing to buy again).
        return _buy_again_served(rules, first)
    owned: set[int] = set()
    if shopper.customer_id:
        base = _list(_customer(shopper.customer_id)) or _complements_of_purchases(rules)
        # Discovery shows nothing the customer bought: not through the session's
        # neighbours, not through the bestsellers that fill a short list. Only the
        # places given to "buy again" may.
        owned = set(rules.owned)
        # Nothing personal to follow the session: the fallback below follows it, as a
        # fallback does (the session leads), not as a personal list would.
        entries = rules.follow_session(base, first, personal=True) if base else []
        if discovery_share < 1:
            entries = [e for e in entries if e.product_id not in owned]
            again = _buy_again_following(rules, shopper.customer_id, first)
            entries = mix(entries, again, discovery_share)
            owned -= {e.product_id for e in again}
        if entries:
            items = rules.apply(entries, first, exclude=owned)
            if len(items) >= first:
                return items
            more = rules.apply(
                rules.follow_session(_fallback_entries(shopper, channel), first, personal=False),
                first,
                exclude={i.product_id for i in items} | owned,
            )
            return (items + more)[:first]
    fallback = _fallback_entries(shopper, channel)
    return rules.apply(rules.follow_session(fallback, first, personal=False), first, exclude=owned)


def _buy_again_entries(rules: ShopperRules, customer_id: int) -> list[ListEntry]:
    """The customer's "buy again" list; before a model has scored them, what they
    bought, most often and most recently bought first."""
    entries = _list(ListKey.of(ListKind.BUY_AGAIN, SubjectType.CUSTOMER, customer_id))
    if entries:
        return entries
    purchases = rules.activity.purchases
    bought = sorted(
        purchases, key=lambda p: (-purchases[p].orders, -purchases[p].last_at.timestamp(), p)
    )
    return [
        ListEntry(product, float(purchases[product].orders), BOUGHT_BEFORE, "buy_again_history")
        for product in bought[:200]
    ]


def _buy_again_following(rules: ShopperRules, customer_id: int, first: int) -> list[ListEntry]:
    """The customer's "buy again" list reordered by their session among its own products.

    What goes with what they are looking at now moves up ("Because you viewed X"); the
    session's other neighbours (things they never bought) are not brought in: the list
    holds only their purchases.
    """
    entries = _buy_again_entries(rules, customer_id)
    return rules.follow_session(
        entries, first, personal=True, within={e.product_id for e in entries}
    )


@_safe()
def buy_again(
    shopper: Shopper, channel: str, first: int, config: PersonalizationConfig
) -> list[Recommendation]:
    """The customer's "buy again" list: what they are likely to reorder now.

    Only for a logged-in customer (a visitor has nothing to buy again). What they
    just bought stays out unless it is reordered (by customers, or by them: two or more
    orders), as on every list; the order is the customer's own, so categories are not
    spread, and it follows the session only among their own products
    (:func:`_buy_again_following`).
    """
    if not shopper.customer_id:
        return []
    return _buy_again_served(ShopperRules(shopper, channel, config), first)


def _buy_again_served(rules: ShopperRules, first: int) -> list[Recommendation]:
    customer_id = rules.shopper.customer_id
    if not customer_id:
        return []
    return rules.apply(
        _buy_again_following(rules, customer_id, first), first, diversify_categories=False
    )


@_safe()
def similar(
    product_id: int,
    channel: str,
    first: int,
    config: PersonalizationConfig,
    shopper: Shopper,
) -> list[Recommendation]:
    return apply_rules(
        _list(ListKey.of(ListKind.SIMILAR, SubjectType.PRODUCT, product_id)),
        shopper=shopper,
        channel=channel,
        first=first,
        config=config,
        exclude={product_id},
    )


@_safe()
def bought_together(
    product_ids: Sequence[int],
    channel: str,
    first: int,
    config: PersonalizationConfig,
    shopper: Shopper,
    follow_session: bool = False,
) -> list[Recommendation]:
    """Complements of one product, or of a whole cart (best score per product wins).

    ``follow_session`` (a cart's complements): blended with what the shopper viewed and
    added in their session, with the Dashboard's session weight.
    """
    rules = ShopperRules(shopper, channel, config)
    entries = _best_of(_complement_lists(product_ids))
    if follow_session:
        entries = rules.follow_session(entries, first, personal=True)
    return rules.apply(entries, first, exclude=product_ids)


@_safe()
def trending(
    channel: str,
    first: int,
    config: PersonalizationConfig,
    category_id: int | None = None,
    *,
    shopper: Shopper,
) -> list[Recommendation]:
    key = ListKey(ListKind.TRENDING, channel=channel)
    if category_id is not None:
        key = ListKey.of(ListKind.TRENDING, SubjectType.CATEGORY, category_id, channel)
    return apply_rules(
        _list(key),
        shopper=shopper,
        channel=channel,
        first=first,
        config=config,
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
    ordered = dict.fromkeys(
        views.order_by("-occurred_at").values_list("product_id", flat=True)[:500]
    )
    entries = [ListEntry(p, reason="You viewed this", source="recently_viewed") for p in ordered]
    return apply_rules(
        entries,
        shopper=shopper,
        channel=channel,
        first=first,
        config=config,
        diversify_categories=False,
    )


@_safe()
def rerank(
    shopper: Shopper, product_ids: Sequence[int], channel: str, config: PersonalizationConfig
) -> list[Recommendation]:
    """The storefront's own list, most relevant to this shopper first.

    Products on the shopper's precomputed list move up in its order; the rest keep
    their original order behind them; then the products the session's neighbours
    lift. Unavailable products, the shopper's cart and recent purchases are dropped as
    from every list.
    """
    personal: list[ListEntry] = []
    if shopper.customer_id:
        personal = _list(_customer(shopper.customer_id), "rerank")
    rank = {e.product_id: (k, e) for k, e in enumerate(personal)}
    wanted = list(dict.fromkeys(int(p) for p in product_ids))
    ordered = sorted(wanted, key=lambda p: (0, rank[p][0]) if p in rank else (1, wanted.index(p)))
    entries = [
        rank[p][1] if p in rank else ListEntry(p, reason="On this page", source="rerank")
        for p in ordered
    ]
    # What the shopper looks at now moves its neighbours on the page up; nothing off
    # the page is added, and nothing on it is dropped for being in the session.
    rules = ShopperRules(shopper, channel, config)
    entries = rules.follow_session(
        entries, len(entries), personal=bool(personal), within=set(wanted)
    )
    return rules.apply(entries, len(entries), diversify_categories=False)

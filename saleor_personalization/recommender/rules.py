"""The rules every list a shopper sees obeys, applied at serving.

Lists are precomputed, but what may be shown changes by the minute: a product sells
out or comes back, is unpublished, goes into the cart. So each answer is filtered
here, for the page's candidates only:

- **availability**: published, visible in listings and purchasable in the channel
  (the synced :class:`ItemChannel`; Saleor's own product resolver checks again when
  the products are loaded);
- **stock**: inside Saleor read from Saleor's stock tables at request time
  (:func:`~saleor_personalization.saleor_adapter.availability.in_stock_condition`), so a
  product that sells out, or is restocked, changes the next answer; standalone, the
  synced ``in_stock`` flag;
- **cart**: products in the shopper's open cart are left out (Dashboard switch);
- **recent purchases**: what the shopper bought in the last N days is left out unless
  it is a product customers reorder (the reorder list is written with the live model's
  lists) or one the shopper has bought in two or more orders (Dashboard setting);
- **diversity**: at most N products of one category in the first ten.

Every served list goes through :func:`apply_rules` (or a :class:`ShopperRules` made
for one answer, when an answer reads several lists): the rules cannot be built
without a shopper, so no list kind can skip the cart and recent-purchase rules by
forgetting to ask for them. The shopper's carts, purchases and session are read once
per answer, in one query (:mod:`.activity`); the reorder list row only when the shopper
bought something lately.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import OuterRef

from ..configuration import PersonalizationConfig
from ..models import (
    ItemChannel,
    ListEntry,
    ListKey,
    ListKind,
    RecommendationList,
)
from ..shop import get_shop
from .activity import ShopperActivity, read_activity
from .ranking import OWN_REORDER_ORDERS
from .session import SessionSettings, SessionView

DIVERSITY_WINDOW = 10


@dataclass(frozen=True)
class Shopper:
    """Who is asking: a customer id, an anonymous id (``s:...``), or neither."""

    customer_id: int | None = None
    anonymous_id: str = ""


def reorder_products() -> set[int]:
    """Products customers reorder, as the live model's lists last recorded them."""
    return {entry.product_id for entry in RecommendationList.read(ListKey(ListKind.REORDER))}


def recent_purchases(activity: ShopperActivity, days: int) -> set[int]:
    """What the shopper bought in the last ``days`` days, reordered products aside: those
    customers reorder, and those this shopper has bought in two or more orders (as
    :func:`~saleor_personalization.recommender.ranking.hide_recent_purchases` ranks)."""
    if not days:
        return set()
    products = {
        p for p in activity.bought(days) if activity.purchases[p].orders < OWN_REORDER_ORDERS
    }
    return products - reorder_products() if products else products


# What serving answers with: a list entry that passed the rules, labelled with its source.
Recommendation = ListEntry


def available(
    product_ids: Sequence[int], channel: str, config: PersonalizationConfig
) -> dict[int, int | None]:
    """The products that may be shown in ``channel`` now, each with its category.

    One query: the channel state, the shop's live stock (when out-of-stock products
    are left out; :meth:`~saleor_personalization.shop.port.Catalogue.in_stock_condition`)
    and the category from the product's profile, which the diversity rule needs for
    the same candidates. Each extra query per served list was a measurable part of
    the plugin's time in a request.
    """
    listed = ItemChannel.objects.filter(
        item_id__in=list(product_ids), channel=channel, is_available=True
    )
    if config.exclude_out_of_stock:
        live = get_shop().catalogue.in_stock_condition(channel, OuterRef("item_id"))
        listed = listed.filter(in_stock=True) if live is None else listed.filter(live)
    return dict(listed.values_list("item_id", "item__category_id"))


def diversify(items: list[ListEntry], limit: int, categories: dict[int, object]) -> list:
    """At most ``limit`` products of one category in the first ten; the rest move down.

    When every category in the list has reached its limit before ten places are
    filled, the remaining places take the best of what moved down: a page shows ten
    products rather than fewer.
    """
    if not limit:
        return items
    head, tail, seen = [], [], Counter()
    for item in items:
        category = categories.get(item.product_id)
        if len(head) < DIVERSITY_WINDOW and (category is None or seen[category] < limit):
            head.append(item)
            if category is not None:
                seen[category] += 1
        else:
            tail.append(item)
    return head + tail


class ShopperRules:
    """The rules for one answer to one shopper in one channel.

    Made once per answer: the shopper's carts, purchases and session are read here in
    one query (:func:`~.activity.read_activity`), and every list the answer draws on (a
    personal list and its fallback, say) is then filtered by :meth:`apply` against the
    same exclusions and follows the same session.
    """

    def __init__(
        self,
        shopper: Shopper,
        channel: str,
        config: PersonalizationConfig,
        *,
        follows_session: bool = True,
    ):
        """``follows_session``: off for an answer that never blends the session (a
        product's similar list, trending), so its events are not read."""
        self.shopper, self.channel, self.config = shopper, channel, config
        settings = SessionSettings.from_config(config)
        self.activity = read_activity(
            shopper.customer_id,
            shopper.anonymous_id,
            cart=config.exclude_in_cart,
            session=settings if follows_session else None,
        )
        # What discovery leaves out: everything the shopper ever bought.
        self.owned = frozenset(self.activity.purchases)
        self.excluded = self.activity.cart | recent_purchases(
            self.activity, config.recently_bought_days
        )
        self.session = SessionView(settings, self.activity.session())

    def follow_session(
        self,
        entries: Sequence[ListEntry],
        first: int,
        *,
        personal: bool,
        within: set[int] | None = None,
    ) -> list[ListEntry]:
        """``entries`` blended with the shopper's current session, before the rules.

        ``personal``: the entries are about this shopper (their list, their cart's
        complements) and keep the Dashboard's share; a fallback follows the session
        more. ``within``: only these products may be lifted (a storefront's own page,
        reranked: its products stay, the session's are not added). Switched off, or
        without a session, the entries come back as they are. Enough are returned for
        the rules to still fill ``first`` places.
        """
        if within is not None:
            return self.session.follow(
                entries, personal=personal, within=within, exclude_context=False
            )
        limit = max(len(entries), 3 * first, 50)
        return self.session.follow(entries, personal=personal, limit=limit)

    def apply(
        self,
        entries: Iterable[ListEntry],
        first: int,
        *,
        exclude: Iterable[int] = (),
        diversify_categories: bool = True,
    ) -> list[Recommendation]:
        """The first ``first`` entries that may be shown, each product once.

        ``exclude`` adds what this answer must leave out besides the shopper's cart
        and recent purchases (the product a "similar" list is for, say).
        ``diversify_categories`` is off for lists whose order is the shopper's own
        (recently viewed, a reranked storefront list).
        """
        excluded = self.excluded | set(exclude)
        candidates = [e for e in entries if e.product_id not in excluded]
        shown = available([e.product_id for e in candidates], self.channel, self.config)
        seen: set[int] = set()
        unique: list[ListEntry] = []
        for entry in candidates:
            if entry.product_id in shown and entry.product_id not in seen:
                seen.add(entry.product_id)
                unique.append(entry)
        limit = self.config.max_per_category if diversify_categories else 0
        if limit:
            categories = {
                i.product_id: shown[i.product_id]
                for i in unique[:50]
                if shown[i.product_id] is not None
            }
            unique = diversify(unique, limit, categories)
        return unique[:first]


def apply_rules(
    entries: Iterable[ListEntry],
    *,
    shopper: Shopper,
    channel: str,
    first: int,
    config: PersonalizationConfig,
    exclude: Iterable[int] = (),
    diversify_categories: bool = True,
) -> list[Recommendation]:
    """Every shopper-facing rule on one list, for an answer that reads just that list
    (and does not follow the session)."""
    return ShopperRules(shopper, channel, config, follows_session=False).apply(
        entries, first, exclude=exclude, diversify_categories=diversify_categories
    )

"""The rules every list a shopper sees obeys, applied at serving.

Lists are precomputed, but what may be shown changes by the minute: a product sells
out or comes back, is unpublished, goes into the cart. So each answer is filtered
here, for the page's candidates only:

- **availability**: published, visible in listings and purchasable in the channel
  (the synced :class:`ItemChannel`; Saleor's own product resolver checks again when
  the products are loaded);
- **stock**: inside Saleor read from Saleor's stock tables at request time
  (:func:`~saleor_personalization.saleor_adapter.availability.live_in_stock`), so a
  product that sells out, or is restocked, changes the next answer; standalone, the
  synced ``in_stock`` flag;
- **cart**: products in the shopper's open cart are left out (Dashboard switch);
- **recent purchases**: what the shopper bought in the last N days is left out unless
  it is a product customers reorder (Dashboard setting; the reorder list is written
  with the live model's lists);
- **diversity**: at most N products of one category in the first ten.

The shopper's exclusions are read once per answer (:func:`shopper_exclusions`: two
indexed queries and one list row) and apply to every list kind, so no list offers
what is already in the cart or was just bought.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from ..configuration import PersonalizationConfig
from ..models import (
    CartState,
    Interaction,
    InteractionKind,
    ItemChannel,
    ItemProfile,
    ListKind,
    RecommendationList,
)
from ..shop import get_shop

DIVERSITY_WINDOW = 10
RECENT_CARTS = 3


@dataclass(frozen=True)
class Shopper:
    """Who is asking: a customer id, an anonymous id (``s:...``), or neither."""

    customer_id: int | None = None
    anonymous_id: str = ""


def cart_products(shopper: Shopper) -> set[int]:
    """Products in the shopper's open carts (the latest few)."""
    carts = CartState.objects.filter(completed_at__isnull=True)
    if shopper.customer_id:
        carts = carts.filter(customer_id=shopper.customer_id)
    elif shopper.anonymous_id:
        carts = carts.filter(anonymous_id=shopper.anonymous_id)
    else:
        return set()
    products: set[int] = set()
    for lines in carts.order_by("-last_change_at").values_list("lines", flat=True)[:RECENT_CARTS]:
        products.update(int(product) for product, _ in (lines or {}).values())
    return products


def reorder_products() -> set[int]:
    """Products customers reorder, as the live model's lists last recorded them."""
    items = (
        RecommendationList.objects.filter(kind=ListKind.REORDER, subject="", channel="")
        .values_list("items", flat=True)
        .first()
    )
    return {int(entry["product_id"]) for entry in items or []}


def recent_purchases(shopper: Shopper, days: int) -> set[int]:
    """What the shopper bought in the last ``days`` days, products customers reorder aside."""
    if not days or not (shopper.customer_id or shopper.anonymous_id):
        return set()
    bought = Interaction.objects.filter(
        kind=InteractionKind.PURCHASE, occurred_at__gte=timezone.now() - timedelta(days=days)
    )
    if shopper.customer_id:
        bought = bought.filter(customer_id=shopper.customer_id)
    else:
        bought = bought.filter(anonymous_id=shopper.anonymous_id)
    products = set(bought.values_list("product_id", flat=True).distinct()[:500])
    return products - reorder_products() if products else products


def shopper_exclusions(shopper: Shopper | None, config: PersonalizationConfig) -> set[int]:
    """What no list may show this shopper now: their cart and their recent purchases."""
    if shopper is None:
        return set()
    excluded = cart_products(shopper) if config.exclude_in_cart else set()
    return excluded | recent_purchases(shopper, config.recently_bought_days)


@dataclass(frozen=True)
class Recommendation:
    product_id: int
    score: float
    reason: str
    source: str
    is_new: bool = False


def available(product_ids: Sequence[int], channel: str, config: PersonalizationConfig) -> set[int]:
    """The products that may be shown in ``channel`` now."""
    listed = set(
        ItemChannel.objects.filter(
            item_id__in=list(product_ids), channel=channel, is_available=True
        ).values_list("item_id", "in_stock")
    )
    if not config.exclude_out_of_stock:
        return {product for product, _ in listed}
    candidates = [product for product, _ in listed]
    live = get_shop().catalogue.in_stock(candidates, channel)
    if live is None:
        return {product for product, in_stock in listed if in_stock}
    return live.intersection(candidates)


def diversify(items: list[Recommendation], limit: int, categories: dict[int, object]) -> list:
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


def apply_rules(
    entries: Iterable[dict],
    *,
    source: str,
    channel: str,
    first: int,
    config: PersonalizationConfig,
    exclude: set[int] = frozenset(),
) -> list[Recommendation]:
    candidates = [e for e in entries if int(e["product_id"]) not in exclude]
    ids = [int(e["product_id"]) for e in candidates]
    shown = available(ids, channel, config)
    items = [
        Recommendation(
            product_id=int(e["product_id"]),
            score=float(e.get("score", 0.0)),
            reason=e.get("reason", ""),
            source=source,
            is_new=bool(e.get("new", False)),
        )
        for e in candidates
        if int(e["product_id"]) in shown
    ]
    seen: set[int] = set()
    unique = []
    for item in items:
        if item.product_id not in seen:
            seen.add(item.product_id)
            unique.append(item)
    if config.max_per_category:
        categories = dict(
            ItemProfile.objects.filter(product_id__in=[i.product_id for i in unique[:50]])
            .exclude(category_id__isnull=True)
            .values_list("product_id", "category_id")
        )
        unique = diversify(unique, config.max_per_category, categories)
    return unique[:first]

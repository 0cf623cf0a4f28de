"""Read Saleor's catalogue into :class:`~saleor_personalization.features.items.ItemFeatures`.

A handful of queries per batch of products, each streamed with ``values_list`` from
the replica, so syncing the whole catalogue runs in constant memory per batch.
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import F, Min

from ..features.items import ItemChannelState, ItemFeatures
from .db import iter_id_batches, replica_name


def iter_product_ids(batch_size: int = 1000) -> Iterator[list[int]]:
    from saleor.product.models import Product

    return iter_id_batches(Product.objects.using(replica_name()), batch_size)


def _category_paths(category_ids: set[int]) -> dict[int, tuple[str, ...]]:
    from saleor.product.models import Category

    paths: dict[int, tuple[str, ...]] = {}
    for category in Category.objects.using(replica_name()).filter(pk__in=category_ids):
        ancestors = category.get_ancestors(include_self=True).using(replica_name())
        paths[category.pk] = tuple(ancestors.values_list("name", flat=True))
    return paths


def _attributes(product_ids: Sequence[int]) -> dict[int, list[str]]:
    from saleor.attribute.models import AssignedProductAttributeValue, AssignedVariantAttributeValue

    found: dict[int, set[str]] = defaultdict(set)
    rows = (
        AssignedProductAttributeValue.objects.using(replica_name())
        .filter(product_id__in=product_ids)
        .values_list("product_id", "value__attribute__slug", "value__slug")
    )
    for product_id, attribute, value in rows:
        found[product_id].add(f"{attribute}:{value}")
    rows = (
        AssignedVariantAttributeValue.objects.using(replica_name())
        .filter(assignment__variant__product_id__in=product_ids)
        .values_list("assignment__variant__product_id", "value__attribute__slug", "value__slug")
    )
    for product_id, attribute, value in rows:
        found[product_id].add(f"{attribute}:{value}")
    return {product_id: sorted(values) for product_id, values in found.items()}


def _collections(product_ids: Sequence[int]) -> dict[int, list[str]]:
    from saleor.product.models import CollectionProduct

    found: dict[int, list[str]] = defaultdict(list)
    rows = (
        CollectionProduct.objects.using(replica_name())
        .filter(product_id__in=product_ids)
        .values_list("product_id", "collection__slug")
    )
    for product_id, slug in rows:
        found[product_id].append(slug)
    return found


def _channels(product_ids: Sequence[int], now: datetime) -> dict[int, list[ItemChannelState]]:
    from saleor.product.models import ProductChannelListing, ProductVariantChannelListing
    from saleor.warehouse.models import Stock

    prices = {
        (row["variant__product_id"], row["channel__slug"]): (row["price"], row["currency"])
        for row in ProductVariantChannelListing.objects.using(replica_name())
        .filter(variant__product_id__in=product_ids, price_amount__isnull=False)
        .values("variant__product_id", "channel__slug")
        .annotate(price=Min("price_amount"), currency=Min("currency"))
        .order_by()
    }
    untracked = set(
        ProductVariantChannelListing.objects.using(replica_name())
        .filter(variant__product_id__in=product_ids, variant__track_inventory=False)
        .values_list("variant__product_id", "channel__slug")
    )
    stocked = set(
        Stock.objects.using(replica_name())
        .filter(product_variant__product_id__in=product_ids, quantity__gt=F("quantity_allocated"))
        .values_list("product_variant__product_id", "warehouse__channels__slug")
    )
    found: dict[int, list[ItemChannelState]] = defaultdict(list)
    listings = ProductChannelListing.objects.using(replica_name()).filter(
        product_id__in=product_ids
    )
    for listing in listings.values(
        "product_id",
        "channel__slug",
        "is_published",
        "published_at",
        "visible_in_listings",
        "available_for_purchase_at",
    ):
        key = (listing["product_id"], listing["channel__slug"])
        published = listing["is_published"] and (
            listing["published_at"] is None or listing["published_at"] <= now
        )
        purchasable = (
            listing["available_for_purchase_at"] is not None
            and listing["available_for_purchase_at"] <= now
        )
        price, currency = prices.get(key, (None, ""))
        found[listing["product_id"]].append(
            ItemChannelState(
                channel=listing["channel__slug"],
                is_available=bool(published and listing["visible_in_listings"] and purchasable),
                in_stock=key in stocked or key in untracked,
                price_amount=None if price is None else Decimal(price),
                currency=currency or "",
            )
        )
    return found


def read_items(product_ids: Sequence[int]) -> list[ItemFeatures]:
    """Features of the given products; ids Saleor no longer has are simply absent."""
    from saleor.product.models import Product

    now = datetime.now(tz=UTC)
    products = list(
        Product.objects.using(replica_name())
        .filter(pk__in=product_ids)
        .values("pk", "name", "slug", "category_id", "product_type__name", "created_at")
    )
    if not products:
        return []
    ids = [p["pk"] for p in products]
    paths = _category_paths({p["category_id"] for p in products if p["category_id"]})
    attributes = _attributes(ids)
    collections = _collections(ids)
    channels = _channels(ids, now)
    items = []
    for product in products:
        states = channels.get(product["pk"], [])
        priced = [s for s in states if s.price_amount is not None]
        cheapest = min(priced, key=lambda s: s.price_amount) if priced else None
        items.append(
            ItemFeatures(
                product_id=product["pk"],
                name=product["name"],
                external_ref=product["slug"],
                category_id=product["category_id"],
                category_path=paths.get(product["category_id"], ()),
                product_type=product["product_type__name"] or "",
                attributes=tuple(attributes.get(product["pk"], ())),
                collections=tuple(collections.get(product["pk"], ())),
                price_amount=cheapest.price_amount if cheapest else None,
                currency=cheapest.currency if cheapest else "",
                created_at=product["created_at"],
                channels=tuple(states),
            )
        )
    return items


def products_of_variants(variant_ids: Sequence[int]) -> list[int]:
    from saleor.product.models import ProductVariant

    return list(
        ProductVariant.objects.using(replica_name())
        .filter(pk__in=variant_ids)
        .values_list("product_id", flat=True)
        .distinct()
    )

"""What Saleor says is in stock right now."""

from collections.abc import Sequence


def live_in_stock(product_ids: Sequence[int], channel: str) -> set[int]:
    """Which of these products Saleor can sell in ``channel`` now.

    Saleor 3.23 tells webhooks, not plugins, when stock changes
    (``productVariantStocksUpdate``, orders allocating the last unit), so the
    synced ``ItemChannel.in_stock`` can be hours old. Serving asks Saleor's own
    tables instead, for a page's candidates only: one indexed query (a union of
    variants with unallocated stock in one of the channel's warehouses and variants
    that do not track inventory), the same rule the catalogue sync applies.
    """
    if not product_ids:
        return set()
    from django.db.models import F
    from saleor.product.models import ProductVariantChannelListing
    from saleor.warehouse.models import Stock

    from .db import replica_name

    ids = list(product_ids)
    stocked = (
        Stock.objects.using(replica_name())
        .filter(
            product_variant__product_id__in=ids,
            warehouse__channels__slug=channel,
            quantity__gt=F("quantity_allocated"),
        )
        .values_list("product_variant__product_id", flat=True)
        .order_by()
    )
    untracked = (
        ProductVariantChannelListing.objects.using(replica_name())
        .filter(
            variant__product_id__in=ids,
            variant__track_inventory=False,
            channel__slug=channel,
        )
        .values_list("variant__product_id", flat=True)
        .order_by()
    )
    return set(stocked.union(untracked))

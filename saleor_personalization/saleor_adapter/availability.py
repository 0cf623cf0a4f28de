"""What Saleor says is in stock right now."""

from django.db.models import Exists, F, OuterRef, Q


def in_stock_condition(channel: str, product: OuterRef) -> Q:
    """Whether Saleor can sell the product ``product`` refers to in ``channel`` now.

    Saleor 3.23 tells webhooks, not plugins, when stock changes
    (``productVariantStocksUpdate``, orders allocating the last unit), so the
    synced ``ItemChannel.in_stock`` can be hours old. Serving asks Saleor's own
    tables instead: a variant with unallocated stock in one of the channel's
    warehouses, or a variant that does not track inventory (the rule the catalogue
    sync applies). A condition rather than a set of ids, so that the core filters
    the page's candidates by it in the query that reads their channel state: one
    round trip per served list, not two.
    """
    from saleor.product.models import ProductVariantChannelListing
    from saleor.warehouse.models import Stock

    stocked = Stock.objects.filter(
        product_variant__product_id=product,
        warehouse__channels__slug=channel,
        quantity__gt=F("quantity_allocated"),
    )
    untracked = ProductVariantChannelListing.objects.filter(
        variant__product_id=product,
        variant__track_inventory=False,
        channel__slug=channel,
    )
    return Q(Exists(stocked)) | Q(Exists(untracked))

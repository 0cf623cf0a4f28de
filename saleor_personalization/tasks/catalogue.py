"""Keep item and customer profiles in step with Saleor's catalogue and accounts."""

from celery import shared_task

from ..events.recording import claim_orders
from ..features.customers import upsert_customers
from ..features.items import delete_items, upsert_items
from ..services.queueing import enqueue
from ..shop import get_shop
from .events import RETRY
from .segments import request_segment_refresh


@shared_task(name="saleor_personalization.sync_products", **RETRY)
def sync_products_task(product_ids: list[int]) -> int:
    """Refresh profiles of these products; those Saleor no longer has are removed."""
    items = get_shop().catalogue.items(product_ids)
    gone = set(product_ids) - {item.product_id for item in items}
    with get_shop().database.writer():
        written = upsert_items(items)
        delete_items(gone)
    if items:
        # New (or changed) products the live model was not trained on get neighbours
        # from their features now, not at the next training.
        from .session import place_new_products_task

        enqueue(place_new_products_task, [item.product_id for item in items])
    return written


@shared_task(name="saleor_personalization.delete_products", **RETRY)
def delete_products_task(product_ids: list[int]) -> int:
    with get_shop().database.writer():
        return delete_items(product_ids)


@shared_task(name="saleor_personalization.sync_customers", **RETRY)
def sync_customers_task(customer_ids: list[int]) -> int:
    """Refresh customer profiles and claim the guest orders Saleor has linked to them.

    Not by email: Saleor links a guest's orders to an account once the address is
    proven (account confirmation, password reset, email change); those orders, and
    their checkouts' browsing, become the customer's, and the order counts follow.
    """
    config, _ = get_shop().configuration.load()
    customers = get_shop().customers.features(
        customer_ids, config.consent_metadata_key, config.customer_attribute_keys
    )
    claims = get_shop().customers.linked_order_claims(
        [customer.customer_id for customer in customers]
    )
    with get_shop().database.writer():
        written = upsert_customers(customers)
        if claim_orders(claims):
            request_segment_refresh()
    return written

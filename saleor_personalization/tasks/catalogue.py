"""Keep item and customer profiles in step with Saleor's catalogue and accounts."""

from celery import shared_task

from ..events.identity import email_identity, merge_identities
from ..features.customers import upsert_customers
from ..features.items import delete_items, upsert_items
from ..saleor_adapter.catalogue import read_items
from ..saleor_adapter.configuration import load_configuration
from ..saleor_adapter.customers import read_customers
from ..saleor_adapter.db import allow_writer
from .events import RETRY


@shared_task(name="saleor_personalization.sync_products", **RETRY)
def sync_products_task(product_ids: list[int]) -> int:
    """Refresh profiles of these products; those Saleor no longer has are removed."""
    items = read_items(product_ids)
    gone = set(product_ids) - {item.product_id for item in items}
    with allow_writer():
        written = upsert_items(items)
        delete_items(gone)
    return written


@shared_task(name="saleor_personalization.delete_products", **RETRY)
def delete_products_task(product_ids: list[int]) -> int:
    with allow_writer():
        return delete_items(product_ids)


@shared_task(name="saleor_personalization.sync_customers", **RETRY)
def sync_customers_task(customer_ids: list[int]) -> int:
    """Refresh customer profiles and claim their earlier guest activity by email."""
    config, _ = load_configuration()
    customers = read_customers(customer_ids, config.consent_metadata_key)
    with allow_writer():
        written = upsert_customers(customers)
        for customer in customers:
            if customer.email:
                merge_identities([email_identity(customer.email)], customer.customer_id)
    return written

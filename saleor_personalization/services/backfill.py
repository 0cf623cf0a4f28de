"""Backfill and nightly reconcile: catch up with what the shop holds.

Hooks see the live stream; they miss history, bulk imports, ORM changes made outside
mutations and deleted checkouts. This reads the shop's records in bounded batches
(``get_shop().history``, ``.catalogue``, ``.customers``) and feeds the same idempotent
writers, so it can be run any number of times. A shop with no records of its own (the
standalone one) raises ``ShopCapabilityMissing``.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from ..events.erasure import erase_customer
from ..events.recording import (
    claim_orders,
    forget_cart_addresses,
    record_cart,
    record_orders_bulk,
)
from ..features.customers import upsert_customers
from ..features.items import delete_items, upsert_items
from ..models import CartState, CustomerProfile, Interaction, InteractionKind, ItemProfile
from ..offers.redemption import catch_up_redemptions
from ..shop import ShopCapabilityMissing, get_shop

logger = logging.getLogger(__name__)

RECONCILE_WINDOW = timedelta(days=2)

Progress = Callable[[str], None]


@dataclass
class BackfillReport:
    products: int = 0
    products_removed: int = 0
    customers: int = 0
    customers_erased: int = 0
    orders: int = 0
    purchases_recorded: int = 0
    checkouts: int = 0
    cart_events_recorded: int = 0
    guest_purchases_claimed: int = 0
    cart_addresses_forgotten: int = 0

    def as_rows(self) -> list[tuple[str, int]]:
        return [
            ("products synced", self.products),
            ("products removed", self.products_removed),
            ("customers synced", self.customers),
            ("deleted customers erased", self.customers_erased),
            ("orders read", self.orders),
            ("purchases recorded", self.purchases_recorded),
            ("open checkouts read", self.checkouts),
            ("cart events recorded", self.cart_events_recorded),
            ("guest purchases claimed", self.guest_purchases_claimed),
            ("cart addresses forgotten", self.cart_addresses_forgotten),
        ]


def sync_customers(batch_size: int = 500) -> int:
    """Read every customer's features (country, consent, mapped metadata attributes)
    from the shop into the profiles; returns how many customers were read.

    Training calls it when metadata keys are mapped, so a mapping the admin has just
    set reaches the model without waiting for each customer to be edited.
    """
    shop = get_shop()
    config, _ = shop.configuration.load()
    read = 0
    for ids in shop.history.customer_id_batches(batch_size):
        customers = shop.customers.features(
            ids, config.consent_metadata_key, config.customer_attribute_keys
        )
        with shop.database.writer():
            upsert_customers(customers)
        read += len(customers)
    return read


def backfill(
    since: datetime | None = None,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> BackfillReport:
    """Sync catalogue, customers, orders (all, or since a date) and open checkouts."""
    shop = get_shop()
    say = progress or (lambda message: None)
    report = BackfillReport()
    config, _ = shop.configuration.load()

    seen_products: set[int] = set()
    for ids in shop.history.product_id_batches(batch_size):
        items = shop.catalogue.items(ids)
        with shop.database.writer():
            upsert_items(items)
        seen_products.update(item.product_id for item in items)
        report.products += len(items)
    say(f"products: {report.products}")
    stale = set(ItemProfile.objects.values_list("product_id", flat=True)) - seen_products
    with shop.database.writer():
        delete_items(stale)
    report.products_removed = len(stale)

    report.customers = sync_customers(batch_size)
    say(f"customers: {report.customers}")
    report.customers_erased = erase_deleted_customers(batch_size)

    for snapshots in shop.history.order_batches(since, batch_size):
        with shop.database.writer():
            report.purchases_recorded += record_orders_bulk(snapshots)
        report.orders += len(snapshots)
        say(f"orders: {report.orders}")

    for carts in shop.history.checkout_batches(batch_size):
        with shop.database.writer():
            for cart in carts:
                report.cart_events_recorded += record_cart(cart).created
        report.checkouts += len(carts)
    say(f"checkouts: {report.checkouts}")

    report.guest_purchases_claimed = claim_linked_guest_orders(batch_size)
    say(f"guest purchases claimed: {report.guest_purchases_claimed}")
    report.cart_addresses_forgotten = forget_closed_cart_addresses(
        timezone.now() - timedelta(days=config.abandoned_max_age_days), batch_size
    )
    logger.info("Backfill finished: %s", report.as_rows())
    return report


def erase_deleted_customers(batch_size: int = 1000) -> int:
    """Erase profiles whose shop account is gone (a deletion the hooks missed)."""
    shop = get_shop()
    erased = 0
    ids = list(CustomerProfile.objects.order_by("pk").values_list("customer_id", flat=True))
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        for customer_id in sorted(set(chunk) - shop.history.existing_customer_ids(chunk)):
            with shop.database.writer():
                erase_customer(customer_id)
            erased += 1
    return erased


def claim_linked_guest_orders(batch_size: int = 500) -> int:
    """Claim guest purchases whose order the shop has since linked to an account.

    Saleor links past guest orders when an account proves the address, with a plain
    UPDATE that fires no hook and leaves ``updated_at`` alone, so the reconcile looks
    at every guest purchase, a batch at a time, and asks the shop who owns its order.
    """
    shop = get_shop()
    guest = Interaction.objects.filter(
        kind=InteractionKind.PURCHASE, customer_id__isnull=True, source_key__startswith="order:"
    )
    claimed = 0
    last = 0
    while True:
        rows = list(
            guest.filter(pk__gt=last).order_by("pk").values_list("pk", "source_key")[:batch_size]
        )
        if not rows:
            return claimed
        last = rows[-1][0]
        order_ids = sorted({key.split(":", 2)[1] for _, key in rows})
        claims = shop.history.owners_of_orders(order_ids)
        if claims:
            with shop.database.writer():
                claimed += claim_orders(claims)


def forget_closed_cart_addresses(idle_before: datetime, batch_size: int = 1000) -> int:
    """Drop the addresses of carts past the reminder window or deleted in the shop.

    Saleor deletes checkouts (``checkoutDelete``, expiry) without a hook; a cart whose
    checkout is gone will get no reminder, so its address is not kept.
    """
    shop = get_shop()
    open_with_address = CartState.objects.filter(completed_at__isnull=True).exclude(email="")
    gone: list[str] = []
    last = ""
    while True:
        tokens = list(
            open_with_address.filter(token__gt=last)
            .order_by("token")
            .values_list("token", flat=True)[:batch_size]
        )
        if not tokens:
            break
        last = tokens[-1]
        gone.extend(set(tokens) - shop.history.open_checkout_tokens(tokens))
    with shop.database.writer():
        return forget_cart_addresses(idle_before=idle_before, closed_tokens=gone)


def reconcile() -> dict:
    """Catch what hooks missed: recent orders, catalogue changes, deleted accounts.

    Runs while the plugin is active and only in a shop that keeps its own records;
    also catches up codes the shop took while the plugin was off, whenever that was.
    """
    _, active = get_shop().configuration.load()
    if not active:
        return {"skipped": "plugin inactive"}
    try:
        report = backfill(since=timezone.now() - RECONCILE_WINDOW)
    except ShopCapabilityMissing:
        return {"skipped": "this shop keeps no records of its own to reconcile with"}
    with get_shop().database.writer():
        redeemed = catch_up_redemptions(get_shop().vouchers.codes())
    return {**dict(report.as_rows()), "offers redeemed while the plugin was off": redeemed}

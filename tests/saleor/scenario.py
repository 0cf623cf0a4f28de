"""The shop over time: a small Saleor shop driven through its GraphQL API, and its invariants.

``Shop`` does what merchants, shoppers and Celery beat do to a running shop (history
imported with ``orderBulkCreate``, checkouts paid and completed, stock changes, a
product created, a segment voucher, a customer deleted), always through Saleor's
GraphQL with Saleor's test client, so both hooks a real checkout fires run. Beat tasks
run as the worker would run them (Celery is eager in Saleor's test settings; the
``on_commit`` callbacks a worker's commit would fire are executed).

``Invariants`` holds one method per invariant of issue 14, each reading the truth from
Saleor's own tables (orders, checkouts, stock, listings) and what the shop serves
through GraphQL. ``Ledger`` runs every invariant, keeps going after a violation (so one
broken rule does not hide the others) and reports PASS/FAIL per invariant.
"""

from __future__ import annotations

import re
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlparse

import graphene
from django.db import transaction
from django.test import TestCase

PLUGIN_PATH = "/plugins/global/saleor.personalization/graphql/"
SALEOR_PATH = "/graphql/"
RECENTLY_BOUGHT_DAYS = 30  # the Dashboard's default "Hide recent purchases (days)"
NEW_ITEM_DAYS = 30  # a product is "New in the shop" for at most this long

# GraphQL documents -----------------------------------------------------------------

ORDER_BULK_CREATE = """
mutation($orders: [OrderBulkCreateInput!]!) {
  orderBulkCreate(orders: $orders, errorPolicy: REJECT_FAILED_ROWS, stockUpdatePolicy: SKIP) {
    count results { order { id number } errors { path code message } }
  }
}"""
CHECKOUT_CREATE = """
mutation($input: CheckoutCreateInput!) {
  checkoutCreate(input: $input) { checkout { id token totalPrice { gross { amount } } }
    errors { field code message } }
}"""
CHECKOUT_ADD_PROMO = """
mutation($id: ID!, $code: String!) {
  checkoutAddPromoCode(id: $id, promoCode: $code) {
    checkout { voucherCode totalPrice { gross { amount } } } errors { field code message } }
}"""
CHECKOUT_PAYMENT = """
mutation($id: ID!, $input: PaymentInput!) {
  checkoutPaymentCreate(id: $id, input: $input) { payment { id } errors { field code message } }
}"""
CHECKOUT_COMPLETE = """
mutation($id: ID!) {
  checkoutComplete(id: $id) {
    order {
      id number voucherCode
      total { gross { amount } } undiscountedTotal { gross { amount } }
    }
    errors { field code message } }
}"""
CHECKOUT_TOTAL = "query($id: ID!) { checkout(id: $id) { totalPrice { gross { amount } } } }"
CHECKOUT_LINES_DELETE = """
mutation($id: ID!, $lines: [ID!]!) {
  checkoutLinesDelete(id: $id, linesIds: $lines) { errors { field code message } }
}"""
CHECKOUT_LINES = "query($id: ID!) { checkout(id: $id) { lines { id } } }"
STOCKS_UPDATE = """
mutation($variant: ID!, $stocks: [StockInput!]!) {
  productVariantStocksUpdate(variantId: $variant, stocks: $stocks) {
    errors { field code message } }
}"""
PRODUCT_CREATE = """
mutation($input: ProductCreateInput!) {
  productCreate(input: $input) { product { id } errors { field code message } }
}"""
PRODUCT_CHANNEL_LISTING = """
mutation($id: ID!, $input: ProductChannelListingUpdateInput!) {
  productChannelListingUpdate(id: $id, input: $input) { errors { field code message } }
}"""
VARIANT_CREATE = """
mutation($input: ProductVariantCreateInput!) {
  productVariantCreate(input: $input) { productVariant { id } errors { field code message } }
}"""
VARIANT_CHANNEL_LISTING = """
mutation($id: ID!, $input: [ProductVariantChannelListingAddInput!]!) {
  productVariantChannelListingUpdate(id: $id, input: $input) { errors { field code message } }
}"""
VOUCHER_CREATE = """
mutation($input: VoucherInput!) {
  voucherCreate(input: $input) { voucher { id } errors { field code message } }
}"""
VOUCHER_CHANNEL_LISTING = """
mutation($id: ID!, $input: VoucherChannelListingInput!) {
  voucherChannelListingUpdate(id: $id, input: $input) { errors { field code message } }
}"""
UPDATE_METADATA = """
mutation($id: ID!, $input: [MetadataInput!]!) {
  updateMetadata(id: $id, input: $input) { errors { field code message } }
}"""
CUSTOMER_DELETE = """
mutation($id: ID!) { customerDelete(id: $id) { errors { field code message } } }
"""
CONSENT = "mutation { marketingConsentUpdate(granted: true) { granted } }"

LIST_FIELDS = "items { product { id name } reason source }"


def gid(kind: str, pk) -> str:
    return graphene.Node.to_global_id(kind, pk)


def pk_of(global_id: str) -> int:
    return int(graphene.Node.from_global_id(global_id)[1])


def post(client, query: str, variables: dict | None = None, path: str = SALEOR_PATH) -> dict:
    """One GraphQL request as the storefront or Dashboard sends it (commit callbacks run)."""
    client.api_path = path
    response = client.post_graphql(query, variables or {})
    body = response.json()
    body["_status"] = response.status_code
    return body


def data_of(body: dict, field_name: str) -> dict:
    """The payload of a mutation that must succeed (the scenario's own steps)."""
    assert body.get("data"), body
    assert body["data"].get(field_name) is not None, body
    payload = body["data"][field_name]
    assert not payload.get("errors"), body
    return payload


def run_task(task, **kwargs):
    """Run a beat task as a worker does: in its own unit of work, commit callbacks fired."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return task.apply(kwargs=kwargs).get()


# The shop --------------------------------------------------------------------------


@dataclass
class Customer:
    user: object
    client: object
    country: str
    favourite: str  # category name, or "outsider" for the customer no segment offer targets
    address: dict  # GraphQL AddressInput in the customer's country


@dataclass
class LiveOrder:
    customer_id: int
    order_pk: object
    placed_at: datetime
    product_ids: list[int]


@dataclass
class Shop:
    """The shop's objects and the clients of everyone who uses it."""

    channel: object
    warehouse: object
    staff: object  # ApiClient of a staff member with the permissions the scenario needs
    anonymous: object
    address: dict  # a valid GraphQL AddressInput
    categories: dict = field(default_factory=dict)  # name -> Category
    products: list = field(default_factory=list)  # Saleor Products, in creation order
    customers: list[Customer] = field(default_factory=list)
    guests: list[str] = field(default_factory=list)
    live_orders: list[LiveOrder] = field(default_factory=list)
    recovered_orders: list = field(default_factory=list)  # (order pk, gross total)
    deleted_customers: list[int] = field(default_factory=list)
    campaign_voucher: object = None
    base_code: str = ""

    # Catalogue -------------------------------------------------------------------

    def variant_of(self, product):
        return product.variants.order_by("pk").first()

    def set_stock(self, product, quantity: int) -> None:
        body = post(
            self.staff,
            STOCKS_UPDATE,
            {
                "variant": gid("ProductVariant", self.variant_of(product).pk),
                "stocks": [
                    {"warehouse": gid("Warehouse", self.warehouse.pk), "quantity": quantity}
                ],
            },
        )
        data_of(body, "productVariantStocksUpdate")

    def set_published(self, product, published: bool) -> None:
        body = post(
            self.staff,
            PRODUCT_CHANNEL_LISTING,
            {
                "id": gid("Product", product.pk),
                "input": {
                    "updateChannels": [
                        {
                            "channelId": gid("Channel", self.channel.pk),
                            "isPublished": published,
                            "visibleInListings": published,
                            "isAvailableForPurchase": published,
                        }
                    ]
                },
            },
        )
        data_of(body, "productChannelListingUpdate")

    def create_product(self, name: str, category, product_type, price: Decimal):
        """productCreate, its channel listing, a variant with price and stock: as the Dashboard."""
        from saleor.product.models import Product

        created = data_of(
            post(
                self.staff,
                PRODUCT_CREATE,
                {
                    "input": {
                        "name": name,
                        "productType": gid("ProductType", product_type.pk),
                        "category": gid("Category", category.pk),
                    }
                },
            ),
            "productCreate",
        )
        product_id = created["product"]["id"]
        self.set_published(Product.objects.get(pk=pk_of(product_id)), True)
        variant = data_of(
            post(
                self.staff,
                VARIANT_CREATE,
                {
                    "input": {
                        "product": product_id,
                        "sku": f"sku-{pk_of(product_id)}",
                        "attributes": [],
                        "trackInventory": True,
                        "stocks": [
                            {"warehouse": gid("Warehouse", self.warehouse.pk), "quantity": 500}
                        ],
                    }
                },
            ),
            "productVariantCreate",
        )["productVariant"]
        data_of(
            post(
                self.staff,
                VARIANT_CHANNEL_LISTING,
                {
                    "id": variant["id"],
                    "input": [{"channelId": gid("Channel", self.channel.pk), "price": str(price)}],
                },
            ),
            "productVariantChannelListingUpdate",
        )
        product = Product.objects.get(pk=pk_of(product_id))
        self.products.append(product)
        return product

    # Orders ----------------------------------------------------------------------

    def bulk_import(self, orders: list[dict]) -> int:
        """History through ``orderBulkCreate`` (50 per request, Saleor's limit)."""
        count = 0
        for start in range(0, len(orders), 50):
            body = post(self.staff, ORDER_BULK_CREATE, {"orders": orders[start : start + 50]})
            payload = body["data"]["orderBulkCreate"]
            errors = [r["errors"] for r in payload["results"] if r["errors"]]
            assert not errors, errors[:3]
            count += payload["count"]
        return count

    def bulk_order(
        self, *, user=None, email="", address=None, products, created_at: datetime
    ) -> dict:
        lines = []
        for product in products:
            price = self.variant_of(product).channel_listings.get(channel=self.channel).price_amount
            money = {"gross": str(price), "net": str(price)}
            lines.append(
                {
                    "variantId": gid("ProductVariant", self.variant_of(product).pk),
                    "createdAt": created_at.isoformat(),
                    "productName": product.name,
                    "variantName": "",
                    "isShippingRequired": False,
                    "isGiftCard": False,
                    "quantity": 1,
                    "totalPrice": money,
                    "undiscountedTotalPrice": money,
                    "warehouse": gid("Warehouse", self.warehouse.pk),
                    "taxClassId": gid("TaxClass", product.tax_class_id),
                    "taxRate": 0,
                }
            )
        return {
            "channel": self.channel.slug,
            "createdAt": created_at.isoformat(),
            "status": "UNFULFILLED",
            "user": {"id": gid("User", user.pk)} if user else {"email": email},
            "billingAddress": address or self.address,
            "currency": self.channel.currency_code,
            "languageCode": "EN",
            "lines": lines,
        }

    def open_checkout(self, client, email: str, products, address=None) -> dict:
        checkout = data_of(
            post(
                client,
                CHECKOUT_CREATE,
                {
                    "input": {
                        "channel": self.channel.slug,
                        "email": email,
                        "billingAddress": address or self.address,
                        "lines": [
                            {
                                "quantity": 1,
                                "variantId": gid("ProductVariant", self.variant_of(p).pk),
                            }
                            for p in products
                        ],
                    }
                },
            ),
            "checkoutCreate",
        )["checkout"]
        return checkout

    def pay_and_complete(self, client, checkout_id: str) -> dict:
        """Pay the whole total with Saleor's dummy gateway, then ``checkoutComplete``.

        A paid ``checkoutComplete`` fires both ``order_created`` and ``order_fully_paid``.
        """
        total = post(client, CHECKOUT_TOTAL, {"id": checkout_id})["data"]["checkout"]
        amount = total["totalPrice"]["gross"]["amount"]
        data_of(
            post(
                client,
                CHECKOUT_PAYMENT,
                {
                    "id": checkout_id,
                    "input": {
                        "gateway": "mirumee.payments.dummy",
                        "token": "fully-charged",
                        "amount": amount,
                    },
                },
            ),
            "checkoutPayment" + "Create",
        )
        return post(client, CHECKOUT_COMPLETE, {"id": checkout_id})

    def place_order(self, customer: Customer, products, now: datetime) -> LiveOrder:
        checkout = self.open_checkout(
            customer.client, customer.user.email, products, customer.address
        )
        body = self.pay_and_complete(customer.client, checkout["id"])
        order = data_of(body, "checkoutComplete")["order"]
        placed = LiveOrder(
            customer_id=customer.user.pk,
            order_pk=graphene.Node.from_global_id(order["id"])[1],
            placed_at=now,
            product_ids=[p.pk for p in products],
        )
        self.live_orders.append(placed)
        return placed

    def empty_checkout(self, client, checkout_id: str) -> None:
        lines = post(client, CHECKOUT_LINES, {"id": checkout_id})["data"]["checkout"]["lines"]
        if lines:
            data_of(
                post(
                    client,
                    CHECKOUT_LINES_DELETE,
                    {"id": checkout_id, "lines": [line["id"] for line in lines]},
                ),
                "checkoutLinesDelete",
            )

    # Campaign ----------------------------------------------------------------------

    def create_segment_voucher(self, segment: str, percent: int, base_code: str):
        """A Dashboard voucher (Saleor requires a code) targeted at a segment by metadata."""
        from saleor.discount.models import Voucher

        voucher_id = data_of(
            post(
                self.staff,
                VOUCHER_CREATE,
                {
                    "input": {
                        "name": f"{percent}% for {segment}",
                        "type": "ENTIRE_ORDER",
                        "discountValueType": "PERCENTAGE",
                        "addCodes": [base_code],
                    }
                },
            ),
            "voucherCreate",
        )["voucher"]["id"]
        data_of(
            post(
                self.staff,
                VOUCHER_CHANNEL_LISTING,
                {
                    "id": voucher_id,
                    "input": {
                        "addChannels": [
                            {"channelId": gid("Channel", self.channel.pk), "discountValue": percent}
                        ]
                    },
                },
            ),
            "voucherChannelListingUpdate",
        )
        data_of(
            post(
                self.staff,
                UPDATE_METADATA,
                {"id": voucher_id, "input": [{"key": "personalization.segment", "value": segment}]},
            ),
            "updateMetadata",
        )
        self.campaign_voucher = Voucher.objects.get(pk=pk_of(voucher_id))
        self.base_code = base_code
        return self.campaign_voucher

    def try_code(self, client, email: str, code: str) -> bool:
        """Does ``code`` give this shopper a discounted order? The checkout is emptied after."""
        checkout = self.open_checkout(client, email, self.products[:1])
        added = post(client, CHECKOUT_ADD_PROMO, {"id": checkout["id"], "code": code})
        if added["data"]["checkoutAddPromoCode"]["errors"]:
            self.empty_checkout(client, checkout["id"])
            return False
        body = self.pay_and_complete(client, checkout["id"])
        payload = body["data"]["checkoutComplete"] if body.get("data") else None
        order = payload and payload["order"]
        if not order:
            self.empty_checkout(client, checkout["id"])
            return False
        return Decimal(str(order["total"]["gross"]["amount"])) < Decimal(
            str(order["undiscountedTotal"]["gross"]["amount"])
        )

    # People ------------------------------------------------------------------------

    def delete_customer(self, customer: Customer) -> None:
        data_of(
            post(self.staff, CUSTOMER_DELETE, {"id": gid("User", customer.user.pk)}),
            "customerDelete",
        )
        self.customers.remove(customer)
        self.deleted_customers.append(customer.user.pk)

    def refresh_tokens(self) -> None:
        """Simulated time moved: clients sign in again (access tokens live minutes)."""
        for client in [self.staff, *(c.client for c in self.customers)]:
            client.token = None


# Truth from Saleor's own tables ---------------------------------------------------------


class Truth:
    """What is true of the shop, read from Saleor (never from the plugin's tables)."""

    def __init__(self, shop: Shop, now: datetime):
        from saleor.checkout.models import Checkout
        from saleor.order.models import OrderLine
        from saleor.product.models import Product, ProductChannelListing
        from saleor.warehouse.models import Stock

        self.now = now
        channel = shop.channel
        self.names = dict(Product.objects.values_list("pk", "name"))
        self.created = dict(Product.objects.values_list("pk", "created_at"))
        self.categories = dict(Product.objects.values_list("pk", "category_id"))
        self.visible = set(
            ProductChannelListing.objects.filter(
                channel=channel,
                is_published=True,
                visible_in_listings=True,
                available_for_purchase_at__lte=now,
            ).values_list("product_id", flat=True)
        )
        self.in_stock = {
            stock.product_variant.product_id
            for stock in Stock.objects.filter(
                warehouse__channels=channel, quantity__gt=0
            ).select_related("product_variant")
            if stock.quantity - stock.quantity_allocated > 0
        }
        # Purchases per customer (by account, and by the account's email for guest orders).
        emails = {c.user.email.lower(): c.user.pk for c in shop.customers}
        self.bought: dict[int, dict[int, datetime]] = defaultdict(dict)
        self.orders_of: dict[tuple[int, int], set] = defaultdict(set)
        lines = OrderLine.objects.exclude(order__status="draft").values_list(
            "order__user_id",
            "order__user_email",
            "order_id",
            "variant__product_id",
            "order__created_at",
        )
        for user_id, email, order_id, product_id, created_at in lines:
            customer = user_id or emails.get((email or "").lower())
            if customer is None or product_id is None:
                continue
            last = self.bought[customer].get(product_id)
            if last is None or created_at > last:
                self.bought[customer][product_id] = created_at
            self.orders_of[(customer, product_id)].add(order_id)
        # "Products customers reorder": anyone bought it in two orders (none in this shop's
        # data by construction, so the recent-purchase rule applies to every product).
        self.reordered = {
            product for (_, product), orders in self.orders_of.items() if len(orders) > 1
        }
        self.carts: dict[int, set[int]] = defaultdict(set)
        for checkout in Checkout.objects.prefetch_related("lines__variant"):
            owner = checkout.user_id or emails.get((checkout.email or "").lower())
            if owner:
                self.carts[owner].update(line.variant.product_id for line in checkout.lines.all())
        self.countries = {c.user.pk: {c.country} for c in shop.customers}

    def recently_bought(self, customer_id: int) -> set[int]:
        since = self.now - timedelta(days=RECENTLY_BOUGHT_DAYS)
        return {
            product
            for product, when in self.bought.get(customer_id, {}).items()
            if when >= since and product not in self.reordered
        }


# Invariants -------------------------------------------------------------------------------

REASON_PATTERNS = (
    ("bought_before", re.compile(r"^You bought this before$")),
    ("because_bought", re.compile(r"^Because you bought (?P<name>.+)$")),
    ("because_added", re.compile(r"^Because you added (?P<name>.+) to your cart$")),
    ("often_with", re.compile(r"^Often bought with (?P<name>.+)$")),
    ("similar_to", re.compile(r"^Similar to (?P<name>.+)$")),
    ("popular_in", re.compile(r"^Popular in (?P<country>[A-Z]{2})$")),
    ("new", re.compile(r"^New in the shop$")),
    ("always", re.compile(r"^(Trending now|Bestseller|Picked for you|On this page)$")),
)


def reason_violation(
    reason: str, product_id: int, customer_id: int | None, truth: Truth, anchors: set[str]
) -> str | None:
    """Why ``reason`` is not true of this shopper, or None when it is.

    ``anchors``: names of the products the page is about (the product page's product,
    the cart's products) which "Similar to" / "Often bought with" may name.
    """
    bought = truth.bought.get(customer_id, {}) if customer_id else {}
    bought_names = {truth.names.get(p) for p in bought}
    for kind, pattern in REASON_PATTERNS:
        match = pattern.match(reason or "")
        if not match:
            continue
        if kind == "bought_before":
            return None if product_id in bought else "the shopper never bought it"
        if kind == "because_bought":
            return None if match["name"] in bought_names else "the shopper never bought that"
        if kind == "because_added":
            # A session's cart add: still in one of the shopper's carts, or bought since.
            carted = truth.carts.get(customer_id, set()) if customer_id else set()
            carted_names = {truth.names.get(p) for p in carted}
            return (
                None
                if match["name"] in carted_names | bought_names
                else "the shopper never had that in a cart"
            )
        if kind in ("often_with", "similar_to"):
            return (
                None
                if match["name"] in anchors | bought_names
                else "names a product that is neither on the page, in the cart nor bought"
            )
        if kind == "popular_in":
            countries = truth.countries.get(customer_id, set()) if customer_id else set()
            return None if match["country"] in countries else "not the shopper's country"
        if kind == "new":
            created = truth.created.get(product_id)
            fresh = created and truth.now - created <= timedelta(days=NEW_ITEM_DAYS)
            return None if fresh else "the product is not new"
        return None
    return "not a reason the README lists"


class Violation(AssertionError):
    pass


@dataclass
class Ledger:
    """Runs every invariant at every check point; remembers what each found where.

    A violated invariant does not stop the story: the report shows, per invariant, PASS
    or FAIL with, for each failing check point, how many violations and the first two.
    """

    names: list[str] = field(default_factory=list)
    failures: dict[str, list[tuple[str, int, list[str]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    runs: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def check(self, name: str, when: str, function: Callable[[], Iterable[str] | None]) -> None:
        if name not in self.names:
            self.names.append(name)
        self.runs[name] += 1
        try:
            problems = list(function() or [])
        except Exception as error:  # an invariant that cannot even be evaluated fails
            problems = [f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=4)}"]
        if problems:
            self.failures[name].append((when, len(problems), problems[:2]))

    def report(self, check_points: int = 8) -> str:
        rows = []
        for name in self.names:
            failures = self.failures.get(name, [])
            status = "FAIL" if failures else "PASS"
            rows.append(
                f"{status}  {name}  (failed at {len(failures)} of {self.runs[name]} check points)"
            )
            for when, count, first in failures[:check_points]:
                rows.append(f"        [{when}] {count} finding(s), first:")
                rows.extend(f"            {line}" for line in first)
            if len(failures) > check_points:
                rows.append(f"        ... and {len(failures) - check_points} more check points")
        return "\n".join(rows)

    @property
    def failed(self) -> list[str]:
        return [name for name in self.names if self.failures.get(name)]


def served(items: list[dict]) -> list[tuple[int, str, str]]:
    return [
        (pk_of(i["product"]["id"]), i.get("reason") or "", i.get("source") or "") for i in items
    ]


RULES = (
    "unpublished",  # not published, not visible in listings or not purchasable in the channel
    "out_of_stock",
    "in_cart",
    "recently_bought",
)


def rule_breaches(
    label: str, entries: list[tuple[int, str, str]], customer_id: int | None, truth: Truth
) -> dict[str, list[str]]:
    """The README's rules for every list a shopper sees, product by product, per rule."""
    breaches: dict[str, list[str]] = {rule: [] for rule in RULES}
    cart = truth.carts.get(customer_id, set()) if customer_id else set()
    recent = truth.recently_bought(customer_id) if customer_id else set()
    for product_id, _reason, source in entries:
        name = f"{label}: {truth.names.get(product_id, product_id)} ({product_id}, {source})"
        if product_id not in truth.visible:
            breaches["unpublished"].append(f"{name} is not published/visible/purchasable")
        if product_id not in truth.in_stock:
            breaches["out_of_stock"].append(f"{name} is out of stock")
        if product_id in cart:
            breaches["in_cart"].append(f"{name} is in the shopper's cart")
        if product_id in recent:
            breaches["recently_bought"].append(
                f"{name} was bought in the last {RECENTLY_BOUGHT_DAYS} days"
            )
    return breaches


def by_field(problems: list[str]) -> list[str]:
    """One line per GraphQL field (``personalizedProducts for x: ...``) with a count."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        grouped[problem.split(" ", 1)[0]].append(problem)
    return [f"{name}: {len(items)}, e.g. {items[0]}" for name, items in grouped.items()]


def reason_problems(
    label: str,
    entries: list[tuple[int, str, str]],
    customer_id: int | None,
    truth: Truth,
    *,
    anchors: set[str] = frozenset(),
) -> list[str]:
    problems = []
    for product_id, reason, _source in entries:
        why = reason_violation(reason, product_id, customer_id, truth, anchors)
        if why:
            problems.append(
                f"{label}: {truth.names.get(product_id, product_id)} — {reason!r}: {why}"
            )
    return problems


def message_id_problems(messages) -> list[str]:
    problems = []
    for message in messages:
        # The raw header: the parsed one hides a stray ">".
        raw = {k.lower(): v for k, v in message.raw_items()}
        message_id = str(raw.get("message-id", "")).strip()
        if not re.fullmatch(r"<[^<>\s@]+@[^<>\s@]+>", message_id):
            problems.append(f"malformed Message-ID {message_id!r} ({message['Subject']!r})")
        html = next((p for p in message.walk() if p.get_content_type() == "text/html"), None)
        if html is None or not html.get_payload(decode=True).strip():
            problems.append(f"empty HTML part in {message['Subject']!r}")
    return problems


def html_of(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode()


def click_targets(client, message) -> list[str]:
    """Where each tracked link of an email leads (following the plugin's click redirect)."""
    targets = []
    for url in re.findall(r'href="([^"]+)"', html_of(message)):
        url = url.replace("&amp;", "&")
        if "/email/click/" not in url:
            continue
        parsed = urlparse(url)
        response = client.get(parsed.path + (f"?{parsed.query}" if parsed.query else ""))
        targets.append(response.get("Location", f"<{response.status_code}>"))
    return targets


def renamed_plugin_tables():
    """Context: every table of the plugin unavailable (renamed), undone on exit.

    Runs inside a savepoint of the test's transaction, so whatever Saleor or the plugin
    does meanwhile (an aborted transaction included) is rolled back with the rename.
    """
    from contextlib import contextmanager

    from django.db import connection

    @contextmanager
    def renamed():
        class Undo(Exception):
            pass

        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                        "AND tablename LIKE 'saleor_personalization_%%'"
                    )
                    tables = [row[0] for row in cursor.fetchall()]
                    for table in tables:
                        away = table.replace("saleor_personalization_", "sp_away_")
                        cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{away}"')
                yield tables
                raise Undo
        except Undo:
            pass

    return renamed()

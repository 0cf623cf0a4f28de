"""How soon a new product has neighbours on a running shop, after ``productCreate``.

    make benchmark-new-product API=http://127.0.0.1:8000/graphql/ \\
        STAFF_EMAIL=admin@example.com STAFF_PASSWORD=...

Runs against a running Saleor with the plugin active, a trained model, and a Celery
worker consuming the plugin's queues (as README's "Install into Saleor 3.23" sets it
up): nothing here imports Saleor or the plugin. For each of ``--products`` products it
does what a merchant's Dashboard does, over Saleor's GraphQL with a staff token:

1. ``productCreate`` with the name, category and product type of an existing product
   (a variation of it, so the model has something to relate it to); the clock starts
   when Saleor answers;
2. publishes it in the channel and gives it a variant with a price and stock, as a
   product must have before a storefront may show it;
3. asks the storefront's ``similarProducts(product: <new one>)`` every half second until
   it answers with products: the new product's neighbours, from its features and the
   live model, placed by the worker (``product_created`` hook -> catalogue sync ->
   neighbour placement), no training in between;
4. also notes when the new product appears in the similar list of the product it was
   made from, then deletes the product.

Prints each product's seconds and the median and slowest; target (issue 13): a new
product has neighbours within a minute of ``productCreate``.
"""

import argparse
import statistics
import sys
import time
import uuid
from urllib.parse import urljoin

import requests

POLL_SECONDS = 0.5
PLUGIN_PATH = "/plugins/global/saleor.personalization/graphql/"


class Shop:
    def __init__(self, api: str, storefront: str, email: str, password: str, channel: str):
        self.api, self.storefront, self.channel = api, storefront, channel
        self.token = ""
        self.token = self.call(
            """mutation($e: String!, $p: String!) {
              tokenCreate(email: $e, password: $p) { token errors { field message } } }""",
            {"e": email, "p": password},
        )["tokenCreate"]["token"]
        if not self.token:
            sys.exit(f"could not sign in as {email}: check STAFF_EMAIL / STAFF_PASSWORD")

    def call(self, query: str, variables: dict | None = None, staff: bool = True) -> dict:
        """Staff calls go to Saleor's API, the storefront's (no token) to the plugin's."""
        headers = {"Authorization": f"Bearer {self.token}"} if staff and self.token else {}
        response = requests.post(
            self.api if staff else self.storefront,
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=60,
        )
        body = response.json()
        if body.get("errors"):
            sys.exit(f"GraphQL error: {body['errors']}")
        data = body["data"]
        for payload in data.values():
            if isinstance(payload, dict) and payload.get("errors"):
                sys.exit(f"mutation error: {payload['errors']}")
        return data

    def templates(self, count: int) -> list[dict]:
        """Products with a similar list (known to the model), to make variations of.

        Only of product types without required attributes: the variation is created with
        none (a merchant would fill them in; the benchmark has no values to give)."""
        found = self.call(
            """query($c: String!) { products(first: 100, channel: $c) { edges { node {
              id name category { id }
              productType { id hasVariants productAttributes { valueRequired }
                variantAttributes { valueRequired } }
              variants { id } } } } }""",
            {"c": self.channel},
        )["products"]["edges"]
        out = []
        for edge in found:
            node = edge["node"]
            kind = node["productType"]
            required = any(
                a["valueRequired"]
                for a in (kind["productAttributes"] or []) + (kind["variantAttributes"] or [])
            )
            if node["category"] and not required and self.similar(node["id"]):
                out.append(node)
            if len(out) == count:
                break
        return out

    def similar(self, product_id: str) -> list[str]:
        data = self.call(
            """query($p: ID!, $c: String!) { similarProducts(product: $p, channel: $c, first: 20)
              { items { product { id } } } }""",
            {"p": product_id, "c": self.channel},
            staff=False,
        )
        return [item["product"]["id"] for item in data["similarProducts"]["items"]]

    def create_like(self, template: dict) -> str:
        name = f"{template['name']} (new {uuid.uuid4().hex[:6]})"
        return self.call(
            """mutation($i: ProductCreateInput!) {
              productCreate(input: $i) { product { id } errors { field message } } }""",
            {
                "i": {
                    "name": name,
                    "category": template["category"]["id"],
                    "productType": template["productType"]["id"],
                }
            },
        )["productCreate"]["product"]["id"]

    def make_sellable(self, product_id: str) -> None:
        channel_id = self.call(
            "query($c: String!) { channel(slug: $c) { id } }", {"c": self.channel}
        )["channel"]["id"]
        warehouse = self.call("{ warehouses(first: 1) { edges { node { id } } } }")["warehouses"][
            "edges"
        ][0]["node"]["id"]
        self.call(
            """mutation($p: ID!, $i: ProductChannelListingUpdateInput!) {
              productChannelListingUpdate(id: $p, input: $i) { errors { field message } } }""",
            {
                "p": product_id,
                "i": {
                    "updateChannels": [
                        {
                            "channelId": channel_id,
                            "isPublished": True,
                            "visibleInListings": True,
                            "isAvailableForPurchase": True,
                        }
                    ]
                },
            },
        )
        variant = self.call(
            """mutation($i: ProductVariantCreateInput!) {
              productVariantCreate(input: $i) {
                productVariant { id } errors { field message } } }""",
            {
                "i": {
                    "product": product_id,
                    "sku": f"bench-{uuid.uuid4().hex[:10]}",
                    "attributes": [],
                    "stocks": [{"warehouse": warehouse, "quantity": 50}],
                }
            },
        )["productVariantCreate"]["productVariant"]["id"]
        self.call(
            """mutation($v: ID!, $i: [ProductVariantChannelListingAddInput!]!) {
              productVariantChannelListingUpdate(id: $v, input: $i) {
                errors { field message } } }""",
            {"v": variant, "i": [{"channelId": channel_id, "price": "12.50"}]},
        )

    def delete(self, product_id: str) -> None:
        self.call(
            "mutation($p: ID!) { productDelete(id: $p) { errors { field message } } }",
            {"p": product_id},
        )


def measure(shop: Shop, template: dict, timeout: float) -> tuple[float | None, float | None]:
    product = shop.create_like(template)
    created = time.monotonic()
    try:
        shop.make_sellable(product)
        own = joined = None
        while time.monotonic() - created < timeout and (own is None or joined is None):
            elapsed = time.monotonic() - created
            if own is None and shop.similar(product):
                own = elapsed
            if joined is None and product in shop.similar(template["id"]):
                joined = elapsed
            time.sleep(POLL_SECONDS)
        return own, joined
    finally:
        shop.delete(product)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000/graphql/")
    parser.add_argument(
        "--storefront",
        default=None,
        help="the personalization endpoint (default: the plugin's URL on --api's host)",
    )
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--channel", default="default-channel")
    parser.add_argument("--products", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    storefront = args.storefront or urljoin(args.api, PLUGIN_PATH)
    shop = Shop(args.api, storefront, args.email, args.password, args.channel)
    templates = shop.templates(args.products)
    if not templates:
        sys.exit(
            "no product in the channel has a similar list yet: train a model first "
            "(saleor-personalization train, or the Dashboard's training)"
        )
    print(f"{len(templates)} new products, each a variation of a product the model knows")
    own_times, joined_times = [], []
    for template in templates:
        own, joined = measure(shop, template, args.timeout)
        show = [
            f"{v:.1f} s" if v is not None else f"not within {args.timeout:.0f} s"
            for v in (own, joined)
        ]
        print(
            f"  like {template['name']!r}: its own similar list {show[0]}; "
            f"in {template['name']!r}'s similar list {show[1]}"
        )
        own_times.append(own if own is not None else float("inf"))
        if joined is not None:
            joined_times.append(joined)
    median = statistics.median(own_times)
    slowest = max(own_times)
    print(
        f"new product has neighbours (its similarProducts answers) after productCreate: "
        f"median {median:.1f} s, slowest {slowest:.1f} s "
        f"(target <= 60 s: {'met' if slowest <= 60 else 'NOT met'})"
    )
    if joined_times:
        print(
            f"joined the similar list of the product it resembles in {len(joined_times)} of "
            f"{len(templates)}: median {statistics.median(joined_times):.1f} s"
        )


if __name__ == "__main__":
    main()

"""personalizedProducts(first: 20) on the plugin endpoint vs Saleor's products(first: 20).

Runs inside a Saleor 3.23 environment with Saleor's fixtures:

    make benchmark-graphql SALEOR_DIR=/path/to/saleor

Same process, channel, customer and product fields; the two requests alternate so
machine noise hits both alike, and the ratio of medians is printed (target <= 1.2x).
The personalized side reads the customer's precomputed list (one indexed read), the
channel state of its products, and loads them through Saleor's product resolver.
"""

import os
import statistics
import time

import pytest
from django.utils import timezone

FIELDS = """
  id name slug
  pricing { priceRange { start { gross { amount currency } } } }
  thumbnail(size: 256) { url }
  category { name }
"""
SALEOR_QUERY = f"""query($channel: String!) {{
  products(first: 20, channel: $channel) {{ edges {{ node {{ {FIELDS} }} }} }}
}}"""
PERSONALIZED_QUERY = f"""query($channel: String!) {{
  personalizedProducts(first: 20, channel: $channel) {{
    items {{ product {{ {FIELDS} }} reason recommendationId }}
  }}
}}"""
PLUGIN_PATH = "/plugins/global/saleor.personalization/graphql/"
ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "200"))
WARMUP = 10
PRODUCTS = 40


def _catalogue(product, channel, warehouse):
    from saleor.product.models import (
        Product,
        ProductChannelListing,
        ProductVariant,
        ProductVariantChannelListing,
    )
    from saleor.warehouse.models import Stock

    now = timezone.now()
    products = []
    for index in range(PRODUCTS):
        item = Product.objects.create(
            name=f"Bench product {index}",
            slug=f"bench-product-{index}",
            product_type=product.product_type,
            category=product.category,
        )
        ProductChannelListing.objects.create(
            product=item,
            channel=channel,
            is_published=True,
            visible_in_listings=True,
            available_for_purchase_at=now,
            discounted_price_amount=10 + index,
            currency=channel.currency_code,
        )
        variant = ProductVariant.objects.create(product=item, sku=f"bench-{index}")
        ProductVariantChannelListing.objects.create(
            variant=variant,
            channel=channel,
            price_amount=10 + index,
            discounted_price_amount=10 + index,
            currency=channel.currency_code,
        )
        Stock.objects.create(warehouse=warehouse, product_variant=variant, quantity=100)
        products.append(item)
    return products


@pytest.mark.django_db
def bench_personalized_products(
    personalization_config, user_api_client, product, channel_USD, warehouse
):
    from saleor_personalization.models import (
        ListEntry,
        ListKey,
        ListKind,
        RecommendationList,
        SubjectType,
    )
    from saleor_personalization.saleor_adapter.backfill import run_backfill

    products = _catalogue(product, channel_USD, warehouse)
    run_backfill()
    RecommendationList.build(
        ListKey.of(ListKind.PERSONAL, SubjectType.CUSTOMER, user_api_client.user.pk),
        [
            ListEntry(p.pk, 1.0 - k / 100, "Because you bought X")
            for k, p in enumerate(reversed(products))
        ],
        None,
        timezone.now(),
    ).save()
    variables = {"channel": channel_USD.slug}
    api_path = user_api_client.api_path

    def timed(personalized: bool) -> float:
        user_api_client.api_path = PLUGIN_PATH if personalized else api_path
        query = PERSONALIZED_QUERY if personalized else SALEOR_QUERY
        start = time.perf_counter()
        response = user_api_client.post({"query": query, "variables": variables})
        elapsed = time.perf_counter() - start
        body = response.json()
        assert "errors" not in body, body
        found = (
            body["data"]["personalizedProducts"]["items"]
            if personalized
            else body["data"]["products"]["edges"]
        )
        assert len(found) == 20, body
        return elapsed

    samples: dict[bool, list[float]] = {True: [], False: []}
    for index in range(WARMUP + ITERATIONS):
        for personalized in (index % 2 == 0, index % 2 == 1):
            elapsed = timed(personalized)
            if index >= WARMUP:
                samples[personalized].append(elapsed)

    ours, theirs = statistics.median(samples[True]), statistics.median(samples[False])
    print()
    print(f"20 products with pricing, thumbnail, category; {ITERATIONS} iterations, interleaved")
    print(f"  Saleor products(first: 20) on /graphql/        median {theirs * 1000:8.2f} ms")
    print(f"  personalizedProducts(first: 20) on the plugin  median {ours * 1000:8.2f} ms")
    print(f"  ratio personalized/products                    {ours / theirs:8.3f}  (target <= 1.2)")

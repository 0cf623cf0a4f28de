"""personalizedProducts(first: 20) on the plugin endpoint vs Saleor's products(first: 20).

Runs inside a Saleor 3.23 environment with Saleor's fixtures:

    make benchmark-graphql SALEOR_DIR=/path/to/saleor

Three shoppers, each against Saleor's products(first: 20) asked by the same client, in
the same process, channel and product fields; the two requests alternate so machine
noise hits both alike, and the ratio of medians is printed (target <= 1.3x):

- a customer without a session: their precomputed list (one indexed read), the rules
  (cart, recent purchases, channel state and live stock of the candidates, categories),
  the products loaded through Saleor's product resolver;
- the same customer with a session of 20 events (views and cart adds of 10 products
  in the last hour): the session read, the neighbour rows of its products, the blend;
- an anonymous visitor (``anonymousId``) with such a session: the bestseller list
  blended with it.

``BENCH_PROFILE=1`` also prints where the personalized requests with a session spend
their time (cProfile, the plugin's functions and the SQL they run).
"""

import os
import statistics
import time
from datetime import timedelta

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
PERSONALIZED_QUERY = f"""query($channel: String!, $anonymousId: String) {{
  personalizedProducts(first: 20, channel: $channel, anonymousId: $anonymousId) {{
    items {{ product {{ {FIELDS} }} reason recommendationId }}
  }}
}}"""
PLUGIN_PATH = "/plugins/global/saleor.personalization/graphql/"
ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "200"))
PROFILE = os.environ.get("BENCH_PROFILE", "") not in ("", "0")
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


def _session(products, **who) -> None:
    """20 events in the last hour: 10 products viewed, some twice, 4 added to the cart."""
    from saleor_personalization.models import Interaction, InteractionKind

    now = timezone.now()
    events = []
    for index in range(20):
        product = products[index % 10]
        kind = InteractionKind.ADD_TO_CART if index in (3, 7, 12, 16) else InteractionKind.VIEW
        events.append(
            Interaction(
                product_id=product.pk,
                kind=kind,
                occurred_at=now - timedelta(minutes=60 - 2 * index),
                source_key=f"bench-session:{who}:{index}",
                **who,
            )
        )
    Interaction.objects.bulk_create(events)


def _lists_and_neighbours(products, customer_id: int, channel: str) -> None:
    """The customer's list, the channel's bestsellers and every product's neighbours,
    as a scoring writes them (the neighbour store keeps up to 100 per product)."""
    from saleor_personalization.models import (
        ItemNeighbours,
        ListEntry,
        ListKey,
        ListKind,
        RecommendationList,
        SubjectType,
    )

    now = timezone.now()
    for key, reason in (
        (ListKey.of(ListKind.PERSONAL, SubjectType.CUSTOMER, customer_id), "Because you bought X"),
        (ListKey(ListKind.POPULAR, channel=channel), "Bestseller"),
    ):
        entries = [ListEntry(p.pk, 1.0 - k / 100, reason) for k, p in enumerate(reversed(products))]
        RecommendationList.build(key, entries, None, now).save()
    ItemNeighbours.objects.bulk_create(
        ItemNeighbours(
            product_id=item.pk,
            neighbours=[
                [other.pk, round(1.0 / (1 + abs(i - j)), 4)]
                for j, other in enumerate(products)
                if other.pk != item.pk
            ][:100],
            generated_at=now,
        )
        for i, item in enumerate(products)
    )


def _timer(client, variables: dict, anonymous_id: str | None = None):
    """One request of either side on ``client``; returns its seconds."""
    api_path = client.api_path

    def timed(personalized: bool) -> float:
        client.api_path = PLUGIN_PATH if personalized else api_path
        query = PERSONALIZED_QUERY if personalized else SALEOR_QUERY
        asked = {**variables, "anonymousId": anonymous_id} if personalized else variables
        # Saleor's access tokens live 5 minutes; a run on a busy machine takes longer.
        # A fresh one each request, outside the timed part, for both sides alike.
        client.regenerate_access_token()
        start = time.perf_counter()
        response = client.post({"query": query, "variables": asked})
        elapsed = time.perf_counter() - start
        client.api_path = api_path
        body = response.json()
        assert "errors" not in body, body
        found = (
            body["data"]["personalizedProducts"]["items"]
            if personalized
            else body["data"]["products"]["edges"]
        )
        assert len(found) == 20, body
        return elapsed

    return timed


def _interleaved(timed) -> tuple[float, float]:
    """Medians (personalized, products) over alternating requests."""
    samples: dict[bool, list[float]] = {True: [], False: []}
    for index in range(WARMUP + ITERATIONS):
        for personalized in (index % 2 == 0, index % 2 == 1):
            elapsed = timed(personalized)
            if index >= WARMUP:
                samples[personalized].append(elapsed)
    return statistics.median(samples[True]), statistics.median(samples[False])


def _serving_median(shopper, channel: str, calls: int = 100) -> float:
    """Median seconds of the plugin's own work for one answer, without GraphQL: the
    list, the session, the rules (``serving.personalized``)."""
    from saleor_personalization.recommender import serving
    from saleor_personalization.saleor_adapter.configuration import load_configuration

    config, _ = load_configuration()
    times = []
    for _ in range(WARMUP + calls):
        start = time.perf_counter()
        assert len(serving.personalized(shopper, channel, 20, config)) == 20
        times.append(time.perf_counter() - start)
    return statistics.median(times[WARMUP:])


def _profile(timed, requests: int = 50) -> None:
    """Where personalized requests spend their time: the SQL of one, and cProfile's
    cumulative times of the plugin's functions (and Saleor's product resolvers)."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        timed(True)
    print(f"  one personalized request: {len(one)} SQL statements")
    for query in one.captured_queries:
        print(f"    {float(query['time']) * 1000:6.2f} ms  {query['sql'][:140]}")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        timed(True)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(r"saleor_personalization|graphql/product", 60)


@pytest.mark.django_db
def bench_personalized_products(
    personalization_config, user_api_client, api_client, product, channel_USD, warehouse
):
    from saleor_personalization.services.backfill import backfill as run_backfill

    products = _catalogue(product, channel_USD, warehouse)
    run_backfill()
    customer = user_api_client.user.pk
    _lists_and_neighbours(products, customer, channel_USD.slug)
    variables = {"channel": channel_USD.slug}

    rows = []
    customer_requests = _timer(user_api_client, variables)
    rows.append(("customer, no session", *_interleaved(customer_requests)))
    _session(products, customer_id=customer)
    rows.append(("customer, 20-event session", *_interleaved(customer_requests)))
    _session(products, anonymous_id="s:bench-visitor")
    visitor_requests = _timer(api_client, variables, anonymous_id="bench-visitor")
    rows.append(("anonymous, 20-event session", *_interleaved(visitor_requests)))

    print()
    print(f"20 products with pricing, thumbnail, category; {ITERATIONS} iterations, interleaved")
    print(f"  {'shopper':<30} {'personalized':>14} {'products':>12} {'ratio':>7}")
    for label, ours, theirs in rows:
        print(
            f"  {label:<30} {ours * 1000:11.2f} ms {theirs * 1000:9.2f} ms "
            f"{ours / theirs:7.3f}  (target <= 1.3)"
        )
    from saleor_personalization.recommender.serving import Shopper

    for label, shopper in (
        ("customer, 20-event session", Shopper(customer_id=customer)),
        ("anonymous, 20-event session", Shopper(anonymous_id="s:bench-visitor")),
    ):
        seconds = _serving_median(shopper, channel_USD.slug)
        print(f"  of which the plugin's serving, {label:<28} {seconds * 1000:7.2f} ms")
    if PROFILE:
        for label, requests in (
            ("customer, 20-event session", customer_requests),
            ("anonymous, 20-event session", visitor_requests),
        ):
            print(f"== profile: {label}")
            _profile(requests)

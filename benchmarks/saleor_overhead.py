"""Latency the plugin adds to Saleor's checkoutLinesAdd (target: at most 1.05x).

Runs inside a Saleor 3.23 environment with Saleor's fixtures:

    make benchmark-saleor SALEOR_DIR=/path/to/saleor

Same process, same checkout; iterations alternate plugin active / inactive so machine
noise hits both sides alike, and the ratio of medians is printed. Hooks publish to
the real Redis broker (``BENCH_BROKER_URL``) as they do in production; nothing
consumes the queue and it is purged afterwards.
"""

import os
import statistics
import time

import graphene
import pytest

LINES_ADD = """
mutation add($id: ID!, $lines: [CheckoutLineInput!]!) {
  checkoutLinesAdd(id: $id, lines: $lines) { checkout { id } errors { field message } }
}
"""
ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "150"))
WARMUP = 10


@pytest.fixture
def real_broker():
    from saleor.celeryconf import app

    previous = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
    yield app
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(app.conf.task_default_queue)
    app.conf.task_always_eager, app.conf.broker_url = previous
    app.pool.force_close_all()


@pytest.mark.django_db
def bench_checkout_lines_add(
    personalization_config, api_client, checkout_with_item, stock, real_broker
):
    from saleor.plugins.models import PluginConfiguration

    checkout_id = graphene.Node.to_global_id("Checkout", checkout_with_item.pk)
    variant_id = graphene.Node.to_global_id("ProductVariant", stock.product_variant.pk)
    stock.quantity = 1_000_000
    stock.save(update_fields=["quantity"])
    variables = {"id": checkout_id, "lines": [{"quantity": 1, "variantId": variant_id}]}

    def set_active(active: bool) -> None:
        PluginConfiguration.objects.filter(pk=personalization_config.pk).update(active=active)

    def timed() -> float:
        # Saleor caps a line at 50 units: reset it (untimed) so every add is accepted.
        checkout_with_item.lines.update(quantity=1)
        start = time.perf_counter()
        content = api_client.post_graphql(LINES_ADD, variables).json()
        elapsed = time.perf_counter() - start
        assert content["data"]["checkoutLinesAdd"]["errors"] == [], content
        return elapsed

    samples: dict[bool, list[float]] = {True: [], False: []}
    for index in range(WARMUP + ITERATIONS):
        for active in (index % 2 == 0, index % 2 == 1):
            set_active(active)
            elapsed = timed()
            if index >= WARMUP:
                samples[active].append(elapsed)

    on, off = statistics.median(samples[True]), statistics.median(samples[False])
    print()
    print(f"checkoutLinesAdd, {ITERATIONS} iterations each, interleaved")
    print(f"  plugin inactive  median {off * 1000:8.2f} ms")
    print(f"  plugin active    median {on * 1000:8.2f} ms")
    print(f"  ratio active/inactive   {on / off:8.3f}  (target <= 1.05)")

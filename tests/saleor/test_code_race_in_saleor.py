"""Two shoppers' checkouts complete at the same moment with one personal code.

Real threads, each with its own database connection, post ``checkoutComplete`` to
Saleor's GraphQL against committed data (a transactional test database), released
together by a barrier. The plugin claims the code under a row lock in
``preprocess_order_creation``, so in every round at most one order gets the code.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import threading  # noqa: E402

import graphene  # noqa: E402
import pytest  # noqa: E402
from django.db import connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import Segment, SegmentMembership, SegmentOffer  # noqa: E402
from saleor_personalization.tasks import issue_offers_task  # noqa: E402
from tests.saleor.test_offers_in_saleor import ADD_CODE, COMPLETE, zero_checkout  # noqa: E402

ROUNDS = 10


def _complete_together(user, checkout_ids: list[str]) -> list[dict]:
    from saleor.graphql.tests.fixtures import ApiClient

    barrier = threading.Barrier(len(checkout_ids))
    results: list[dict] = [{} for _ in checkout_ids]
    # Test databases and Saleor's replica mirror are set on this thread's connections
    # only; a new thread must connect to the same databases.
    databases = {alias: connections[alias].settings_dict for alias in connections}

    def run(index: int, checkout_id: str) -> None:
        for alias, settings_dict in databases.items():
            connections[alias].settings_dict = settings_dict
        try:
            client = ApiClient(user=user)
            barrier.wait(timeout=30)
            body = client.post_graphql(COMPLETE, {"id": checkout_id}).json()
            results[index] = body
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, checkout_id))
        for index, checkout_id in enumerate(checkout_ids)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_completions_with_one_personal_code_give_one_order(
    personalization_config,
    set_plugin_setting,
    voucher,
    channel_USD,
    product_price_0,
    address,
):
    from saleor.account.tests.fixtures.user import dangerously_create_test_user
    from saleor.graphql.tests.fixtures import ApiClient
    from saleor.order.models import Order

    set_plugin_setting("offer_holdout_percent", "0")
    set_plugin_setting("offer_frequency_days", "0")
    voucher.store_value_in_metadata({"personalization.segment": "racers"})
    voucher.save(update_fields=["metadata"])
    segment = Segment.objects.create(key="racers", name="Racers")

    outcomes = []
    for round_number in range(ROUNDS):
        # A new member each round gets a fresh personal code from the issuing task.
        owner = dangerously_create_test_user(f"racer{round_number}@example.com", "password")
        SegmentMembership.objects.create(
            segment=segment, customer_id=owner.pk, entered_at=timezone.now()
        )
        issue_offers_task.apply().get()
        code = SegmentOffer.objects.get(customer_id=owner.pk).code
        client = ApiClient(user=owner)
        checkout_ids = []
        for _ in range(2):
            checkout = zero_checkout(owner, channel_USD, product_price_0, address)
            checkout_id = graphene.Node.to_global_id("Checkout", checkout.pk)
            added = client.post_graphql(ADD_CODE, {"id": checkout_id, "code": code}).json()
            assert added["data"]["checkoutAddPromoCode"]["errors"] == [], added
            checkout_ids.append(checkout_id)

        results = _complete_together(owner, checkout_ids)
        orders = Order.objects.filter(voucher_code=code).count()
        refused = [
            error
            for body in results
            for error in (body.get("data") or {}).get("checkoutComplete", {}).get("errors", [])
        ]
        assert all("errors" not in body for body in results), results  # no 500s
        outcomes.append((orders, refused))
        assert orders == 1, (round_number, results)
        assert len(refused) == 1, (round_number, results)
        assert refused[0]["code"] == "VOUCHER_NOT_APPLICABLE"
    assert len(outcomes) == ROUNDS

"""Stock seen at serving: Saleor sends stock changes to webhooks, not to plugins.

A variant's stock set to zero with ``productVariantStocksUpdate`` (through Saleor's
GraphQL, as a merchant does) takes the product out of the very next list answer;
restocked, it comes back, although the synced ``ItemChannel`` still says otherwise.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import time  # noqa: E402

import graphene  # noqa: E402
import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import (  # noqa: E402
    ItemChannel,
    ListKind,
    RecommendationList,
    SubjectType,
)
from saleor_personalization.services.backfill import backfill as run_backfill  # noqa: E402
from saleor_personalization.tasks import sync_products_task  # noqa: E402

pytestmark = pytest.mark.django_db

PLUGIN_PATH = "/plugins/global/saleor.personalization/graphql/"

STOCKS_UPDATE = """
mutation Stocks($variantId: ID!, $stocks: [StockInput!]!) {
  productVariantStocksUpdate(variantId: $variantId, stocks: $stocks) {
    errors { field message }
  }
}
"""


@pytest.fixture
def shop(personalization_config, product_list, channel_USD, customer_user):
    run_backfill()
    p1, p2, p3 = (p.pk for p in product_list)
    now = timezone.now()

    def entries(products):
        return [{"product_id": p, "score": 1.0, "reason": "Picked for you"} for p in products]

    RecommendationList.objects.create(
        kind=ListKind.PERSONAL,
        subject_type=SubjectType.CUSTOMER,
        subject_id=customer_user.pk,
        entries=entries([p3, p1, p2]),
        generated_at=now,
    )
    RecommendationList.objects.create(
        kind=ListKind.SIMILAR,
        subject_type=SubjectType.PRODUCT,
        subject_id=p1,
        entries=entries([p3, p2]),
        generated_at=now,
    )
    return product_list


def _ids(body, field):
    assert "errors" not in body, body
    return [
        int(graphene.Node.from_global_id(i["product"]["id"])[1])
        for i in body["data"][field]["items"]
    ]


def test_stock_changes_reach_the_next_answer(
    shop, user_api_client, staff_api_client, permission_manage_products, warehouse, channel_USD
):
    p1, p2, p3 = shop
    slug = channel_USD.slug
    variant = p3.variants.get()
    product = graphene.Node.to_global_id("Product", p1.pk)
    queries = {
        "personalizedProducts": (
            f'personalizedProducts(channel: "{slug}") {{ items {{ product {{ id }} }} }}'
        ),
        "similarProducts": (
            f'similarProducts(product: "{product}", channel: "{slug}") '
            "{ items { product { id } } }"
        ),
        "rerankProducts": (
            'rerankProducts(products: [{}], channel: "{}") {{ items {{ product {{ id }} }} }}'
        ).format(", ".join(f'"{graphene.Node.to_global_id("Product", p.pk)}"' for p in shop), slug),
    }
    user_api_client.api_path = PLUGIN_PATH
    staff_api_client.user.user_permissions.add(permission_manage_products)

    def lists() -> dict[str, list[int]]:
        return {
            field: _ids(user_api_client.post({"query": "{ " + query + " }"}).json(), field)
            for field, query in queries.items()
        }

    def set_stock(quantity: int) -> float:
        response = staff_api_client.post_graphql(
            STOCKS_UPDATE,
            {
                "variantId": graphene.Node.to_global_id("ProductVariant", variant.pk),
                "stocks": [
                    {
                        "warehouse": graphene.Node.to_global_id("Warehouse", warehouse.pk),
                        "quantity": quantity,
                    }
                ],
            },
        )
        assert response.json()["data"]["productVariantStocksUpdate"]["errors"] == []
        return time.monotonic()

    before = lists()
    assert all(p3.pk in ids for ids in before.values()), before

    changed = set_stock(0)
    after = lists()
    seconds = time.monotonic() - changed
    for field, ids in after.items():
        assert p3.pk not in ids, (field, ids)
        assert ids, field  # the rest of the list is still served
    assert seconds < 5  # the next request, not the nightly reconcile

    # Even once the synced copy agrees it is sold out, a restock shows at once.
    sync_products_task.apply(args=[[p3.pk]]).get()
    assert not ItemChannel.objects.get(item_id=p3.pk, channel=slug).in_stock
    set_stock(5)
    assert all(p3.pk in ids for ids in lists().values())
    assert not ItemChannel.objects.get(item_id=p3.pk, channel=slug).in_stock

"""An abandoned-checkout email's prices are Saleor's, catalogue promotions included."""

from tests.saleor.requirements import require_saleor

require_saleor()

from decimal import Decimal  # noqa: E402

import graphene  # noqa: E402
import pytest  # noqa: E402

from saleor_personalization.saleor_adapter.email_content import (  # noqa: E402
    SaleorCheckoutSource,
)

pytestmark = pytest.mark.django_db

CHECKOUT_PRICES = """
query ($id: ID!) {
  checkout(id: $id) { lines { quantity unitPrice { gross { amount } } } }
}
"""
PRODUCT_PRICE = """
query ($id: ID!, $channel: String!) {
  product(id: $id, channel: $channel) {
    pricing { onSale priceRange { start { gross { amount } } } }
  }
}
"""


@pytest.fixture
def product_on_sale(checkout_with_item, catalogue_promotion):
    """The checkout's product with a running 10 % catalogue promotion, its listings
    recomputed as Saleor's promotion task does."""
    from saleor.product.models import Product
    from saleor.product.utils.variant_prices import update_discounted_prices_for_promotion

    product = checkout_with_item.lines.first().variant.product
    update_discounted_prices_for_promotion(Product.objects.filter(pk=product.pk))
    return product


def test_cart_lines_and_recommendations_show_the_promotion_price(
    checkout_with_item, product_on_sale, api_client
):
    checkout = checkout_with_item
    saleor_lines = api_client.post_graphql(
        CHECKOUT_PRICES, {"id": graphene.Node.to_global_id("Checkout", checkout.pk)}
    ).json()["data"]["checkout"]["lines"]
    saleor_unit = Decimal(str(saleor_lines[0]["unitPrice"]["gross"]["amount"]))
    listing = checkout.lines.first().variant.channel_listings.get(channel=checkout.channel)
    assert saleor_unit < listing.price_amount  # the promotion is on: a test that can fail

    content = SaleorCheckoutSource().content(str(checkout.token))
    assert [line.unit_price for line in content.lines] == [saleor_unit]

    pricing = api_client.post_graphql(
        PRODUCT_PRICE,
        {
            "id": graphene.Node.to_global_id("Product", product_on_sale.pk),
            "channel": checkout.channel.slug,
        },
    ).json()["data"]["product"]["pricing"]
    assert pricing["onSale"]
    (recommended,) = SaleorCheckoutSource().products([product_on_sale.pk], checkout.channel.slug)
    assert recommended.price == Decimal(str(pricing["priceRange"]["start"]["gross"]["amount"]))

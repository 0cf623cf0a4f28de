"""Saleor mutations produce the right events through the plugin's hooks."""

from tests.saleor.requirements import require_saleor

require_saleor()

import graphene  # noqa: E402
import pytest  # noqa: E402
from django.db import connection  # noqa: E402
from saleor.plugins.manager import get_plugins_manager  # noqa: E402

from saleor_personalization.events.identity import (  # noqa: E402
    address_digest,
    checkout_identity,
    email_identity,
)
from saleor_personalization.models import (  # noqa: E402
    CartState,
    CustomerProfile,
    Interaction,
    InteractionKind,
    ItemProfile,
)

pytestmark = pytest.mark.django_db

CHECKOUT_CREATE = """
mutation create($input: CheckoutCreateInput!) {
  checkoutCreate(input: $input) { checkout { id token } errors { field code message } }
}
"""
LINES_ADD = """
mutation add($id: ID!, $lines: [CheckoutLineInput!]!) {
  checkoutLinesAdd(id: $id, lines: $lines) { errors { field code message } }
}
"""
LINES_UPDATE = """
mutation update($id: ID!, $lines: [CheckoutLineUpdateInput!]!) {
  checkoutLinesUpdate(id: $id, lines: $lines) { errors { field code message } }
}
"""
CHECKOUT_COMPLETE = """
mutation complete($id: ID!) {
  checkoutComplete(id: $id) { order { id number } errors { field code message } }
}
"""


def _gid(kind, pk):
    return graphene.Node.to_global_id(kind, pk)


def _events(kind=None):
    qs = Interaction.objects.order_by("id")
    if kind:
        qs = qs.filter(kind=kind)
    return list(qs.values_list("kind", "product_id", "variant_id", "quantity"))


def _create_checkout(client, channel, variant, email="guest@example.com", quantity=1):
    variables = {
        "input": {
            "channel": channel.slug,
            "email": email,
            "lines": [{"quantity": quantity, "variantId": _gid("ProductVariant", variant.pk)}],
        }
    }
    data = client.post_graphql(CHECKOUT_CREATE, variables).json()["data"]["checkoutCreate"]
    assert data["errors"] == []
    return data["checkout"]


def test_checkout_create_and_line_changes_become_cart_events(
    personalization_config, api_client, stock, product_with_two_variants, channel_USD
):
    variant = stock.product_variant
    checkout = _create_checkout(api_client, channel_USD, variant)

    other = product_with_two_variants.variants.first()
    result = api_client.post_graphql(
        LINES_ADD,
        {
            "id": checkout["id"],
            "lines": [{"quantity": 2, "variantId": _gid("ProductVariant", other.pk)}],
        },
    ).json()
    assert result["data"]["checkoutLinesAdd"]["errors"] == []
    result = api_client.post_graphql(
        LINES_UPDATE,
        {
            "id": checkout["id"],
            "lines": [{"quantity": 1, "variantId": _gid("ProductVariant", other.pk)}],
        },
    ).json()
    assert result["data"]["checkoutLinesUpdate"]["errors"] == []

    assert _events(InteractionKind.ADD_TO_CART) == [
        (InteractionKind.ADD_TO_CART, variant.product_id, variant.pk, 1),
        (InteractionKind.ADD_TO_CART, other.product_id, other.pk, 2),
    ]
    assert _events(InteractionKind.REMOVE_FROM_CART) == [
        (InteractionKind.REMOVE_FROM_CART, other.product_id, other.pk, 1),
    ]
    # A guest's cart is keyed by its checkout: a typed email identifies nobody.
    anonymous = set(Interaction.objects.values_list("anonymous_id", flat=True))
    assert anonymous == {checkout_identity(checkout["token"])}
    assert CartState.objects.get(token=checkout["token"]).lines


def test_a_checkout_created_with_the_storefront_id_is_that_visitors_from_its_first_add(
    personalization_config, api_client, stock, channel_USD
):
    """Found on a running shop: checkoutCreate(input: {metadata}) left the first add
    under the checkout's id and the cart unlinked."""
    from saleor_personalization.events.identity import storefront_identity

    variant = stock.product_variant
    variables = {
        "input": {
            "channel": channel_USD.slug,
            "email": "guest@example.com",
            "lines": [{"quantity": 1, "variantId": _gid("ProductVariant", variant.pk)}],
            "metadata": [{"key": "personalization_anonymous_id", "value": "browser-new"}],
        }
    }
    data = api_client.post_graphql(CHECKOUT_CREATE, variables).json()["data"]["checkoutCreate"]
    assert data["errors"] == []
    visitor = storefront_identity("browser-new")
    added = Interaction.objects.get(kind=InteractionKind.ADD_TO_CART)
    assert (added.customer_id, added.anonymous_id) == (None, visitor)
    assert CartState.objects.get(token=data["checkout"]["token"]).anonymous_id == visitor


def test_nothing_is_recorded_while_the_plugin_is_inactive(api_client, stock, channel_USD):
    _create_checkout(api_client, channel_USD, stock.product_variant)
    assert not Interaction.objects.exists()


def test_tracking_switched_off_records_nothing(set_plugin_setting, api_client, stock, channel_USD):
    set_plugin_setting("tracking_enabled", False)
    _create_checkout(api_client, channel_USD, stock.product_variant)
    assert not Interaction.objects.exists()


def test_checkout_complete_records_purchases_and_merges_the_cart(
    personalization_config,
    user_api_client,
    checkout_with_item_total_0,
    address,
    django_capture_on_commit_callbacks,
):
    checkout = checkout_with_item_total_0
    user = user_api_client.user
    checkout.billing_address = address
    checkout.user = user
    checkout.email = user.email
    checkout.save()
    line = checkout.lines.first()
    # The fixture built the checkout with the ORM; announce it as checkoutCreate would.
    with django_capture_on_commit_callbacks(execute=True):
        get_plugins_manager(allow_replica=False).checkout_updated(checkout)
    assert CartState.objects.filter(token=str(checkout.token)).exists()

    content = user_api_client.post_graphql(
        CHECKOUT_COMPLETE, {"id": _gid("Checkout", checkout.pk)}
    ).json()
    data = content["data"]["checkoutComplete"]
    assert data["errors"] == []

    purchases = Interaction.objects.filter(kind=InteractionKind.PURCHASE)
    assert list(purchases.values_list("customer_id", "product_id", "quantity")) == [
        (user.pk, line.variant.product_id, line.quantity)
    ]
    assert purchases.get().basket_ref == str(data["order"]["number"])
    state = CartState.objects.get(token=str(checkout.token))
    assert state.completed_at is not None
    assert CustomerProfile.objects.get(customer_id=user.pk).orders_count == 1


PRODUCT_UPDATE = """
mutation update($id: ID!, $input: ProductInput!) {
  productUpdate(id: $id, input: $input) { errors { field message } }
}
"""
PRODUCT_DELETE = """
mutation delete($id: ID!) { productDelete(id: $id) { errors { field message } } }
"""


def test_product_mutations_keep_item_profiles_in_step(
    personalization_config, staff_api_client, permission_manage_products, product, channel_USD
):
    staff_api_client.user.user_permissions.add(permission_manage_products)
    product_id = _gid("Product", product.pk)
    content = staff_api_client.post_graphql(
        PRODUCT_UPDATE, {"id": product_id, "input": {"name": "Renamed teapot"}}
    ).json()
    assert content["data"]["productUpdate"]["errors"] == []
    profile = ItemProfile.objects.get(product_id=product.pk)
    assert profile.name == "Renamed teapot"
    assert profile.category_path == [product.category.name]
    assert profile.product_type == product.product_type.name
    channel = profile.channels.get(channel=channel_USD.slug)
    assert channel.is_available is True
    assert channel.price_amount is not None

    content = staff_api_client.post_graphql(PRODUCT_DELETE, {"id": product_id}).json()
    assert content["data"]["productDelete"]["errors"] == []
    assert not ItemProfile.objects.filter(product_id=product.pk).exists()


CUSTOMER_DELETE = """
mutation delete($id: ID!) { customerDelete(id: $id) { errors { field message } } }
"""


def test_customer_deletion_erases_their_behaviour(
    personalization_config,
    staff_api_client,
    permission_manage_users,
    customer_user,
    user_api_client,
    stock,
    channel_USD,
):
    _create_checkout(user_api_client, channel_USD, stock.product_variant, email=customer_user.email)
    assert Interaction.objects.filter(customer_id=customer_user.pk).exists()
    other = Interaction.objects.create(
        customer_id=customer_user.pk + 1000,
        product_id=1,
        kind=InteractionKind.VIEW,
        occurred_at=customer_user.date_joined,
        source_key="other-customer",
    )

    staff_api_client.user.user_permissions.add(permission_manage_users)
    content = staff_api_client.post_graphql(
        CUSTOMER_DELETE, {"id": _gid("User", customer_user.pk)}
    ).json()
    assert content["data"]["customerDelete"]["errors"] == []

    assert not Interaction.objects.filter(customer_id=customer_user.pk).exists()
    assert not CartState.objects.filter(customer_id=customer_user.pk).exists()
    assert not CustomerProfile.objects.filter(customer_id=customer_user.pk).exists()
    assert Interaction.objects.filter(pk=other.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_database_write_never_breaks_the_mutation(
    personalization_config, api_client, stock, channel_USD
):
    """As in production (no outer transaction): our table is gone, the shop keeps selling."""
    from saleor.checkout.models import Checkout

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE saleor_personalization_cartstate RENAME TO sp_cartstate_away")
    try:
        checkout = _create_checkout(api_client, channel_USD, stock.product_variant)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE sp_cartstate_away RENAME TO saleor_personalization_cartstate"
            )
    # The mutation answered without errors (checked in _create_checkout) and saved.
    assert Checkout.objects.filter(token=checkout["token"]).exists()
    assert not Interaction.objects.exists()


def test_guest_order_is_keyed_by_email_and_not_claimed_by_an_unproven_account(
    personalization_config,
    api_client,
    checkout_with_item_total_0,
    address,
    django_capture_on_commit_callbacks,
):
    from saleor.account.models import User

    checkout = checkout_with_item_total_0
    checkout.billing_address = address
    checkout.email = "later@example.com"
    checkout.save()
    content = api_client.post_graphql(
        CHECKOUT_COMPLETE, {"id": _gid("Checkout", checkout.pk)}
    ).json()
    assert content["data"]["checkoutComplete"]["errors"] == []
    purchase = Interaction.objects.get(kind=InteractionKind.PURCHASE)
    assert (purchase.customer_id, purchase.anonymous_id) == (
        None,
        email_identity("later@example.com"),
    )

    # An account with the same address is no proof (Saleor has not linked the order:
    # the address is unconfirmed); see test_identity for the confirmation that is.
    user = User.objects.create(email="later@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        get_plugins_manager(allow_replica=False).customer_created(user)
    purchase.refresh_from_db()
    assert purchase.customer_id is None
    profile = CustomerProfile.objects.get(customer_id=user.pk)
    assert profile.email_digest == address_digest("later@example.com")
    assert profile.orders_count == 0


UPDATE_METADATA = """
mutation meta($id: ID!, $input: [MetadataInput!]!) {
  updateMetadata(id: $id, input: $input) { errors { field message } }
}
"""


def test_storefront_anonymous_id_in_checkout_metadata_is_merged_on_order(
    personalization_config,
    user_api_client,
    checkout_with_item_total_0,
    address,
    django_capture_on_commit_callbacks,
):
    from saleor_personalization.events.identity import storefront_identity

    anon = storefront_identity("browser-abc")
    viewed = Interaction.objects.create(
        anonymous_id=anon,
        product_id=1,
        kind=InteractionKind.VIEW,
        occurred_at=checkout_with_item_total_0.created_at,
        source_key="storefront-view-1",
    )
    checkout = checkout_with_item_total_0
    checkout.billing_address = address
    checkout.user = user_api_client.user
    checkout.email = user_api_client.user.email
    checkout.save()
    content = user_api_client.post_graphql(
        UPDATE_METADATA,
        {
            "id": _gid("Checkout", checkout.pk),
            "input": [{"key": "personalization_anonymous_id", "value": "browser-abc"}],
        },
    ).json()
    assert content["data"]["updateMetadata"]["errors"] == []
    viewed.refresh_from_db()
    assert viewed.customer_id == user_api_client.user.pk


METADATA_UPDATE = """
mutation meta($id: ID!, $input: [MetadataInput!]!) {
  %s(id: $id, input: $input) { errors { field message } }
}
"""
UPDATE_PRIVATE_METADATA = METADATA_UPDATE % "updatePrivateMetadata"
UPDATE_METADATA = METADATA_UPDATE % "updateMetadata"


def test_mapped_customer_metadata_becomes_recommender_features(
    personalization_config,
    set_plugin_setting,
    staff_api_client,
    permission_manage_users,
    customer_user,
):
    from saleor_personalization.features.matrices import customer_feature_names
    from saleor_personalization.models import CustomerProfile

    set_plugin_setting("recommendationsCustomerMetadataKeys", "loyalty_tier, age_band")
    staff_api_client.user.user_permissions.add(permission_manage_users)
    user_id = _gid("User", customer_user.pk)
    content = staff_api_client.post_graphql(
        UPDATE_PRIVATE_METADATA,
        {"id": user_id, "input": [{"key": "loyalty_tier", "value": "Gold "}]},
    ).json()
    assert content["data"]["updatePrivateMetadata"]["errors"] == []
    content = staff_api_client.post_graphql(
        UPDATE_METADATA,
        {
            "id": user_id,
            "input": [{"key": "age_band", "value": "30-39"}, {"key": "pet", "value": "cat"}],
        },
    ).json()
    assert content["data"]["updateMetadata"]["errors"] == []

    profile = CustomerProfile.objects.get(customer_id=customer_user.pk)
    # Only the mapped keys, normalised; the unmapped "pet" is not a feature.
    assert profile.attributes == ["age_band=30-39", "loyalty_tier=gold"]
    names = customer_feature_names(profile, customer_user.pk)
    assert "meta:loyalty_tier=gold" in names
    assert "meta:age_band=30-39" in names
    assert not any("pet" in name for name in names)


ACCOUNT_UPDATE = """
mutation { accountUpdate(input: {firstName: "X"}) { errors { field message } } }
"""


def test_a_withdrawn_consent_stays_withdrawn_through_later_account_updates(
    personalization_config,
    staff_api_client,
    permission_manage_users,
    user_api_client,
    customer_user,
):
    from saleor_personalization.emails.consent import set_marketing_consent

    staff_api_client.user.user_permissions.add(permission_manage_users)
    user_id = _gid("User", customer_user.pk)
    # Private metadata is read first, as for the mapped attributes.
    for mutation, value in ((UPDATE_METADATA, "false"), (UPDATE_PRIVATE_METADATA, "true")):
        content = staff_api_client.post_graphql(
            mutation, {"id": user_id, "input": [{"key": "marketing_consent", "value": value}]}
        ).json()
        assert not any(v["errors"] for v in content["data"].values())
    assert CustomerProfile.objects.get(customer_id=customer_user.pk).marketing_consent is True

    set_marketing_consent(customer_user.pk, False)  # what marketingConsentUpdate calls
    content = user_api_client.post_graphql(ACCOUNT_UPDATE).json()
    assert content["data"]["accountUpdate"]["errors"] == []
    assert CustomerProfile.objects.get(customer_id=customer_user.pk).marketing_consent is False

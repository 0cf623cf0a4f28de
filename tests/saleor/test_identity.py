"""Identity from proof, through Saleor's GraphQL: a typed email identifies nobody.

Behaviour joins an account only on proof: the checkout's ``user`` (set by Saleor from
the shopper's token or ``checkoutCustomerAttach``) or an order Saleor holds under the
account. These tests perform the attack from issue 16 and the merges from issue 14.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import graphene  # noqa: E402
import pytest  # noqa: E402

from saleor_personalization.events.identity import address_digest  # noqa: E402
from saleor_personalization.models import (  # noqa: E402
    AnonymousIdentity,
    CartState,
    CustomerProfile,
    Interaction,
    InteractionKind,
)
from saleor_personalization.services.backfill import backfill as run_backfill  # noqa: E402

pytestmark = pytest.mark.django_db

PLUGIN_PATH = "/plugins/global/saleor.personalization/graphql/"

TRACK = """mutation($input: PersonalizationTrackEventInput!) {
  trackEvent(input: $input) { recorded } }"""
CHECKOUT_CREATE = """
mutation create($input: CheckoutCreateInput!) {
  checkoutCreate(input: $input) { checkout { id token } errors { field code message } }
}"""
LINES_ADD = """
mutation add($id: ID!, $lines: [CheckoutLineInput!]!) {
  checkoutLinesAdd(id: $id, lines: $lines) { errors { field code message } }
}"""
EMAIL_UPDATE = """
mutation email($id: ID!, $email: String!) {
  checkoutEmailUpdate(id: $id, email: $email) { errors { field code message } }
}"""
UPDATE_METADATA = """
mutation meta($id: ID!, $input: [MetadataInput!]!) {
  updateMetadata(id: $id, input: $input) { errors { field message } }
}"""
CUSTOMER_ATTACH = """
mutation attach($id: ID!) {
  checkoutCustomerAttach(id: $id) { errors { field code message } }
}"""
CHECKOUT_COMPLETE = """
mutation complete($id: ID!) {
  checkoutComplete(id: $id) { order { id number userEmail } errors { field code message } }
}"""
ACCOUNT_REGISTER = """
mutation register($input: AccountRegisterInput!) {
  accountRegister(input: $input) { requiresConfirmation errors { field code message } }
}"""
ACCOUNT_UPDATE = """
mutation update($input: AccountInput!) {
  accountUpdate(input: $input) { errors { field code message } }
}"""
CONFIRM_ACCOUNT = """
mutation confirm($email: String!, $token: String!, $password: String) {
  confirmAccount(email: $email, token: $token, password: $password) {
    errors { field code message }
  }
}"""


def _gid(kind, pk):
    return graphene.Node.to_global_id(kind, pk)


def _ok(response, field):
    body = response.json()
    assert "errors" not in body, body
    assert body["data"][field]["errors"] == [], body
    return body["data"][field]


def _plugin_client(user=None):
    from saleor.graphql.tests.fixtures import ApiClient

    client = ApiClient(user=user)
    client.api_path = PLUGIN_PATH
    return client


def _view(client, channel, product, anonymous_id=None):
    variables = {
        "input": {
            "kind": "PRODUCT_VIEW",
            "channel": channel.slug,
            "product": _gid("Product", product.pk),
            **({"anonymousId": anonymous_id} if anonymous_id else {}),
        }
    }
    body = client.post({"query": TRACK, "variables": variables}).json()
    assert body["data"]["trackEvent"] == {"recorded": True}, body


def _tag(client, checkout_id, anonymous_id):
    """The storefront ties its anonymous id to the checkout (public metadata)."""
    _ok(
        client.post_graphql(
            UPDATE_METADATA,
            {
                "id": checkout_id,
                "input": [{"key": "personalization_anonymous_id", "value": anonymous_id}],
            },
        ),
        "updateMetadata",
    )


def _history(customer_id):
    return set(
        Interaction.objects.filter(customer_id=customer_id).values_list("source_key", flat=True)
    )


@pytest.fixture
def synced(personalization_config, product_list, stock, channel_USD, customer_user):
    run_backfill()  # products known to the plugin, so trackEvent accepts them
    return product_list


def test_a_guest_checkout_with_a_customers_email_moves_nothing_to_them(
    synced, api_client, user_api_client, customer_user, stock, channel_USD
):
    victim = customer_user
    # The victim is a known customer: their account was synced by Saleor's hooks.
    _ok(
        user_api_client.post_graphql(ACCOUNT_UPDATE, {"input": {"firstName": "Vic"}}),
        "accountUpdate",
    )
    _view(_plugin_client(victim), channel_USD, synced[0])
    before = _history(victim.pk)
    assert before

    # The attacker browses anonymously, then opens a guest checkout with the victim's
    # address, ties their browsing to it, switches the address and keeps shopping.
    _view(_plugin_client(), channel_USD, synced[1], anonymous_id="attacker-1")
    variant = stock.product_variant
    checkout = _ok(
        api_client.post_graphql(
            CHECKOUT_CREATE,
            {
                "input": {
                    "channel": channel_USD.slug,
                    "email": victim.email,
                    "lines": [{"quantity": 1, "variantId": _gid("ProductVariant", variant.pk)}],
                }
            },
        ),
        "checkoutCreate",
    )["checkout"]
    _tag(api_client, checkout["id"], "attacker-1")
    _ok(
        api_client.post_graphql(
            EMAIL_UPDATE, {"id": checkout["id"], "email": "attacker@example.com"}
        ),
        "checkoutEmailUpdate",
    )
    other = synced[2].variants.first()
    _ok(
        api_client.post_graphql(
            LINES_ADD,
            {
                "id": checkout["id"],
                "lines": [{"quantity": 2, "variantId": _gid("ProductVariant", other.pk)}],
            },
        ),
        "checkoutLinesAdd",
    )

    state = CartState.objects.get(token=checkout["token"])
    assert state.customer_id is None
    assert state.email == "attacker@example.com"
    assert _history(victim.pk) == before
    assert not AnonymousIdentity.objects.filter(customer_id=victim.pk).exists()
    assert set(
        Interaction.objects.filter(anonymous_id="s:attacker-1").values_list(
            "customer_id", flat=True
        )
    ) == {None}
    carts = Interaction.objects.filter(basket_ref=checkout["token"])
    assert carts.filter(kind=InteractionKind.ADD_TO_CART).count() == 2
    assert set(carts.values_list("customer_id", flat=True)) == {None}


def test_a_guest_order_saleor_gives_to_the_typed_account_brings_no_browsing(
    personalization_config,
    api_client,
    customer_user,
    checkout_with_item_total_0,
    address,
):
    """Saleor completes a guest checkout under the account of the typed address."""
    victim = customer_user
    browsing = Interaction.objects.create(
        anonymous_id="s:attacker-2",
        product_id=1,
        kind=InteractionKind.VIEW,
        occurred_at=checkout_with_item_total_0.created_at,
        source_key="attacker-view",
    )
    checkout = checkout_with_item_total_0
    checkout.billing_address = address
    checkout.email = "attacker@example.com"
    checkout.save()
    checkout_id = _gid("Checkout", checkout.pk)
    _tag(api_client, checkout_id, "attacker-2")
    _ok(
        api_client.post_graphql(EMAIL_UPDATE, {"id": checkout_id, "email": victim.email}),
        "checkoutEmailUpdate",
    )
    assert CartState.objects.get(token=str(checkout.token)).customer_id is None

    _ok(api_client.post_graphql(CHECKOUT_COMPLETE, {"id": checkout_id}), "checkoutComplete")

    # Saleor put the order under the victim's account: its purchase is theirs (it is in
    # their order history), but the guest's browsing and cart are not.
    purchases = Interaction.objects.filter(kind=InteractionKind.PURCHASE)
    assert set(purchases.values_list("customer_id", flat=True)) == {victim.pk}
    browsing.refresh_from_db()
    assert browsing.customer_id is None
    assert not Interaction.objects.filter(
        customer_id=victim.pk, kind=InteractionKind.ADD_TO_CART
    ).exists()
    assert not AnonymousIdentity.objects.filter(customer_id=victim.pk).exists()
    state = CartState.objects.get(token=str(checkout.token))
    assert state.completed_at is not None
    assert state.email == ""


def test_checkout_customer_attach_moves_the_checkouts_anonymous_history(
    synced, api_client, user_api_client, stock, channel_USD
):
    _view(_plugin_client(), channel_USD, synced[0], anonymous_id="browser-7")
    variant = stock.product_variant
    checkout = _ok(
        api_client.post_graphql(
            CHECKOUT_CREATE,
            {
                "input": {
                    "channel": channel_USD.slug,
                    "email": "whoever@example.com",
                    "lines": [{"quantity": 1, "variantId": _gid("ProductVariant", variant.pk)}],
                }
            },
        ),
        "checkoutCreate",
    )["checkout"]
    _tag(api_client, checkout["id"], "browser-7")
    assert not _history(user_api_client.user.pk)

    # The shopper logs in and the storefront attaches the checkout: that is proof.
    _ok(
        user_api_client.post_graphql(CUSTOMER_ATTACH, {"id": checkout["id"]}),
        "checkoutCustomerAttach",
    )

    customer = user_api_client.user
    assert set(
        Interaction.objects.filter(anonymous_id="s:browser-7").values_list("customer_id", flat=True)
    ) == {customer.pk}
    carts = Interaction.objects.filter(basket_ref=checkout["token"])
    assert set(carts.values_list("customer_id", flat=True)) == {customer.pk}
    assert CartState.objects.get(token=checkout["token"]).customer_id == customer.pk
    assert AnonymousIdentity.objects.filter(anonymous_id="s:browser-7", customer_id=customer.pk)


def test_a_guest_order_joins_the_account_saleor_links_it_to_on_confirmation(
    personalization_config,
    api_client,
    checkout_with_item_total_0,
    address,
    channel_USD,
    site_settings,
    settings,
):
    from saleor.account.models import User
    from saleor.core.tokens import account_confirm_token_generator
    from saleor.site import AccountConfirmMode

    site_settings.account_confirm_merge_mode = AccountConfirmMode.REQUIRE_PASSWORD
    site_settings.enable_account_confirmation_by_email = True
    site_settings.save()
    settings.ALLOWED_CLIENT_HOSTS = ["localhost"]

    browsing = Interaction.objects.create(
        anonymous_id="s:newcomer-1",
        product_id=1,
        kind=InteractionKind.VIEW,
        occurred_at=checkout_with_item_total_0.created_at,
        source_key="newcomer-view",
    )
    checkout = checkout_with_item_total_0
    checkout.billing_address = address
    checkout.save()
    checkout_id = _gid("Checkout", checkout.pk)
    _tag(api_client, checkout_id, "newcomer-1")
    _ok(
        api_client.post_graphql(EMAIL_UPDATE, {"id": checkout_id, "email": "new@example.com"}),
        "checkoutEmailUpdate",
    )
    _ok(api_client.post_graphql(CHECKOUT_COMPLETE, {"id": checkout_id}), "checkoutComplete")
    purchases = Interaction.objects.filter(kind=InteractionKind.PURCHASE)
    assert set(purchases.values_list("customer_id", flat=True)) == {None}

    register = _ok(
        api_client.post_graphql(
            ACCOUNT_REGISTER,
            {
                "input": {
                    "email": "new@example.com",
                    "password": "A-long-Passw0rd!",
                    "channel": channel_USD.slug,
                    "redirectUrl": "http://localhost:3000/confirm",
                }
            },
        ),
        "accountRegister",
    )
    assert register["requiresConfirmation"] is True
    user = User.objects.get(email="new@example.com")
    # Registering proves nothing about the address: the guest order stays a guest's.
    assert set(purchases.values_list("customer_id", flat=True)) == {None}
    assert CustomerProfile.objects.get(customer_id=user.pk).orders_count == 0

    _ok(
        api_client.post_graphql(
            CONFIRM_ACCOUNT,
            {
                "email": user.email,
                "token": account_confirm_token_generator.make_token(user),
                "password": "A-long-Passw0rd!",
            },
        ),
        "confirmAccount",
    )

    # Saleor linked the order to the account; its purchase, its checkout's browsing and
    # the account's order count follow.
    assert set(purchases.values_list("customer_id", flat=True)) == {user.pk}
    browsing.refresh_from_db()
    assert browsing.customer_id == user.pk
    profile = CustomerProfile.objects.get(customer_id=user.pk)
    assert profile.orders_count == 1
    assert profile.last_order_at is not None
    assert profile.email_digest == address_digest("new@example.com")


def test_no_plain_address_is_kept_for_a_customer_after_a_sync(
    personalization_config, customer_user, order_with_lines
):
    run_backfill()
    row = CustomerProfile.objects.filter(customer_id=customer_user.pk).values().get()
    assert customer_user.email.lower() not in str(row).lower()
    assert row["email_digest"] == address_digest(customer_user.email)

    from saleor_personalization.saleor_adapter.customers import customer_email

    # Whatever sends to the customer asks Saleor for the current address.
    assert customer_email(customer_user.pk) == customer_user.email
    customer_user.email = "moved@example.com"
    customer_user.save(update_fields=["email"])
    assert customer_email(customer_user.pk) == "moved@example.com"

"""Segment vouchers inside real Saleor: codes for members only, used once, by their owner."""

from tests.saleor.requirements import require_saleor

require_saleor()

import graphene  # noqa: E402
import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.events.erasure import erase_customer  # noqa: E402
from saleor_personalization.models import (  # noqa: E402
    CustomerProfile,
    Segment,
    SegmentMembership,
    SegmentOffer,
)
from saleor_personalization.tasks import issue_offers_task  # noqa: E402

pytestmark = pytest.mark.django_db

ADD_CODE = """mutation($id: ID!, $code: String!) {
  checkoutAddPromoCode(id: $id, promoCode: $code) {
    checkout { voucherCode } errors { field code message } } }"""
COMPLETE = """mutation($id: ID!) {
  checkoutComplete(id: $id) { order { id voucherCode } errors { field code message } } }"""


@pytest.fixture
def segment_voucher(
    personalization_config, set_plugin_setting, voucher, customer_user, customer_user2
):
    """A Dashboard voucher targeted at repeat buyers; customer_user is one, user2 is not."""
    set_plugin_setting("offer_holdout_percent", "0")
    voucher.store_value_in_metadata({"personalization.segment": "repeat-buyers"})
    voucher.save(update_fields=["metadata"])
    segment = Segment.objects.create(key="repeat-buyers", name="Repeat buyers")
    SegmentMembership.objects.create(
        segment=segment, customer_id=customer_user.pk, entered_at=timezone.now()
    )
    for user in (customer_user, customer_user2):
        CustomerProfile.objects.create(customer_id=user.pk)
    return voucher


def zero_checkout(user, channel, product_price_0, address):
    from saleor.checkout.fetch import fetch_checkout_info
    from saleor.checkout.models import Checkout
    from saleor.checkout.tests.utils import add_variant_to_checkout
    from saleor.plugins.manager import get_plugins_manager

    checkout = Checkout.objects.create(
        currency=channel.currency_code,
        channel=channel,
        user=user,
        email=user.email,
        billing_address=address.get_copy(),
    )
    from saleor.warehouse.models import Stock

    variant = product_price_0.variants.get()
    Stock.objects.filter(product_variant=variant).update(quantity=100)
    info = fetch_checkout_info(checkout, [], get_plugins_manager(allow_replica=False))
    add_variant_to_checkout(info, variant, 1)
    checkout.save()
    return checkout


def test_codes_go_to_members_only_and_are_unguessable(segment_voucher, customer_user):
    from saleor.discount.models import VoucherCode

    result = issue_offers_task.apply().get()
    assert result["issued"] == {f"voucher:{segment_voucher.pk}": 1}, result
    (offer,) = SegmentOffer.objects.all()
    assert offer.customer_id == customer_user.pk
    code = VoucherCode.objects.get(code=offer.code)
    assert code.voucher_id == segment_voucher.pk
    assert code.is_active
    assert len(offer.code.replace("-", "")) == 20
    # Issuing again is a no-op.
    assert issue_offers_task.apply().get()["issued"] == {f"voucher:{segment_voucher.pk}": 0}
    assert VoucherCode.objects.filter(voucher=segment_voucher).count() == 2  # fixture's + ours


def test_owner_completes_checkout_a_leaked_code_is_refused_and_it_works_once(
    segment_voucher,
    customer_user,
    customer_user2,
    user_api_client,
    channel_USD,
    product_price_0,
    address,
):
    from saleor.checkout.models import Checkout
    from saleor.discount.models import VoucherCode
    from saleor.graphql.tests.fixtures import ApiClient
    from saleor.order.models import Order

    issue_offers_task.apply().get()
    code = SegmentOffer.objects.get(customer_id=customer_user.pk).code

    # A non-member with the leaked code: Saleor accepts the code, the order is refused.
    other_client = ApiClient(user=customer_user2)
    stranger = zero_checkout(customer_user2, channel_USD, product_price_0, address)
    stranger_id = graphene.Node.to_global_id("Checkout", stranger.pk)
    added = other_client.post_graphql(ADD_CODE, {"id": stranger_id, "code": code}).json()
    assert added["data"]["checkoutAddPromoCode"]["errors"] == [], added
    refused = other_client.post_graphql(COMPLETE, {"id": stranger_id}).json()
    errors = refused["data"]["checkoutComplete"]["errors"]
    assert errors[0]["code"] == "VOUCHER_NOT_APPLICABLE", refused
    assert errors[0]["field"] == "voucherCode"
    assert "another customer" in errors[0]["message"]
    assert Checkout.objects.filter(pk=stranger.pk).exists()  # nothing lost

    # The member completes their checkout with their code.
    own = zero_checkout(customer_user, channel_USD, product_price_0, address)
    own_id = graphene.Node.to_global_id("Checkout", own.pk)
    user_api_client.post_graphql(ADD_CODE, {"id": own_id, "code": code})
    completed = user_api_client.post_graphql(COMPLETE, {"id": own_id}).json()
    assert completed["data"]["checkoutComplete"]["errors"] == [], completed
    order = Order.objects.get(voucher_code=code)
    offer = SegmentOffer.objects.get(code=code)
    assert offer.redeemed_at is not None
    assert offer.order_ref == str(order.pk)
    assert not VoucherCode.objects.get(code=code).is_active

    # Used once: the code no longer applies anywhere.
    again = zero_checkout(customer_user, channel_USD, product_price_0, address)
    again_id = graphene.Node.to_global_id("Checkout", again.pk)
    second = user_api_client.post_graphql(ADD_CODE, {"id": again_id, "code": code}).json()
    assert second["data"]["checkoutAddPromoCode"]["errors"], second


def test_guardrails_hold_inside_saleor(segment_voucher, set_plugin_setting):
    from saleor.discount.models import VoucherCode

    set_plugin_setting("max_offer_amount", "10")  # the voucher gives 20 USD off
    result = issue_offers_task.apply().get()
    assert "maximum offer" in result["skipped"][f"voucher:{segment_voucher.pk}"]
    assert not SegmentOffer.objects.exists()
    assert VoucherCode.objects.filter(voucher=segment_voucher).count() == 1  # the fixture's
    set_plugin_setting("max_offer_amount", "50")
    set_plugin_setting("offer_holdout_percent", "90")
    issue_offers_task.apply().get()
    assert SegmentOffer.objects.count() == 1  # issued or held out, never twice


def test_my_offers_shows_the_code_to_its_owner_only(
    segment_voucher, customer_user, user_api_client, api_client
):
    issue_offers_task.apply().get()
    path = "/plugins/global/saleor.personalization/graphql/"
    user_api_client.api_path = api_client.api_path = path
    query = {"query": "{ myOffers { code voucherName discount expiresAt } }"}
    offers = user_api_client.post(query).json()["data"]["myOffers"]
    assert offers[0]["code"] == SegmentOffer.objects.get().code
    assert offers[0]["discount"] == "20.00 USD"
    assert api_client.post(query).json()["errors"][0]["extensions"]["code"] == ("NOT_AUTHENTICATED")


def test_winback_automation_uses_the_dashboard_voucher(
    personalization_config, set_plugin_setting, voucher, customer_user
):
    segment = Segment.objects.create(key="lapsed", name="Lapsed")
    SegmentMembership.objects.create(
        segment=segment, customer_id=customer_user.pk, entered_at=timezone.now()
    )
    assert issue_offers_task.apply().get()["issued"] == {}  # off by default
    set_plugin_setting("offersWinbackVoucher", voucher.codes.first().code)  # starts it
    set_plugin_setting("offer_holdout_percent", "0")
    assert issue_offers_task.apply().get()["issued"] == {"winback": 1}
    assert SegmentOffer.objects.get().segment_key == "lapsed"


def test_erasure_removes_memberships_offers_and_unused_codes(segment_voucher, customer_user):
    from saleor.discount.models import VoucherCode

    issue_offers_task.apply().get()
    code = SegmentOffer.objects.get().code
    report = erase_customer(customer_user.pk, customer_user.email)
    assert report.deleted["offers"] == 1
    assert report.deleted["voucher_codes"] == 1
    assert not VoucherCode.objects.filter(code=code).exists()
    assert not SegmentMembership.objects.filter(customer_id=customer_user.pk).exists()


def test_apps_hear_of_issued_codes_as_of_dashboard_ones(
    segment_voucher, permission_manage_discounts, app_webhook
):
    """VOUCHER_CODES_CREATED reaches a subscribed app (a real webhook to a local server)."""
    import json

    from django.test import TestCase
    from saleor.webhook.event_types import WebhookEventAsyncType

    received = app_webhook(WebhookEventAsyncType.VOUCHER_CODES_CREATED, permission_manage_discounts)
    with TestCase.captureOnCommitCallbacks(execute=True):
        issue_offers_task.apply().get()
    code = SegmentOffer.objects.get().code
    assert code in json.dumps(received)

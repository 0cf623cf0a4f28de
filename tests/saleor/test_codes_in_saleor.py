"""Personal codes inside real Saleor: single-use, owner by account, sealed vouchers, faults.

Each test performs the attack or the failure the way the shop met it: through Saleor's
GraphQL (``checkoutAddPromoCode``, ``checkoutEmailUpdate``, ``checkoutComplete``,
``updateMetadata``), with Saleor's own hooks firing.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import logging  # noqa: E402
from decimal import Decimal  # noqa: E402

import graphene  # noqa: E402
import pytest  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import (  # noqa: E402
    Segment,
    SegmentMembership,
    SegmentOffer,
)
from saleor_personalization.tasks import issue_offers_task  # noqa: E402
from tests.saleor.test_offers_in_saleor import (  # noqa: E402, F401
    ADD_CODE,
    COMPLETE,
    segment_voucher,
    zero_checkout,
)

pytestmark = pytest.mark.django_db

EMAIL_UPDATE = """mutation($id: ID!, $email: String!) {
  checkoutEmailUpdate(id: $id, email: $email) { errors { field code message } } }"""
UPDATE_METADATA = """mutation($id: ID!, $key: String!, $value: String!) {
  updateMetadata(id: $id, input: [{key: $key, value: $value}]) {
    errors { field code message } } }"""


def checkout_with_code(client, user, code, channel, product, address):
    """A real checkout of ``user`` with ``code`` added through Saleor's mutation."""
    checkout = zero_checkout(user, channel, product, address)
    checkout_id = graphene.Node.to_global_id("Checkout", checkout.pk)
    added = client.post_graphql(ADD_CODE, {"id": checkout_id, "code": code}).json()
    return checkout_id, added["data"]["checkoutAddPromoCode"]["errors"]


def complete(client, checkout_id, capture):
    with capture(execute=True):
        body = client.post_graphql(COMPLETE, {"id": checkout_id}).json()
    return body["data"]["checkoutComplete"]


@pytest.fixture
def owner_code(segment_voucher, customer_user, django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        issue_offers_task.apply().get()
    return SegmentOffer.objects.get(customer_id=customer_user.pk).code


def test_a_signed_in_customer_cannot_use_another_customers_code_by_typing_their_email(
    owner_code,
    customer_user,
    customer_user2,
    channel_USD,
    product_price_0,
    address,
    django_capture_on_commit_callbacks,
):
    from saleor.checkout.models import Checkout
    from saleor.graphql.tests.fixtures import ApiClient
    from saleor.order.models import Order

    attacker = ApiClient(user=customer_user2)
    checkout_id, errors = checkout_with_code(
        attacker, customer_user2, owner_code, channel_USD, product_price_0, address
    )
    assert errors == []
    updated = attacker.post_graphql(
        EMAIL_UPDATE, {"id": checkout_id, "email": customer_user.email}
    ).json()
    assert updated["data"]["checkoutEmailUpdate"]["errors"] == [], updated
    result = complete(attacker, checkout_id, django_capture_on_commit_callbacks)
    assert result["errors"][0]["code"] == "VOUCHER_NOT_APPLICABLE", result
    assert "another customer" in result["errors"][0]["message"]
    # Nor with a guest checkout (no account on it) completed while signed in.
    guest_id, errors = checkout_with_code(
        attacker, customer_user2, owner_code, channel_USD, product_price_0, address
    )
    assert errors == []
    Checkout.objects.filter(token=graphene.Node.from_global_id(guest_id)[1]).update(
        user=None, email=customer_user.email
    )
    result = complete(attacker, guest_id, django_capture_on_commit_callbacks)
    assert result["errors"][0]["code"] == "VOUCHER_NOT_APPLICABLE", result
    assert not Order.objects.filter(voucher_code=owner_code).exists()
    assert SegmentOffer.objects.get(code=owner_code).redeemed_at is None  # still the owner's


def test_with_the_plugin_inactive_a_code_still_works_once_only(
    owner_code,
    personalization_config,
    customer_user,
    user_api_client,
    channel_USD,
    product_price_0,
    address,
    django_capture_on_commit_callbacks,
):
    from saleor.order.models import Order

    personalization_config.active = False
    personalization_config.save(update_fields=["active"])
    first_id, errors = checkout_with_code(
        user_api_client, customer_user, owner_code, channel_USD, product_price_0, address
    )
    assert errors == []
    assert complete(user_api_client, first_id, django_capture_on_commit_callbacks)["errors"] == []
    assert Order.objects.filter(voucher_code=owner_code).count() == 1
    # Saleor itself refuses the second use: the voucher was made single-use when targeted.
    second_id, errors = checkout_with_code(
        user_api_client, customer_user, owner_code, channel_USD, product_price_0, address
    )
    assert errors, errors
    assert errors[0]["field"] == "promoCode"
    complete(user_api_client, second_id, django_capture_on_commit_callbacks)
    assert Order.objects.filter(voucher_code=owner_code).count() == 1


def test_with_tracking_off_redemption_is_recorded_and_the_code_works_once(
    owner_code,
    set_plugin_setting,
    customer_user,
    user_api_client,
    channel_USD,
    product_price_0,
    address,
    django_capture_on_commit_callbacks,
):
    from saleor.discount.models import VoucherCode
    from saleor.order.models import Order

    set_plugin_setting("tracking_enabled", False)
    first_id, _ = checkout_with_code(
        user_api_client, customer_user, owner_code, channel_USD, product_price_0, address
    )
    assert complete(user_api_client, first_id, django_capture_on_commit_callbacks)["errors"] == []
    order = Order.objects.get(voucher_code=owner_code)
    offer = SegmentOffer.objects.get(code=owner_code)
    assert offer.order_ref == str(order.pk)  # recorded by order_created, tracking or not
    assert offer.redeemed_at == order.created_at
    assert not VoucherCode.objects.get(code=owner_code).is_active
    # Even if an admin switches the code back on, the plugin refuses a second use.
    VoucherCode.objects.filter(code=owner_code).update(is_active=True)
    second_id, errors = checkout_with_code(
        user_api_client, customer_user, owner_code, channel_USD, product_price_0, address
    )
    assert errors == []
    result = complete(user_api_client, second_id, django_capture_on_commit_callbacks)
    assert result["errors"][0]["code"] == "VOUCHER_NOT_APPLICABLE", result
    assert "already been used" in result["errors"][0]["message"]
    assert Order.objects.filter(voucher_code=owner_code).count() == 1


def test_a_redeemer_gets_no_second_code_on_the_next_run(
    owner_code,
    set_plugin_setting,
    customer_user,
    user_api_client,
    channel_USD,
    product_price_0,
    address,
    django_capture_on_commit_callbacks,
):
    set_plugin_setting("offer_frequency_days", "0")
    checkout_id, _ = checkout_with_code(
        user_api_client, customer_user, owner_code, channel_USD, product_price_0, address
    )
    assert (
        complete(user_api_client, checkout_id, django_capture_on_commit_callbacks)["errors"] == []
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = issue_offers_task.apply().get()
    assert sum(result["issued"].values()) == 0, result
    assert SegmentOffer.objects.filter(customer_id=customer_user.pk).count() == 1


def test_targeting_a_voucher_switches_its_shared_code_off_and_says_so(
    personalization_config,
    set_plugin_setting,
    voucher,
    customer_user,
    customer_user2,
    staff_api_client,
    permission_manage_discounts,
    channel_USD,
    product_price_0,
    address,
    django_capture_on_commit_callbacks,
):
    """The Dashboard's required shared code must not give a non-member the discount."""
    from saleor.discount.models import VoucherCode
    from saleor.graphql.tests.fixtures import ApiClient

    set_plugin_setting("offer_holdout_percent", "0")
    shared = voucher.codes.get().code
    segment = Segment.objects.create(key="repeat-buyers", name="Repeat buyers")
    Segment.objects.create(key="rfm-champions", name="Champions")
    staff_api_client.user.user_permissions.add(permission_manage_discounts)
    voucher_id = graphene.Node.to_global_id("Voucher", voucher.pk)

    def target(value):
        with django_capture_on_commit_callbacks(execute=True):
            body = staff_api_client.post_graphql(
                UPDATE_METADATA,
                {"id": voucher_id, "key": "personalization.segment", "value": value},
            ).json()
        assert body["data"]["updateMetadata"]["errors"] == [], body
        voucher.refresh_from_db()
        return voucher.metadata["personalization.status"]

    status = target("rfm-at-risk")
    assert status.startswith("unknown segment 'rfm-at-risk'; known: repeat-buyers, rfm-champions")
    assert f"shared code(s) {shared} switched off" in status
    assert not VoucherCode.objects.get(code=shared).is_active
    assert voucher.single_use

    assert target("rfm-champions").startswith("segment 'rfm-champions' has no members")

    SegmentMembership.objects.create(
        segment=segment, customer_id=customer_user.pk, entered_at=timezone.now()
    )
    status = target("repeat-buyers")  # the hook issues at once, not at the next run
    assert status.startswith("1 member, 1 code issued (0 held out, 0 redeemed)"), status
    assert SegmentOffer.objects.get().customer_id == customer_user.pk

    # The shared code no longer applies for a non-member ...
    stranger = ApiClient(user=customer_user2)
    _, errors = checkout_with_code(
        stranger, customer_user2, shared, channel_USD, product_price_0, address
    )
    assert errors, errors
    assert errors[0]["field"] == "promoCode"
    # ... and if an admin switches it back on, the order is still refused.
    VoucherCode.objects.filter(code=shared).update(is_active=True)
    checkout_id, errors = checkout_with_code(
        stranger, customer_user2, shared, channel_USD, product_price_0, address
    )
    assert errors == []
    result = complete(stranger, checkout_id, django_capture_on_commit_callbacks)
    assert result["errors"][0]["code"] == "VOUCHER_NOT_APPLICABLE", result
    assert "personal code" in result["errors"][0]["message"]


def _make_plugin_tables_unavailable() -> list[str]:
    """Rename every table of the plugin inside the test's transaction (rolled back after)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'saleor_personalization_%%'"
        )
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            cursor.execute(f'ALTER TABLE "{table}" RENAME TO "gone_{table[23:]}"')
    return tables


def test_with_the_plugins_tables_unavailable_both_kinds_of_voucher_still_sell(
    owner_code,
    customer_user,
    user_api_client,
    channel_USD,
    product_price_0,
    address,
    django_capture_on_commit_callbacks,
    caplog,
):
    """A plugin fault is confined to its savepoint: no "current transaction is aborted"."""
    from saleor.discount.models import Voucher, VoucherChannelListing, VoucherCode
    from saleor.order.models import Order

    # A Dashboard code of an ordinary voucher (not targeted) and a personal code.
    plain = Voucher.objects.create(name="Plain")
    VoucherChannelListing.objects.create(
        voucher=plain, channel=channel_USD, discount_value=5, currency="USD"
    )
    VoucherCode.objects.create(voucher=plain, code="PLAIN5")
    assert _make_plugin_tables_unavailable()

    caplog.set_level(logging.ERROR)
    for code in ("PLAIN5", owner_code):
        checkout_id, errors = checkout_with_code(
            user_api_client, customer_user, code, channel_USD, product_price_0, address
        )
        assert errors == [], (code, errors)
        result = complete(user_api_client, checkout_id, django_capture_on_commit_callbacks)
        assert result["errors"] == [], (code, result)
        assert Order.objects.filter(voucher_code=code).count() == 1
    assert "Saleor carries on without it" in caplog.text


def test_in_the_payment_flow_a_refused_stranger_does_not_burn_the_owners_code(
    owner_code,
    customer_user2,
    checkout_with_item,
    checkout_delivery,
    payment_dummy,
    address,
    django_capture_on_commit_callbacks,
):
    """Saleor counts the use before the plugin refuses; the plugin gives it back."""
    from saleor.checkout import calculations
    from saleor.checkout.fetch import fetch_checkout_info, fetch_checkout_lines
    from saleor.discount.models import VoucherCode
    from saleor.graphql.tests.fixtures import ApiClient
    from saleor.plugins.manager import get_plugins_manager

    stranger = ApiClient(user=customer_user2)
    checkout = checkout_with_item
    checkout.user = customer_user2
    checkout.email = customer_user2.email
    checkout.shipping_address = address
    checkout.billing_address = address
    checkout.save()
    checkout.assigned_delivery = checkout_delivery(checkout)
    checkout.save()
    checkout_id = graphene.Node.to_global_id("Checkout", checkout.pk)
    added = stranger.post_graphql(ADD_CODE, {"id": checkout_id, "code": owner_code}).json()
    assert added["data"]["checkoutAddPromoCode"]["errors"] == [], added
    checkout.refresh_from_db()
    manager = get_plugins_manager(allow_replica=False)
    lines, _ = fetch_checkout_lines(checkout)
    info = fetch_checkout_info(checkout, lines, manager)
    total = calculations.calculate_checkout_total(manager=manager, checkout_info=info, lines=lines)
    payment_dummy.is_active = True
    payment_dummy.order = None
    payment_dummy.total = total.gross.amount
    payment_dummy.currency = total.gross.currency
    payment_dummy.checkout = checkout
    payment_dummy.save()

    result = complete(stranger, checkout_id, django_capture_on_commit_callbacks)
    assert result["errors"][0]["code"] == "VOUCHER_NOT_APPLICABLE", result
    assert "another customer" in result["errors"][0]["message"]
    assert VoucherCode.objects.get(code=owner_code).is_active  # still the owner's to use
    checkout.refresh_from_db()
    assert not checkout.is_voucher_usage_increased


def test_the_offer_report_keeps_a_redeemed_offers_revenue_after_a_new_round(
    personalization_config,
    set_plugin_setting,
    voucher,
    customer_user,
    user_api_client,
    channel_USD,
    product_price_0,
    address,
    django_capture_on_commit_callbacks,
):
    """Win-back: a customer redeems, the automation moves to a new voucher, both offers count."""
    from saleor.discount.models import Voucher, VoucherChannelListing, VoucherCode
    from saleor.order.models import Order
    from saleor.product.models import ProductVariantChannelListing

    from saleor_personalization.offers.report import offer_report

    channel_USD.allow_unpaid_orders = True
    channel_USD.save(update_fields=["allow_unpaid_orders"])
    ProductVariantChannelListing.objects.filter(
        variant__product=product_price_0, channel=channel_USD
    ).update(price_amount=50, discounted_price_amount=50)
    segment = Segment.objects.create(key="lapsed", name="Lapsed")
    SegmentMembership.objects.create(
        segment=segment, customer_id=customer_user.pk, entered_at=timezone.now()
    )
    for name, value in (
        ("offer_holdout_percent", "0"),
        ("offer_frequency_days", "0"),
        ("offersWinbackVoucher", voucher.codes.get().code),
    ):
        set_plugin_setting(name, value)
    with django_capture_on_commit_callbacks(execute=True):
        issue_offers_task.apply().get()
    first = SegmentOffer.objects.get(customer_id=customer_user.pk)

    checkout_id, errors = checkout_with_code(
        user_api_client, customer_user, first.code, channel_USD, product_price_0, address
    )
    assert errors == []
    assert (
        complete(user_api_client, checkout_id, django_capture_on_commit_callbacks)["errors"] == []
    )
    order = Order.objects.get(voucher_code=first.code)
    assert order.total_gross_amount == 30  # 50 less the voucher's 20
    (before,) = offer_report()
    assert before.redeemed == 1
    assert before.revenue_with_offer > 0

    # Months later the customer has lapsed again, and the automation names a new voucher.
    SegmentMembership.objects.get_or_create(
        segment=segment,
        customer_id=customer_user.pk,
        left_at=None,
        defaults={"entered_at": timezone.now()},
    )
    renewed = Voucher.objects.create(name="We miss you, again")
    VoucherChannelListing.objects.create(
        voucher=renewed, channel=channel_USD, discount_value=10, currency="USD"
    )
    VoucherCode.objects.create(voucher=renewed, code="WINBACK-2")
    set_plugin_setting("winback_voucher", "WINBACK-2")
    with django_capture_on_commit_callbacks(execute=True):
        result = issue_offers_task.apply().get()
    assert result["issued"] == {"winback": 1}, result
    (after,) = offer_report()
    assert after.issued == 2
    assert after.redeemed == 1
    # The same purchase, now over two offers: nothing lost to the newer window.
    assert after.revenue_with_offer == (before.revenue_with_offer / 2).quantize(Decimal("0.01"))

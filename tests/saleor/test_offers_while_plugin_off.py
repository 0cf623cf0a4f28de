"""A personal code used while the plugin was deactivated, as a shop met it.

The admin deactivates the plugin (``pluginUpdate``), the customer completes a real
checkout with their code (Saleor sells once: the voucher is single-use), the admin
reactivates the plugin and the nightly reconcile runs as the beat runs it. The code
must then be gone from ``myOffers`` and ``live_offer``, and the report must count the
redemption, once, however often the reconcile runs.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import SegmentOffer  # noqa: E402
from saleor_personalization.offers.redemption import live_offer  # noqa: E402
from saleor_personalization.tasks import issue_offers_task  # noqa: E402
from saleor_personalization.tasks.maintenance import reconcile_task  # noqa: E402
from tests.saleor.scenario import run_task  # noqa: E402
from tests.saleor.test_codes_in_saleor import checkout_with_code, complete  # noqa: E402
from tests.saleor.test_email_recipients_in_saleor import (  # noqa: E402, F401
    CODE,
    _checkout,
    _html,
    _run_sequence,
    clients,
    owner_history,
)
from tests.saleor.test_offers_in_saleor import segment_voucher  # noqa: E402, F401

pytestmark = pytest.mark.django_db

PLUGIN_PATH = "/plugins/global/saleor.personalization/graphql/"
PLUGIN_UPDATE = """mutation($id: ID!, $input: PluginUpdateInput!) {
  pluginUpdate(id: $id, input: $input) { errors { field code message } } }"""
MY_OFFERS = "{ myOffers { code campaign } }"
REPORT = "{ personalizationOfferReport { campaign issued redeemed } }"


def set_active(staff, active: bool) -> None:
    body = staff.post_graphql(
        PLUGIN_UPDATE, {"id": "saleor.personalization", "input": {"active": active}}
    ).json()
    assert body["data"]["pluginUpdate"]["errors"] == [], body


def plugin_query(client, query: str) -> dict:
    """Ask the plugin's own endpoint, as the storefront and the Dashboard extension do."""
    saved, client.api_path = client.api_path, PLUGIN_PATH
    try:
        body = client.post({"query": query}).json()
    finally:
        client.api_path = saved
    assert "errors" not in body, body
    return body["data"]


def test_a_code_used_while_the_plugin_was_off_is_recorded_and_no_longer_offered(
    segment_voucher,  # noqa: F811
    customer_user,
    user_api_client,
    staff_api_client,
    permission_manage_plugins,
    channel_USD,
    product_price_0,
    address,
    django_capture_on_commit_callbacks,
):
    from saleor.discount.models import VoucherCode
    from saleor.order.models import Order

    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    with django_capture_on_commit_callbacks(execute=True):
        issue_offers_task.apply().get()
    offer = SegmentOffer.objects.get(customer_id=customer_user.pk)
    assert plugin_query(user_api_client, MY_OFFERS)["myOffers"] == [
        {"code": offer.code, "campaign": offer.campaign}
    ]

    set_active(staff_api_client, False)
    checkout_id, errors = checkout_with_code(
        user_api_client, customer_user, offer.code, channel_USD, product_price_0, address
    )
    assert errors == []
    result = complete(user_api_client, checkout_id, django_capture_on_commit_callbacks)
    assert result["errors"] == []
    order = Order.objects.get(voucher_code=offer.code)
    assert not VoucherCode.objects.get(code=offer.code).is_active  # Saleor's single use
    offer.refresh_from_db()
    assert offer.redeemed_at is None  # no hook ran: the plugin did not hear of the order

    set_active(staff_api_client, True)
    # Even before the reconcile, the code Saleor no longer takes is not offered.
    assert plugin_query(user_api_client, MY_OFFERS)["myOffers"] == []
    assert live_offer(customer_user.pk, timezone.now(), campaign=offer.campaign) is None

    result = run_task(reconcile_task)
    assert result["offers redeemed while the plugin was off"] == 1, result
    offer.refresh_from_db()
    assert offer.order_ref == str(order.pk)
    assert offer.redeemed_at == order.created_at
    assert offer.closed_at == order.created_at
    assert plugin_query(user_api_client, MY_OFFERS)["myOffers"] == []
    assert live_offer(customer_user.pk, timezone.now(), campaign=offer.campaign) is None
    (row,) = plugin_query(staff_api_client, REPORT)["personalizationOfferReport"]
    assert row == {"campaign": offer.campaign, "issued": 1, "redeemed": 1}

    # The next night changes nothing.
    again = run_task(reconcile_task)
    assert again["offers redeemed while the plugin was off"] == 0, again
    unchanged = SegmentOffer.objects.get(pk=offer.pk)
    assert (unchanged.order_ref, unchanged.redeemed_at, unchanged.closed_at) == (
        offer.order_ref,
        offer.redeemed_at,
        offer.closed_at,
    )
    assert plugin_query(staff_api_client, REPORT)["personalizationOfferReport"] == [row]
    assert plugin_query(user_api_client, MY_OFFERS)["myOffers"] == []


def test_a_code_saleor_no_longer_takes_is_not_offered(
    segment_voucher,  # noqa: F811
    customer_user,
    user_api_client,
    django_capture_on_commit_callbacks,
):
    """Switched off by an admin, or its voucher ended or deleted: not a live offer."""
    from saleor.discount.models import VoucherCode

    with django_capture_on_commit_callbacks(execute=True):
        issue_offers_task.apply().get()
    offer = SegmentOffer.objects.get(customer_id=customer_user.pk)
    now = timezone.now()
    assert live_offer(customer_user.pk, now).code == offer.code

    VoucherCode.objects.filter(code=offer.code).update(is_active=False)
    assert plugin_query(user_api_client, MY_OFFERS)["myOffers"] == []
    assert live_offer(customer_user.pk, now) is None

    VoucherCode.objects.filter(code=offer.code).update(is_active=True)
    segment_voucher.end_date = now
    segment_voucher.save(update_fields=["end_date"])
    assert live_offer(customer_user.pk, now + timezone.timedelta(seconds=1)) is None
    segment_voucher.end_date = None
    segment_voucher.save(update_fields=["end_date"])
    assert live_offer(customer_user.pk, now).code == offer.code

    segment_voucher.delete()
    assert plugin_query(user_api_client, MY_OFFERS)["myOffers"] == []
    assert live_offer(customer_user.pk, now) is None
    # Nothing was recorded as redeemed: no order was made with the code.
    assert run_task(reconcile_task)["offers redeemed while the plugin was off"] == 0
    assert SegmentOffer.objects.get(pk=offer.pk).redeemed_at is None


def test_the_abandoned_cart_email_leaves_out_a_code_saleor_took_meanwhile(
    owner_history,  # noqa: F811
    clients,  # noqa: F811
    channel_USD,
    customer_user,
    settings,
    set_plugin_setting,
):
    """The offer step of the sequence, for the owner's own checkout, after the code was used."""
    from saleor.discount.models import VoucherCode

    from saleor_personalization.models import AbandonedEmail

    set_plugin_setting("abandoned_require_consent", "false")
    VoucherCode.objects.filter(code=CODE).update(is_active=False, used=1)  # single use spent
    checkout = _checkout("owner's own checkout", clients, owner_history, channel_USD, customer_user)
    messages = _run_sequence(settings, checkout["token"])
    assert [m["To"] for m in messages] == [customer_user.email] * 2
    last = _html(messages[1])
    assert owner_history["personal"].name in last  # still the owner's personal email
    assert CODE not in last
    assert [r.voucher_code for r in AbandonedEmail.objects.order_by("step")] == ["", ""]

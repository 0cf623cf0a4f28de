"""Abandoned-checkout emails inside Saleor: a real checkout, Saleor's SMTP settings, links."""

from tests.saleor.requirements import require_saleor

require_saleor()

import re  # noqa: E402
from datetime import timedelta  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import graphene  # noqa: E402
import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import (  # noqa: E402
    AbandonedEmail,
    CartState,
    CustomerProfile,
    EmailOptOut,
    EmailStatus,
)
from saleor_personalization.tasks import scan_abandoned_task  # noqa: E402
from tests.smtp import smtp_server  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture
def abandoned(
    personalization_config,
    set_plugin_setting,
    checkout_with_item,
    product_with_image,
    customer_user,
):
    # A recovery URL starts the emails.
    set_plugin_setting("emailsRecoveryUrl", "https://shop.example.com/cart/{token}")
    checkout_with_item.user = customer_user
    checkout_with_item.email = customer_user.email
    checkout_with_item.language_code = "hu"
    checkout_with_item.save(update_fields=["user", "email", "language_code"])
    CustomerProfile.objects.create(customer_id=customer_user.pk, marketing_consent=True)
    CartState.objects.create(
        token=str(checkout_with_item.token),
        channel=checkout_with_item.channel.slug,
        customer_id=customer_user.pk,
        email=customer_user.email,
        language_code="hu",
        lines={"v1": [product_with_image.pk, 3]},
        last_change_at=timezone.now() - timedelta(hours=2),
    )
    return checkout_with_item


def test_saleor_checkout_email_through_saleors_smtp_settings(
    abandoned, settings, customer_user, client, product_with_image
):
    with smtp_server() as (mailbox, port):
        # No SMTP host in the plugin: Saleor's USER_EMAIL_URL settings are used.
        settings.USER_EMAIL_HOST = "127.0.0.1"
        settings.USER_EMAIL_PORT = str(port)
        result = scan_abandoned_task.apply(kwargs={"force": True}).get()
        assert result == {"created": 1, "requeued": 0}
    (message,) = mailbox.messages
    assert message["To"] == customer_user.email
    assert message["Subject"].startswith(customer_user.first_name)  # Hungarian, by name
    html = (
        next(p for p in message.walk() if p.get_content_type() == "text/html")
        .get_payload(decode=True)
        .decode()
    )
    assert product_with_image.name in html
    assert "USD" in html  # the checkout channel's currency
    assert "/thumbnail/" in html  # Saleor's product image URL
    row = AbandonedEmail.objects.get()
    assert row.status == EmailStatus.SENT

    # Links point at the plugin's own URL inside Saleor, and work.
    click = next(u for u in re.findall(r'href="([^"]+)"', html) if "/email/click/" in u)
    assert urlparse(click).path.startswith("/plugins/global/saleor.personalization/email/")
    response = client.get(urlparse(click).path)
    assert response.status_code == 302
    assert response["Location"] == f"https://shop.example.com/cart/{abandoned.token}"
    unsubscribe = urlparse(str(message["List-Unsubscribe"]).strip().strip("<>")).path
    assert client.post(unsubscribe).status_code == 200
    assert EmailOptOut.objects.count() == 1
    assert not CustomerProfile.objects.get(customer_id=customer_user.pk).marketing_consent


def test_a_customer_who_grants_consent_again_after_unsubscribing_gets_email_again(
    abandoned, settings, customer_user, client, user_api_client
):
    with smtp_server() as (mailbox, port):
        settings.USER_EMAIL_HOST = "127.0.0.1"
        settings.USER_EMAIL_PORT = str(port)
        scan_abandoned_task.apply(kwargs={"force": True}).get()
        (message,) = mailbox.messages
        unsubscribe = urlparse(str(message["List-Unsubscribe"]).strip().strip("<>")).path
        assert client.post(unsubscribe).status_code == 200
        EmailOptOut.objects.create(email_hash="0" * 64, opted_out_at=timezone.now())  # another's

        from saleor_personalization.emails.sequence import refusal
        from saleor_personalization.shop import get_shop

        user_api_client.api_path = "/plugins/global/saleor.personalization/graphql/"
        consent = "mutation { marketingConsentUpdate(granted: true) { granted } }"
        body = user_api_client.post({"query": consent}).json()
        assert body["data"]["marketingConsentUpdate"] == {"granted": True}
        assert list(EmailOptOut.objects.values_list("email_hash", flat=True)) == ["0" * 64]
    # The sender's own check: the address is no longer refused.
    config = get_shop().configuration.load()[0]
    assert refusal(customer_user.email, customer_user.pk, config) == ""


def test_completed_checkout_gets_no_more_emails(abandoned, settings):
    with smtp_server() as (mailbox, port):
        settings.USER_EMAIL_HOST = "127.0.0.1"
        settings.USER_EMAIL_PORT = str(port)
        CartState.objects.update(completed_at=timezone.now())
        assert scan_abandoned_task.apply(kwargs={"force": True}).get()["created"] == 0
    assert mailbox.messages == []


def test_a_deleted_checkout_is_skipped_not_sent(abandoned, settings):
    with smtp_server() as (mailbox, port):
        settings.USER_EMAIL_HOST = "127.0.0.1"
        settings.USER_EMAIL_PORT = str(port)
        abandoned.delete()  # Saleor removed it (expired); the mirror has not heard yet
        scan_abandoned_task.apply(kwargs={"force": True}).get()
    assert mailbox.messages == []
    row = AbandonedEmail.objects.get()
    assert row.status == EmailStatus.SKIPPED
    assert row.error == "checkout no longer exists"


PLUGIN_UPDATE = """
mutation update($id: ID!, $input: PluginUpdateInput!) {
  pluginUpdate(id: $id, input: $input) {
    plugin { id }
    errors { field code message }
  }
}
"""


def _save_setting(client, name, value):
    variables = {
        "id": "saleor.personalization",
        "input": {"configuration": [{"name": name, "value": value}]},
    }
    return client.post_graphql(PLUGIN_UPDATE, variables).json()["data"]["pluginUpdate"]["errors"]


@pytest.mark.parametrize(
    ("field", "template", "message"),
    [
        ("email_body_template", "{{#if first_name}}Hello{{/each}}", "does not compile"),
        # Compiles, then renders nothing: the email a customer received had an empty part.
        ("email_body_template", "{{#each lines}}<p>{{name}}", "{{#each}} on line 1 is never"),
        ("email_body_template", "<p>{{greeting}}</p>", "unsubscribe link"),
        ("email_subject_template", "{{#if first_name}}Hi", "never closed"),
    ],
)
def test_the_dashboard_refuses_a_template_that_cannot_render(
    personalization_config, staff_api_client, permission_manage_plugins, field, template, message
):
    from saleor_personalization.configuration import FIELDS_BY_ATTR

    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    (error,) = _save_setting(staff_api_client, field, template)
    assert error["field"] == FIELDS_BY_ATTR[field].name  # the setting the admin must fix
    assert error["code"] == "INVALID"
    assert message in error["message"]
    personalization_config.refresh_from_db()
    saved = {i["name"]: i["value"] for i in personalization_config.configuration}
    assert saved[FIELDS_BY_ATTR[field].name] == ""  # nothing was saved
    complete = '{{#each lines}}<p>{{name}}</p>{{/each}}<a href="{{unsubscribe_url}}">x</a>'
    assert _save_setting(staff_api_client, "email_body_template", complete) == []


def test_a_broken_template_saved_earlier_never_sends_an_empty_email(abandoned, settings, caplog):
    from saleor.plugins.models import PluginConfiguration

    config = PluginConfiguration.objects.get(identifier="saleor.personalization")
    for item in config.configuration:  # written before the check existed
        if item["name"] == "emailsBodyTemplate":
            item["value"] = "{{#each lines}}<p>{{name}}"
    config.save(update_fields=["configuration"])
    with smtp_server() as (mailbox, port):
        settings.USER_EMAIL_HOST = "127.0.0.1"
        settings.USER_EMAIL_PORT = str(port)
        scan_abandoned_task.apply(kwargs={"force": True}).get()
    assert mailbox.messages == []
    row = AbandonedEmail.objects.get()
    assert row.status == EmailStatus.FAILED
    assert "html part rendered empty" in row.error
    assert "rendered empty" in caplog.text


def test_a_default_site_domain_is_warned_about(abandoned, settings, site_settings, caplog):
    site = site_settings.site
    site.domain = "localhost:8123"
    site.save()
    settings.PUBLIC_URL = None
    with smtp_server() as (_mailbox, port):
        settings.USER_EMAIL_HOST = "127.0.0.1"
        settings.USER_EMAIL_PORT = str(port)
        scan_abandoned_task.apply(kwargs={"force": True}).get()
    assert "Site domain is 'localhost:8123'" in caplog.text


def test_email_apps_subscribed_to_notify_user_receive_the_email(
    abandoned, settings, permission_manage_users, customer_user, app_webhook
):
    """An app (SendGrid, Klaviyo, an SMTP app) gets the email as a NOTIFY_USER webhook."""
    import json

    from saleor.webhook.event_types import WebhookEventAsyncType

    received = app_webhook(WebhookEventAsyncType.NOTIFY_USER, permission_manage_users)
    with smtp_server() as (mailbox, port):
        settings.USER_EMAIL_HOST = "127.0.0.1"
        settings.USER_EMAIL_PORT = str(port)
        scan_abandoned_task.apply(kwargs={"force": True}).get()
    assert len(mailbox.messages) == 1  # SMTP and the app, both by default
    (event,) = received
    body = event if "notify_event" in event else json.loads(event["payload"])
    assert body["notify_event"] == "personalization_abandoned_checkout"
    assert body["payload"]["recipient_email"] == customer_user.email
    assert body["payload"]["checkout_token"] == str(abandoned.token)
    assert "<html" in body["payload"]["html"]


CHECKOUT_COMPLETE = """
mutation complete($id: ID!) {
  checkoutComplete(id: $id) { order { id number total { gross { amount } } } errors { code } }
}
"""
EMAIL_STATS = "{ personalizationEmailStats { step sent recoveredOrders revenue } }"


def _send_steps(hours_after_last_change: list[float], start):
    """Scan at each time (hours after the cart's last change), as beat would."""
    from freezegun import freeze_time

    for hours in hours_after_last_change:
        with freeze_time(start + timedelta(hours=hours)):
            scan_abandoned_task.apply(kwargs={"force": True}).get()


def test_a_paid_checkout_after_three_reminders_is_one_recovered_order(
    abandoned,
    set_plugin_setting,
    settings,
    user_api_client,
    staff_api_client,
    permission_manage_plugins,
    address,
    checkout_delivery,
):
    """checkoutComplete with a captured payment fires order_created and order_fully_paid;
    both record the order, and the order still counts once, for the last step."""
    from saleor.checkout import calculations
    from saleor.checkout.fetch import fetch_checkout_info, fetch_checkout_lines
    from saleor.order import OrderChargeStatus
    from saleor.order.models import Order
    from saleor.payment.models import Payment
    from saleor.plugins.manager import get_plugins_manager

    set_plugin_setting("abandoned_step_hours", "1,2,3")
    start = CartState.objects.get().last_change_at
    with smtp_server() as (mailbox, port):
        settings.USER_EMAIL_HOST = "127.0.0.1"
        settings.USER_EMAIL_PORT = str(port)
        _send_steps([1.5, 2.6, 3.7], start)
    assert [m["X-Personalization-Step"] for m in mailbox.messages] == ["1", "2", "3"]

    checkout = abandoned
    checkout.shipping_address = address
    checkout.billing_address = address
    checkout.assigned_delivery = checkout_delivery(checkout)
    checkout.save()
    manager = get_plugins_manager(allow_replica=False)
    lines, _ = fetch_checkout_lines(checkout)
    total = calculations.calculate_checkout_total_with_gift_cards(
        manager, fetch_checkout_info(checkout, lines, manager), lines
    )
    Payment.objects.create(
        gateway="mirumee.payments.dummy",
        checkout=checkout,
        is_active=True,
        total=total.gross.amount,
        currency=total.gross.currency,
        billing_email=checkout.email,
    )
    data = user_api_client.post_graphql(
        CHECKOUT_COMPLETE, {"id": graphene.Node.to_global_id("Checkout", checkout.pk)}
    ).json()["data"]["checkoutComplete"]
    assert data["errors"] == []
    order = Order.objects.get()
    assert order.charge_status == OrderChargeStatus.FULL  # so order_fully_paid fired too

    rows = AbandonedEmail.objects.order_by("step")
    assert [(r.step, r.order_ref) for r in rows] == [(1, ""), (2, ""), (3, str(order.pk))]
    assert rows[2].revenue == order.total_gross_amount
    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    staff_api_client.api_path = "/plugins/global/saleor.personalization/graphql/"
    stats = staff_api_client.post({"query": EMAIL_STATS}).json()["data"]
    steps = stats["personalizationEmailStats"]
    assert sum(s["recoveredOrders"] for s in steps) == 1
    assert sum(s["revenue"] for s in steps) == float(order.total_gross_amount)
    assert data["order"]["total"]["gross"]["amount"] == float(order.total_gross_amount)

"""Abandoned-checkout emails inside Saleor: a real checkout, Saleor's SMTP settings, links."""

from tests.saleor.requirements import require_saleor

require_saleor()

import re  # noqa: E402
from datetime import timedelta  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

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
    set_plugin_setting("abandoned_emails_enabled", "true")
    set_plugin_setting("abandoned_recovery_url", "https://shop.example.com/cart/{token}")
    checkout_with_item.user = customer_user
    checkout_with_item.email = customer_user.email
    checkout_with_item.language_code = "hu"
    checkout_with_item.save(update_fields=["user", "email", "language_code"])
    CustomerProfile.objects.create(
        customer_id=customer_user.pk, email=customer_user.email, marketing_consent=True
    )
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


def test_the_dashboard_refuses_a_broken_email_template(personalization_config):
    from django.core.exceptions import ValidationError

    from saleor_personalization.plugin import PersonalizationPlugin

    for item in personalization_config.configuration:
        if item["name"] == "emailsBodyTemplate":
            item["value"] = "{{#if first_name}}Hello{{/each}}"
    with pytest.raises(ValidationError, match=r"Emails · HTML \(Handlebars\)"):
        PersonalizationPlugin.validate_plugin_configuration(personalization_config)


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

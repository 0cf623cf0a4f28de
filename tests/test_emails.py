"""Abandoned-checkout emails, sent through a real SMTP server on loopback."""

# ruff: noqa: RUF001  (Turkish text has a dotless i)

import re
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.core.management import call_command
from django.utils import timezone

from saleor_personalization.configuration import (
    ConfigurationError,
    PersonalizationConfig,
    parse_configuration,
)
from saleor_personalization.emails.delivery import SmtpSettings, send_abandoned_email
from saleor_personalization.emails.render import TemplateError, validate_templates
from saleor_personalization.emails.sequence import create_due
from saleor_personalization.emails.tracking import attribute_order, email_stats
from saleor_personalization.events.erasure import erase_customer
from saleor_personalization.events.identity import address_digest
from saleor_personalization.models import (
    AbandonedEmail,
    CartState,
    CustomerProfile,
    EmailOptOut,
    EmailStatus,
    ItemChannel,
    ItemProfile,
    ListKind,
    RecommendationList,
    SegmentOffer,
    SubjectType,
)
from saleor_personalization.standalone.email_source import StandaloneCheckoutSource

from .smtp import smtp_server

pytestmark = pytest.mark.django_db

CHANNEL = "default-channel"
NOW = timezone.now()


def config(**overrides):
    base = parse_configuration(
        {
            "emailsRecoveryUrl": "https://shop.example.com/cart?checkout={token}",
            "emailsSmtpSecurity": "none",
        }
    )
    return replace(base, **overrides)


@pytest.fixture
def catalogue(settings):
    settings.PERSONALIZATION_PRODUCT_IMAGE_URL = "https://cdn.example.com/{id}.png"
    settings.PERSONALIZATION_PUBLIC_URL = "http://testserver"
    settings.PERSONALIZATION_SHOP_NAME = "Kedi Shop"
    for pk, name, price in ((1, "Blue Mug", "12.50"), (2, "Red Teapot", "30.00"), (3, "Tea", "6")):
        item = ItemProfile.objects.create(
            product_id=pk, name=name, price_amount=Decimal(price), currency="EUR"
        )
        ItemChannel.objects.create(
            item=item, channel=CHANNEL, price_amount=Decimal(price), currency="EUR"
        )
    RecommendationList.objects.create(
        kind=ListKind.BOUGHT_TOGETHER,
        subject_type=SubjectType.PRODUCT,
        subject_id=1,
        entries=[{"product_id": 3, "score": 1.0, "reason": "Often bought with Blue Mug"}],
        generated_at=NOW,
    )


def cart(token="c1", customer_id=7, email="ayse@example.com", idle_hours=2, language="tr"):
    if customer_id:
        CustomerProfile.objects.update_or_create(
            customer_id=customer_id,
            defaults={"marketing_consent": True, "email_digest": address_digest(email)},
        )
    return CartState.objects.create(
        token=token,
        channel=CHANNEL,
        customer_id=customer_id,
        email=email,
        language_code=language,
        lines={"v10": [1, 2], "v20": [2, 1]},
        last_change_at=NOW - timedelta(hours=idle_hours),
    )


def send(email_id, mailbox_port=None, settings_config=None, now=NOW):
    smtp = None
    if mailbox_port:
        smtp = SmtpSettings("127.0.0.1", mailbox_port, "", "", False, False)
    return send_abandoned_email(
        email_id,
        source=StandaloneCheckoutSource(),
        config=settings_config or config(),
        smtp=smtp,
        now=now,
    )


def parts(message):
    return {part.get_content_type(): part for part in message.walk()}


def links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_step_one_is_sent_with_both_parts_headers_and_working_links(catalogue, client):
    cart()
    (email_id,) = create_due(NOW, config())
    with smtp_server() as (mailbox, port):
        assert send(email_id, port).status == "sent"
    (message,) = mailbox.messages
    assert message["To"] == "ayse@example.com"
    assert message["From"] == "Kedi Shop <shop@localhost>"
    assert message["Subject"] == "Sepetinizde ürün kaldı"  # Turkish checkout, no first name
    assert message["List-Unsubscribe"].strip().startswith("<http://testserver/email/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = parts(message)
    assert set(body) >= {"multipart/alternative", "text/plain", "text/html"}
    text = body["text/plain"].get_payload(decode=True).decode()
    html = body["text/html"].get_payload(decode=True).decode()
    assert "Blue Mug x 2  25.00 EUR" in text
    assert "https://shop.example.com/cart?checkout=c1" in text
    assert "Toplam: 55.00 EUR" in text
    assert '<img src="https://cdn.example.com/1.png"' in html
    assert "Sepetinize dönün" in html
    row = AbandonedEmail.objects.get(pk=email_id)
    assert row.status == EmailStatus.SENT
    assert row.message_id.strip("<>") in str(message["Message-ID"])

    # The button goes through the click tracker to the recovery URL.
    button = next(link for link in links(html) if "/email/click/" in link)
    response = client.get(urlparse(button).path)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/cart?checkout=c1"
    # The open pixel is a real GIF.
    pixel = re.search(r'src="(http://testserver/email/open/[^"]+)"', html).group(1)
    response = client.get(urlparse(pixel).path)
    assert response["Content-Type"] == "image/gif"
    row.refresh_from_db()
    assert row.clicked_at is not None
    assert row.opened_at is not None
    # A forged click link is refused, never redirected.
    assert client.get("/email/click/forged:abc/").status_code == 400


def test_unsubscribe_link_needs_a_post_then_stops_the_sequence(catalogue, client):
    cart()
    (email_id,) = create_due(NOW, config())
    with smtp_server() as (mailbox, port):
        send(email_id, port)
    unsubscribe = urlparse(mailbox.messages[0]["List-Unsubscribe"].strip().strip("<>")).path
    page = client.get(unsubscribe)
    assert page.status_code == 200
    assert "ayse@example.com" not in page.content.decode()  # the link carries no address
    assert not EmailOptOut.objects.exists()  # a link scanner's GET changes nothing
    assert client.post(unsubscribe).status_code == 200
    assert EmailOptOut.objects.count() == 1
    assert CustomerProfile.objects.get(customer_id=7).marketing_consent is False
    # 24 hours later step 2 would be due: the unsubscribed address gets nothing.
    assert create_due(NOW + timedelta(hours=25), config()) == []


def test_the_sequence_adds_recommendations_then_the_offer(catalogue):
    cart(language="en")
    SegmentOffer.objects.create(
        campaign="abandoner",
        segment_key="frequent-abandoners",
        voucher_id=1,
        customer_id=7,
        code="ABCD-EFGH-IJKL-MNOP-QRST",
        issued_at=NOW,
        expires_at=NOW + timedelta(days=10),
    )
    received = []
    with smtp_server() as (mailbox, port):
        for hours in (2, 26, 74):
            now = NOW + timedelta(hours=hours - 2)
            created = create_due(now, config())
            assert len(created) == 1, hours
            assert send(created[0], port, now=now).status == "sent"
            assert create_due(now, config()) == []  # one step per checkout and scan
        received = mailbox.messages
    steps = [m["X-Personalization-Step"] for m in received]
    assert steps == ["1", "2", "3"]
    html = [parts(m)["text/html"].get_payload(decode=True).decode() for m in received]
    assert "Picked for you" not in html[0]
    assert "Picked for you" in html[1]
    assert "Tea" in html[1]  # bought together with the mug
    assert "ABCD-EFGH-IJKL-MNOP-QRST" not in html[1]
    assert "ABCD-EFGH-IJKL-MNOP-QRST" in html[2]
    assert received[2]["Subject"] == "Your cart is about to expire, here is a little extra"


def test_steps_do_not_bunch_up_when_a_checkout_is_already_old(catalogue):
    cart(idle_hours=100)
    assert [AbandonedEmail.objects.get(pk=i).step for i in create_due(NOW, config())] == [1]
    assert create_due(NOW + timedelta(hours=1), config()) == []  # step 2 waits 23 hours
    assert len(create_due(NOW + timedelta(hours=23), config())) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"completed_at": NOW}, "checkout completed"),
        ({"lines": {}}, "checkout emptied"),
    ],
)
def test_the_sequence_stops_when_the_checkout_is_completed_or_emptied(catalogue, change, reason):
    cart()
    (email_id,) = create_due(NOW, config())
    CartState.objects.filter(token="c1").update(**change)
    result = send(email_id)
    assert result.status == "skipped"
    assert result.reason == reason
    assert create_due(NOW + timedelta(hours=30), config()) == []


def test_consent_is_required_unless_the_merchant_says_otherwise(catalogue):
    cart(token="guest", customer_id=None, email="guest@example.com")
    cart(token="no-consent", customer_id=8, email="bob@example.com")
    CustomerProfile.objects.filter(customer_id=8).update(marketing_consent=False)
    assert create_due(NOW, config()) == []
    relaxed = config(abandoned_require_consent=False)
    assert len(create_due(NOW, relaxed)) == 2


def test_exactly_once_even_when_sent_twice_or_scanned_twice(catalogue):
    cart()
    ids = create_due(NOW, config())
    assert create_due(NOW, config()) == []
    with smtp_server() as (mailbox, port):
        assert send(ids[0], port).status == "sent"
        assert send(ids[0], port).status == "not-pending"
    assert len(mailbox.messages) == 1
    assert AbandonedEmail.objects.count() == 1


def test_a_failed_smtp_send_leaves_the_email_pending_for_the_retry(catalogue):
    cart()
    (email_id,) = create_due(NOW, config())
    with smtp_server(fail_first=lambda _address: True) as (mailbox, port):
        with pytest.raises(Exception, match="Try again later"):
            send(email_id, port)
        assert AbandonedEmail.objects.get(pk=email_id).status == EmailStatus.PENDING
        assert send(email_id, port).status == "sent"
    assert len(mailbox.messages) == 1


def test_languages_and_dashboard_templates(catalogue):
    cart(token="hu", customer_id=1, email="a@example.com", language="hu-HU")
    cart(token="en", customer_id=2, email="b@example.com", language="de")
    custom = config(
        email_subject_template="{{shop_name}}: {{line_count}} items wait (step {{step}})",
    )
    with smtp_server() as (mailbox, port):
        for email_id in create_due(NOW, config()):
            send(email_id, port)
        subjects = {m["To"]: m["Subject"] for m in mailbox.messages}
        assert subjects["a@example.com"] == "A kosaradban maradt valami"
        assert subjects["b@example.com"] == "You left something in your cart"  # fallback
        AbandonedEmail.objects.all().delete()
        for email_id in create_due(NOW, custom):
            send(email_id, port, settings_config=custom)
        assert mailbox.messages[-1]["Subject"] == "Kedi Shop: 2 items wait (step 1)"


def test_bad_templates_and_settings_are_refused_with_the_reason():
    with pytest.raises(TemplateError, match="does not compile"):
        validate_templates("{{#if x}}a{{/each}}", "", config())
    with pytest.raises(ConfigurationError, match="increasing"):
        parse_configuration({"abandoned_step_hours": "24,1"})
    with pytest.raises(ConfigurationError, match=r"\{token\}"):
        parse_configuration({"abandoned_recovery_url": "https://shop.example.com/cart"})


def test_recovered_orders_are_attributed_to_the_last_step_and_reported(catalogue):
    cart()
    (email_id,) = create_due(NOW, config())
    with smtp_server() as (_mailbox, port):
        send(email_id, port)
    assert attribute_order("c1", "order-9", Decimal("55.00"), "EUR") is True
    assert attribute_order("c1", "order-9", Decimal("55.00"), "EUR") is False  # once
    (step,) = email_stats(NOW - timedelta(days=1))
    assert (step.step, step.sent, step.recovered_orders, step.revenue) == (1, 1, 1, Decimal(55))


def test_erasure_deletes_the_customers_unsent_emails(catalogue):
    cart()
    create_due(NOW, config())
    report = erase_customer(7, "ayse@example.com")
    assert report.deleted["abandoned_emails"] == 1
    assert not AbandonedEmail.objects.exists()


def test_erasure_leaves_the_email_report_as_it_was_with_nothing_of_the_customer(catalogue):
    cart(email="Ayse@Example.com")
    (email_id,) = create_due(NOW, config())
    with smtp_server() as (_mailbox, port):
        send(email_id, port)
    attribute_order("c1", "order-9", Decimal("55.00"), "EUR")
    before = email_stats(NOW - timedelta(days=1))
    report = erase_customer(7, "ayse@example.com")
    assert report.deleted["abandoned_emails_anonymised"] == 1
    assert email_stats(NOW - timedelta(days=1)) == before  # sent 1, recovered 1, 55.00
    row = AbandonedEmail.objects.get(pk=email_id)
    assert row.customer_id is None
    assert row.checkout_token == f"erased-{email_id}"
    tied = (row.recipient_hash, row.subject, row.message_id, row.voucher_code, row.order_ref)
    assert tied == ("", "", "", "", "erased")
    # Another erasure (say, of the address behind a guest order) finds nothing left.
    assert erase_customer(7, "ayse@example.com").deleted["abandoned_emails_anonymised"] == 0


def test_address_hashes_are_keyed_and_the_plain_ones_of_earlier_versions_still_count(
    catalogue, settings
):
    import hashlib

    from saleor_personalization.emails.links import email_hash

    plain = hashlib.sha256(b"ayse@example.com").hexdigest()
    keyed = email_hash(" Ayse@Example.com")
    assert keyed != plain
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert email_hash("ayse@example.com") != keyed  # keyed: unknown without SECRET_KEY
    settings.SECRET_KEY = settings.SECRET_KEY.replace("another", "the-old")
    cart()
    (email_id,) = create_due(NOW, config())
    row = AbandonedEmail.objects.get(pk=email_id)
    assert row.recipient_hash == email_hash("ayse@example.com") != plain
    # An opt-out an earlier version recorded under the plain hash still stops the email.
    EmailOptOut.objects.create(email_hash=plain, opted_out_at=NOW)
    with smtp_server() as (mailbox, port):
        assert send(email_id, port).status == "skipped"
    assert mailbox.messages == []
    assert create_due(NOW + timedelta(hours=25), config()) == []
    # Erasure finds rows under either form of the address's hash: the old pending row
    # goes, the skipped one stays only as an anonymous count.
    AbandonedEmail.objects.create(
        checkout_token="old", step=1, recipient_hash=plain, created_at=NOW
    )
    report = erase_customer(999, "ayse@example.com")
    assert (report.deleted["abandoned_emails"], report.deleted["abandoned_emails_anonymised"]) == (
        1,
        1,
    )
    assert not AbandonedEmail.objects.exclude(recipient_hash="").exists()


def test_a_subject_that_fails_rendering_is_reported_on_the_subject():
    with pytest.raises(TemplateError, match="fails on sample data") as refused:
        validate_templates("{{lookup}}", "", config())
    assert refused.value.part == "subject"
    with pytest.raises(TemplateError) as refused:
        validate_templates("", "{{lookup}}<a href='{{unsubscribe_url}}'>x</a>", config())
    assert refused.value.part == "body"


def test_the_html_title_escapes_the_subject_once():
    from saleor_personalization.emails.render import (
        SAMPLE_CONTENT,
        SAMPLE_PRODUCTS,
        SAMPLE_SHOP,
        render_email,
    )

    rendered = render_email(
        content=replace(SAMPLE_CONTENT, first_name="<b>&"),
        step=1,
        email_id=1,
        config=config(email_subject_template="{{first_name}}, your cart"),
        shop=SAMPLE_SHOP,
        recommendations=SAMPLE_PRODUCTS,
        voucher_code="",
        voucher_expires=None,
        recovery_template="https://shop.test/cart/{token}",
    )
    assert rendered.subject == "<b>&, your cart"
    assert "<title>&lt;b&gt;&amp;, your cart</title>" in rendered.html


def test_send_abandoned_dry_run_shows_what_would_be_sent(catalogue, settings, capsys):
    settings.PERSONALIZATION_CONFIGURATION = {
        "emailsRecoveryUrl": "https://shop.example.com/cart/{token}",
    }
    cart()
    call_command("personalization_send_abandoned", "--dry-run")
    out = capsys.readouterr().out
    assert "c1" in out
    assert "ayse@example.com" in out
    assert "Sepetinizde ürün kaldı" in out
    assert not AbandonedEmail.objects.exists()  # a dry run writes nothing


def test_staff_email_stats_over_graphql(catalogue, client):
    from saleor_personalization.standalone.graphql_backend import issue_token

    cart()
    (email_id,) = create_due(NOW, config())
    with smtp_server() as (_mailbox, port):
        send(email_id, port)
    attribute_order("c1", "order-1", Decimal("55"), "EUR")
    query = "{ personalizationEmailStats { step sent opened clicked recoveredOrders revenue } }"
    staff = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(staff=True)}"}
    body = client.post("/graphql/", {"query": query}, content_type="application/json", **staff)
    assert body.json()["data"]["personalizationEmailStats"] == [
        {"step": 1, "sent": 1, "opened": 0, "clicked": 0, "recoveredOrders": 1, "revenue": 55.0}
    ]
    customer = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(customer_id=7)}"}
    body = client.post("/graphql/", {"query": query}, content_type="application/json", **customer)
    assert body.json()["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


def test_sender_values_that_cannot_work_are_refused_on_save():
    for name, value in (
        ("emailsSenderName", "Shop\r\nBcc: evil@example.com"),
        ("emailsSenderAddress", "a@b.com\r\nBcc: x"),
        ("emailsSenderAddress", "not-an-address"),
        ("emailsConsentMetadataKey", "two words"),
    ):
        with pytest.raises(ConfigurationError) as refused:
            parse_configuration({name: value})
        assert refused.value.field == name
    parsed = parse_configuration(
        {"emailsSenderName": " Kedi Shop ", "emailsSenderAddress": "shop@example.com"}
    )
    assert (parsed.sender_name, parsed.sender_address) == ("Kedi Shop", "shop@example.com")
    assert parse_configuration({"emailsConsentMetadataKey": ""}).consent_metadata_key == ""


def _failed_unsent(saved: PersonalizationConfig) -> AbandonedEmail:
    """Send a due email under settings saved before a check refused them: nothing may
    reach the server and the row must be failed (with its reason), never left pending."""
    cart()
    (email_id,) = create_due(NOW, saved)
    with smtp_server() as (mailbox, port):
        result = send(email_id, port, settings_config=saved)
    assert mailbox.messages == []
    assert result.status == "failed"
    row = AbandonedEmail.objects.get(pk=email_id)
    assert row.status == EmailStatus.FAILED
    return row


def test_a_sender_django_refuses_marks_the_email_failed_with_the_reason(catalogue, caplog):
    row = _failed_unsent(config(sender_address="a@b.com\r\nBcc: x"))
    assert row.error.startswith("message not built: ")
    assert "not sent" in caplog.text


def test_message_id_is_well_formed_with_a_sender_name(catalogue):
    cart()
    named = config(sender_name="Kedi Shop", sender_address="shop@e2e.test")
    (email_id,) = create_due(NOW, named)
    with smtp_server() as (mailbox, port):
        assert send(email_id, port, settings_config=named).status == "sent"
    (message,) = mailbox.messages
    assert message["From"] == "Kedi Shop <shop@e2e.test>"
    message_id = str(message["Message-ID"])
    assert re.fullmatch(rf"<[^<>@\s]+\.abandoned-{email_id}@e2e\.test>", message_id), message_id
    assert AbandonedEmail.objects.get(pk=email_id).message_id == message_id


def test_an_unclosed_block_is_refused_on_save_with_the_place_named():
    with pytest.raises(TemplateError, match=r"\{\{#each\}\} on line 1 is never closed") as error:
        validate_templates("", "{{#each lines}}<p>{{name}}", config())
    assert error.value.part == "body"
    with pytest.raises(TemplateError, match="never closed") as error:
        validate_templates("{{#if first_name}}Hi", "", config())
    assert error.value.part == "subject"
    with pytest.raises(TemplateError, match="unsubscribe link"):
        validate_templates("", "<p>{{greeting}}</p>", config())
    # The built-in templates pass the same check, in every language.
    from saleor_personalization.emails.render import default_body
    from saleor_personalization.emails.strings import STRINGS

    for strings in STRINGS.values():
        for subject in strings["subjects"].values():
            validate_templates(subject, default_body(), config())
    # A complete template passes: blocks closed, the unsubscribe link present.
    validate_templates(
        "{{shop_name}}",
        '{{#each lines}}<p>{{name}}</p>{{/each}}<a href="{{unsubscribe_url}}">x</a>',
        config(),
    )


def test_a_template_that_renders_an_empty_part_is_never_sent(catalogue, caplog):
    row = _failed_unsent(config(email_body_template="{{#each lines}}<p>{{name}}"))
    assert row.error == "the html part rendered empty; check the Dashboard's email templates"
    assert "rendered empty" in caplog.text


def test_recommendations_link_to_the_product_page_through_the_click_tracker(catalogue, client):
    ItemProfile.objects.filter(pk=3).update(external_ref="green-tea")
    cart(idle_hours=26)
    linked = config(storefront_product_url="https://shop.example.com/products/{slug}")
    with smtp_server() as (mailbox, port):
        for now in (NOW, NOW + timedelta(hours=23)):
            (email_id,) = create_due(now, linked)
            send(email_id, port, settings_config=linked, now=now)
        step_two = parts(mailbox.messages[1])["text/html"].get_payload(decode=True).decode()
    targets = []
    for link in links(step_two):
        if "/email/click/" in link:
            targets.append(client.get(urlparse(link).path)["Location"])
    assert "https://shop.example.com/products/green-tea" in targets
    assert targets.count("https://shop.example.com/cart?checkout=c1") == 1  # the button only
    text = parts(mailbox.messages[1])["text/plain"].get_payload(decode=True).decode()
    assert "Tea  6.00 EUR  https://shop.example.com/products/green-tea" in text


def test_without_a_product_url_recommendations_are_not_links_to_the_cart(catalogue, client):
    cart(idle_hours=26, language="en")
    with smtp_server() as (mailbox, port):
        for now in (NOW, NOW + timedelta(hours=23)):
            (email_id,) = create_due(now, config())
            send(email_id, port, now=now)
        step_two = parts(mailbox.messages[1])["text/html"].get_payload(decode=True).decode()
    assert "Picked for you" in step_two
    clicks = [link for link in links(step_two) if "/email/click/" in link]
    assert len(clicks) == 1  # the button; a product no longer pretends to be the cart
    with pytest.raises(ConfigurationError, match=r"\{slug\} or \{id\}"):
        parse_configuration({"storefront_product_url": "https://shop.example.com/products"})


def test_the_dry_run_shows_the_subject_that_is_sent(catalogue, settings, capsys):
    settings.PERSONALIZATION_CONFIGURATION = {
        "emailsRecoveryUrl": "https://shop.example.com/cart/{token}",
        "emailsStepHours": "1",  # one step: it is the last, with the offer
        "emailsSubjectTemplate": "{{#if voucher_code}}A code for you{{else}}Your cart{{/if}}",
        "emailsSmtpSecurity": "none",
    }
    cart(language="en")
    SegmentOffer.objects.create(
        campaign="abandoner",
        segment_key="frequent-abandoners",
        voucher_id=1,
        customer_id=7,
        code="ABCD-EFGH-IJKL-MNOP-QRST",
        issued_at=NOW,
        expires_at=NOW + timedelta(days=10),
    )
    call_command("personalization_send_abandoned", "--dry-run")
    dry = capsys.readouterr().out
    with smtp_server() as (mailbox, port):
        settings.PERSONALIZATION_CONFIGURATION |= {
            "emailsSmtpHost": "127.0.0.1",
            "emailsSmtpPort": port,
        }
        call_command("personalization_send_abandoned")
    (message,) = mailbox.messages
    assert message["Subject"] == "A code for you"
    assert "A code for you" in dry
    assert "personal code" in dry


def test_send_abandoned_prints_a_clear_summary(catalogue, settings, capsys):
    settings.PERSONALIZATION_CONFIGURATION = {
        "emailsRecoveryUrl": "https://shop.example.com/cart/{token}",
        "emailsRequireConsent": False,
    }
    call_command("personalization_send_abandoned")
    assert "Nothing is due" in capsys.readouterr().out
    cart()
    cart(token="c2", customer_id=None, email="guest@example.com")
    ItemProfile.objects.all().delete()  # c2's products are gone too: c1 and c2 have no lines
    with smtp_server() as (mailbox, port):
        settings.PERSONALIZATION_CONFIGURATION |= {
            "emailsSmtpHost": "127.0.0.1",
            "emailsSmtpPort": port,
            "emailsSmtpSecurity": "none",
        }
        call_command("personalization_send_abandoned")
    assert mailbox.messages == []
    out = capsys.readouterr().out
    assert "2 emails due (step 1: 2)." in out
    assert "Sent: 0" in out
    assert "Not sent (stopped or not allowed): 2 (checkout emptied: 2)" in out
    assert "due 0; " not in out


def test_the_summary_counts_the_checkouts_refused_as_the_dry_run_does(catalogue, settings, capsys):
    from saleor_personalization.emails.links import email_hash

    cart()
    cart(token="c2", customer_id=None, email="guest@example.com")  # a guest: no consent
    cart(token="c3", customer_id=9, email="gone@example.com")
    EmailOptOut.objects.create(email_hash=email_hash("gone@example.com"), opted_out_at=NOW)
    with smtp_server() as (mailbox, port):
        settings.PERSONALIZATION_CONFIGURATION = {
            "emailsRecoveryUrl": "https://shop.example.com/cart/{token}",
            "emailsSmtpHost": "127.0.0.1",
            "emailsSmtpPort": port,
            "emailsSmtpSecurity": "none",
        }
        call_command("personalization_send_abandoned", "--dry-run")
        assert "Dry run: 1 of 3 due emails would be sent" in capsys.readouterr().out
        call_command("personalization_send_abandoned")
    assert len(mailbox.messages) == 1
    out = capsys.readouterr().out
    assert "3 emails due (step 1: 3)." in out
    assert "Sent: 1" in out
    assert "Not sent (stopped or not allowed): 2 (" in out
    assert "no marketing consent (guest): 1" in out
    assert "unsubscribed: 1" in out


def test_rows_keep_a_hash_and_the_unsubscribe_link_no_address_and_expires(catalogue, client):
    import time

    from django.core import signing

    from saleor_personalization.emails import links as email_links

    cart()
    (email_id,) = create_due(NOW, config())
    with smtp_server() as (mailbox, port):
        send(email_id, port)
    row = AbandonedEmail.objects.get(pk=email_id)
    stored = [str(value) for value in AbandonedEmail.objects.values().get(pk=email_id).values()]
    assert not any("ayse@example.com" in value for value in stored)
    assert row.recipient_hash == email_links.email_hash("Ayse@Example.com ")
    unsubscribe = urlparse(mailbox.messages[0]["List-Unsubscribe"].strip().strip("<>")).path
    token = unsubscribe.rstrip("/").rsplit("/", 1)[1]
    payload = signing.b64_decode(token.split(":")[0].encode()).decode()
    assert "ayse" not in payload
    assert "example.com" not in payload

    class SignedLongAgo(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 91 * 24 * 3600)

    old = SignedLongAgo(salt="saleor_personalization.email.unsubscribe.v2").sign_object(
        {"e": email_id, "h": row.recipient_hash}
    )
    expired = client.post(f"/email/unsubscribe/{old}/")
    assert expired.status_code == 410
    assert "has expired" in expired.content.decode()
    assert not EmailOptOut.objects.exists()
    # A link of the earlier format (plain address, no date) answers the same page.
    legacy = signing.Signer(salt="saleor_personalization.email.unsubscribe").sign_object(
        {"a": "ayse@example.com", "c": 7}
    )
    assert client.post(f"/email/unsubscribe/{legacy}/").status_code == 410
    assert client.get("/email/unsubscribe/forged:abc/").status_code == 400
    assert not EmailOptOut.objects.exists()
    assert client.post(unsubscribe).status_code == 200  # a fresh one works
    assert EmailOptOut.objects.filter(email_hash=row.recipient_hash).exists()


def test_a_cart_sent_to_another_address_than_the_accounts_gets_no_personal_content(catalogue):
    # The cart belongs to customer 7 (ayse@example.com) but carries someone else's address.
    cart(language="en")
    CartState.objects.filter(token="c1").update(email="attacker@example.com")
    SegmentOffer.objects.create(
        campaign="abandoner",
        segment_key="frequent-abandoners",
        voucher_id=1,
        customer_id=7,
        code="ABCD-EFGH-IJKL-MNOP-QRST",
        issued_at=NOW,
        expires_at=NOW + timedelta(days=10),
    )
    one_step = config(abandoned_step_hours=(1,))
    (email_id,) = create_due(NOW, one_step)  # the scan's pre-filter trusts the mirror
    with smtp_server() as (mailbox, port):
        result = send(email_id, port, settings_config=one_step)
        assert result.status == "skipped"
        assert result.reason == (
            "no marketing consent (the checkout's address is not the account's own)"
        )
        relaxed = replace(one_step, abandoned_require_consent=False)
        AbandonedEmail.objects.all().delete()
        (email_id,) = create_due(NOW, relaxed)
        assert send(email_id, port, settings_config=relaxed).status == "sent"
    (message,) = mailbox.messages
    assert message["To"] == "attacker@example.com"
    html = parts(message)["text/html"].get_payload(decode=True).decode()
    assert "ABCD-EFGH-IJKL-MNOP-QRST" not in html
    assert "Blue Mug" in html  # the cart itself is the checkout's own
    assert AbandonedEmail.objects.get(pk=email_id).customer_id is None

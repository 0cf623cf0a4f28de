"""Whom a reminder goes to, with whose content: issue 16's attack, through Saleor's GraphQL.

A typed email proves nothing. A guest checkout created with a customer's address, or
a customer's checkout whose email was changed to another address, must not carry
that customer's picks, code or consent; the email goes to the checkout's own address
only. The owner's own checkout, logged in, gets all of it (the control).
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import re  # noqa: E402
from datetime import timedelta  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import graphene  # noqa: E402
import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.emails.links import email_hash  # noqa: E402
from saleor_personalization.models import (  # noqa: E402
    AbandonedEmail,
    CartState,
    CustomerProfile,
    ListKind,
    RecommendationList,
    SegmentOffer,
    SubjectType,
)
from saleor_personalization.services.backfill import backfill as run_backfill  # noqa: E402
from saleor_personalization.tasks import scan_abandoned_task  # noqa: E402
from tests.smtp import smtp_server  # noqa: E402

pytestmark = pytest.mark.django_db

CODE = "OWNER-CODE-AAAA-BBBB-CCCC"
ELSEWHERE = "someone.else@example.com"

CHECKOUT_CREATE = """
mutation create($input: CheckoutCreateInput!) {
  checkoutCreate(input: $input) { checkout { id token email } errors { field code message } }
}
"""
EMAIL_UPDATE = """
mutation email($id: ID!, $email: String!) {
  checkoutEmailUpdate(id: $id, email: $email) { errors { field code message } }
}
"""


@pytest.fixture
def owner_history(
    personalization_config, set_plugin_setting, product_list, channel_USD, customer_user, settings
):
    """The customer has consent, a personal pick and a live code; the shop has a popular list."""
    set_plugin_setting("emailsRecoveryUrl", "https://shop.example.com/cart/{token}")
    set_plugin_setting("storefront_product_url", "https://shop.example.com/products/{slug}")
    set_plugin_setting("abandoned_step_hours", "1,2")
    run_backfill()
    in_cart, popular, personal = product_list
    CustomerProfile.objects.update_or_create(
        customer_id=customer_user.pk,
        defaults={"email": customer_user.email, "marketing_consent": True},
    )
    now = timezone.now()
    RecommendationList.objects.create(
        kind=ListKind.PERSONAL,
        subject_type=SubjectType.CUSTOMER,
        subject_id=customer_user.pk,
        entries=[{"product_id": personal.pk, "score": 1.0, "reason": "Because you bought X"}],
        generated_at=now,
    )
    RecommendationList.objects.create(
        kind=ListKind.POPULAR,
        channel=channel_USD.slug,
        entries=[{"product_id": popular.pk, "score": 1.0, "reason": "Popular"}],
        generated_at=now,
    )
    # A code Saleor takes: the email shows only codes the shop would still accept.
    from saleor.discount.models import Voucher, VoucherChannelListing, VoucherCode

    voucher = Voucher.objects.create(name="Come back", single_use=True)
    VoucherChannelListing.objects.create(
        voucher=voucher, channel=channel_USD, discount_value=10, currency="USD"
    )
    VoucherCode.objects.create(voucher=voucher, code=CODE)
    SegmentOffer.objects.create(
        campaign="abandoner",
        segment_key="frequent-abandoners",
        voucher_id=voucher.pk,
        customer_id=customer_user.pk,
        code=CODE,
        issued_at=now,
        expires_at=now + timedelta(days=10),
    )
    return {"in_cart": in_cart, "popular": popular, "personal": personal}


def _create_checkout(client, channel, variant, email):
    variables = {
        "input": {
            "channel": channel.slug,
            "email": email,
            "lines": [
                {
                    "quantity": 1,
                    "variantId": graphene.Node.to_global_id("ProductVariant", variant.pk),
                }
            ],
        }
    }
    data = client.post_graphql(CHECKOUT_CREATE, variables).json()["data"]["checkoutCreate"]
    assert data["errors"] == []
    return data["checkout"]


def _run_sequence(settings, token) -> list:
    """Scan when step 1 and then step 2 are due; return what the SMTP server received."""
    from freezegun import freeze_time

    start = CartState.objects.get(token=token).last_change_at
    with smtp_server() as (mailbox, port):
        settings.USER_EMAIL_HOST = "127.0.0.1"
        settings.USER_EMAIL_PORT = str(port)
        for hours in (1.5, 2.6):
            with freeze_time(start + timedelta(hours=hours)):
                scan_abandoned_task.apply(kwargs={"force": True}).get()
    return mailbox.messages


def _html(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode()


def _checkout(kind, clients, owner_history, channel_USD, customer_user):
    """Create the checkout as the shop would see it: guest, owner, or owner elsewhere."""
    variant = owner_history["in_cart"].variants.first()
    if kind == "guest typing the owner's address":
        return _create_checkout(clients["anonymous"], channel_USD, variant, customer_user.email)
    checkout = _create_checkout(clients["owner"], channel_USD, variant, customer_user.email)
    if kind == "owner's checkout sent elsewhere":
        errors = (
            clients["owner"]
            .post_graphql(EMAIL_UPDATE, {"id": checkout["id"], "email": ELSEWHERE})
            .json()["data"]["checkoutEmailUpdate"]["errors"]
        )
        assert errors == []
    return checkout


@pytest.fixture
def clients(api_client, user_api_client):
    return {"anonymous": api_client, "owner": user_api_client}


@pytest.mark.parametrize(
    "kind", ["guest typing the owner's address", "owner's checkout sent elsewhere"]
)
def test_without_proof_of_the_account_no_consent_is_borrowed(
    kind, owner_history, clients, channel_USD, customer_user, settings
):
    """The owner consented; a checkout that is not provably theirs gets no email."""
    checkout = _checkout(kind, clients, owner_history, channel_USD, customer_user)
    assert _run_sequence(settings, checkout["token"]) == []
    for row in AbandonedEmail.objects.all():  # the scan may pre-select; the sender refuses
        assert row.status == "skipped"
        assert row.error.startswith("no marketing consent")
        assert row.customer_id is None


@pytest.mark.parametrize(
    ("kind", "recipient", "personal"),
    [
        ("guest typing the owner's address", "owner", False),
        ("owner's checkout sent elsewhere", ELSEWHERE, False),
        ("owner's own checkout", "owner", True),
    ],
)
def test_personal_content_only_for_the_account_at_its_own_address(
    kind,
    recipient,
    personal,
    owner_history,
    clients,
    channel_USD,
    customer_user,
    settings,
    set_plugin_setting,
    client,
):
    set_plugin_setting("abandoned_require_consent", "false")
    checkout = _checkout(kind, clients, owner_history, channel_USD, customer_user)
    messages = _run_sequence(settings, checkout["token"])
    address = customer_user.email if recipient == "owner" else recipient
    assert [m["To"] for m in messages] == [address, address]  # the checkout's own address
    last = _html(messages[1])  # the last step: picks and, for the owner, the code
    assert owner_history["in_cart"].name in last  # the cart itself is always the checkout's
    assert (CODE in last) is personal
    assert (owner_history["personal"].name in last) is personal
    if not personal:
        assert owner_history["popular"].name in last  # picks that know no one
    rows = AbandonedEmail.objects.order_by("step")
    assert {r.customer_id for r in rows} == {customer_user.pk if personal else None}
    assert [r.voucher_code for r in rows] == ["", CODE if personal else ""]  # last step only
    assert {r.recipient_hash for r in rows} == {email_hash(address)}

    # Recommended products link to their storefront page, through the click tracker.
    shown = owner_history["personal"] if personal else owner_history["popular"]
    targets = {
        client.get(urlparse(link).path)["Location"]
        for link in re.findall(r'href="([^"]+/email/click/[^"]+)"', last)
    }
    assert f"https://shop.example.com/products/{shown.slug}" in targets

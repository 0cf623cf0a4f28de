"""Item and customer profiles follow what the catalogue and accounts say."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from saleor_personalization.events.identity import address_digest
from saleor_personalization.events.types import OrderSnapshot
from saleor_personalization.features.customers import CustomerFeatures, upsert_customers
from saleor_personalization.features.items import (
    ItemChannelState,
    ItemFeatures,
    delete_items,
    upsert_items,
)
from saleor_personalization.models import CustomerProfile, ItemChannel, ItemProfile

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def item(**overrides) -> ItemFeatures:
    values = {
        "product_id": 1,
        "name": "Teapot",
        "external_ref": "teapot",
        "category_path": ("Home", "Kitchen"),
        "product_type": "Ceramics",
        "attributes": ("colour:blue",),
        "collections": ("summer",),
        "price_amount": Decimal("12.000"),
        "currency": "USD",
        "created_at": T0,
        "channels": (
            ItemChannelState("us", True, True, Decimal("12.000"), "USD"),
            ItemChannelState("eu", False, True, Decimal("11.000"), "EUR"),
        ),
    }
    values.update(overrides)
    return ItemFeatures(**values)


def test_upsert_creates_then_updates_only_what_changed():
    assert upsert_items([item()]) == 1
    profile = ItemProfile.objects.get()
    assert profile.category_path == ["Home", "Kitchen"]
    assert set(ItemChannel.objects.values_list("channel", "is_available")) == {
        ("us", True),
        ("eu", False),
    }
    stamp = profile.updated_at
    assert upsert_items([item()]) == 0
    assert ItemProfile.objects.get().updated_at == stamp

    upsert_items([item(name="Blue teapot", channels=(ItemChannelState("us", True, False),))])
    profile = ItemProfile.objects.get()
    assert profile.name == "Blue teapot"
    assert list(ItemChannel.objects.values_list("channel", "in_stock")) == [("us", False)]


def test_delete_items_removes_profile_and_channels():
    upsert_items([item(), item(product_id=2, external_ref="cup")])
    assert delete_items([1]) >= 1
    assert list(ItemProfile.objects.values_list("product_id", flat=True)) == [2]
    assert not ItemChannel.objects.filter(item_id=1).exists()


def test_customer_upsert_keeps_consent_unless_the_source_says():
    upsert_customers([CustomerFeatures(7, "a@example.com", "DE", "de", T0, consent=True)])
    profile = CustomerProfile.objects.get()
    assert (profile.email_digest, profile.country, profile.marketing_consent) == (
        address_digest("a@example.com"),
        "DE",
        True,
    )
    assert profile.consent_updated_at is not None
    upsert_customers([CustomerFeatures(7, "a@example.com", "FR", consent=None)])
    profile = CustomerProfile.objects.get()
    assert (profile.country, profile.marketing_consent) == ("FR", True)
    assert upsert_customers([CustomerFeatures(7, "a@example.com", "FR")]) == 0
    upsert_customers([CustomerFeatures(7, consent=False)])
    assert CustomerProfile.objects.get().marketing_consent is False


def test_order_summary_fields_are_not_touched_by_account_sync():
    from saleor_personalization.events.recording import record_order
    from saleor_personalization.events.types import LineSnapshot

    record_order(
        OrderSnapshot(
            order_id="o",
            channel="us",
            occurred_at=T0,
            customer_id=7,
            lines=(LineSnapshot(1, 1, 2, Decimal("3"), "USD", "l"),),
        )
    )
    upsert_customers([CustomerFeatures(7, "a@example.com", "DE")])
    profile = CustomerProfile.objects.get()
    assert (profile.orders_count, profile.total_spent) == (1, Decimal("6.000"))


def test_a_withdrawal_outlives_a_stale_consent_key():
    from saleor_personalization.emails.consent import set_marketing_consent

    upsert_customers([CustomerFeatures(7, "a@example.com", consent=True)])
    assert CustomerProfile.objects.get().marketing_consent is True
    set_marketing_consent(7, False)
    # Every later sync still reads "true" from the key: it said so once, not again.
    upsert_customers([CustomerFeatures(7, "a@example.com", "FR", consent=True)])
    profile = CustomerProfile.objects.get()
    assert (profile.country, profile.marketing_consent) == ("FR", False)
    # The key changing again (false, then true) is a new statement and counts.
    upsert_customers([CustomerFeatures(7, consent=False)])
    upsert_customers([CustomerFeatures(7, consent=True)])
    assert CustomerProfile.objects.get().marketing_consent is True
    # So does a grant after a withdrawal through the API against a stale "false".
    set_marketing_consent(7, False)
    upsert_customers([CustomerFeatures(7, consent=False)])
    set_marketing_consent(7, True)
    upsert_customers([CustomerFeatures(7, consent=False)])
    assert CustomerProfile.objects.get().marketing_consent is True


def test_a_choice_made_before_the_key_was_tracked_is_not_granted_over():
    """A profile from before the imported value was kept: the key can withdraw, not grant."""
    from saleor_personalization.emails.consent import set_marketing_consent

    set_marketing_consent(8, False)
    upsert_customers([CustomerFeatures(8, consent=True)])
    assert CustomerProfile.objects.get().marketing_consent is False
    upsert_customers([CustomerFeatures(8, consent=False)])
    upsert_customers([CustomerFeatures(8, consent=True)])
    assert CustomerProfile.objects.get().marketing_consent is True

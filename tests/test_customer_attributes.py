"""Customer attributes the merchant maps from metadata: setting, profile, features."""

import pytest

from saleor_personalization.configuration import ConfigurationError, parse_configuration
from saleor_personalization.features.customers import CustomerFeatures, upsert_customers
from saleor_personalization.features.matrices import customer_feature_names
from saleor_personalization.models import CustomerProfile

pytestmark = pytest.mark.django_db


def test_metadata_keys_are_parsed_in_order_without_repeats():
    config = parse_configuration(
        {"recommendationsCustomerMetadataKeys": " loyalty_tier,age_band,\nloyalty_tier "}
    )
    assert config.customer_attribute_keys == ("loyalty_tier", "age_band")
    assert parse_configuration({}).customer_attribute_keys == ()


def test_a_bad_metadata_key_is_refused_by_the_settings_name():
    with pytest.raises(ConfigurationError) as error:
        parse_configuration({"recommendationsCustomerMetadataKeys": "tier, what is this"})
    assert error.value.field == "recommendationsCustomerMetadataKeys"
    assert "'what is this' is not a metadata key" in str(error.value)
    with pytest.raises(ConfigurationError, match="at most 10 keys"):
        parse_configuration(
            {"recommendationsCustomerMetadataKeys": ",".join(f"k{n}" for n in range(11))}
        )


def test_attributes_are_stored_and_become_features_and_none_leaves_them():
    upsert_customers([CustomerFeatures(7, country="DE", attributes=("tier=gold",))])
    profile = CustomerProfile.objects.get(customer_id=7)
    assert profile.attributes == ["tier=gold"]
    assert customer_feature_names(profile, 7) == ["user:7", "country:DE", "meta:tier=gold"]

    # A source that says nothing about attributes (no keys mapped) keeps them ...
    upsert_customers([CustomerFeatures(7, country="DE")])
    assert CustomerProfile.objects.get(customer_id=7).attributes == ["tier=gold"]
    # ... one that says "none now" clears them.
    upsert_customers([CustomerFeatures(7, country="DE", attributes=())])
    assert CustomerProfile.objects.get(customer_id=7).attributes == []


def test_emptying_the_keys_forgets_the_attributes_before_the_next_training():
    from saleor_personalization.services.training import _refresh_customer_attributes

    upsert_customers([CustomerFeatures(8, attributes=("tier=gold",))])
    _refresh_customer_attributes()  # the standalone shop maps no keys
    assert CustomerProfile.objects.get(customer_id=8).attributes == []

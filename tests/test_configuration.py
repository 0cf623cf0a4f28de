"""Dashboard values (strings after an admin edit) become typed, validated settings."""

import pytest

from saleor_personalization.configuration import (
    FIELDS,
    ConfigurationError,
    PersonalizationConfig,
    default_configuration,
    parse_configuration,
)


def test_defaults_parse_to_the_dataclass_defaults():
    assert parse_configuration(default_configuration()) == PersonalizationConfig()
    assert parse_configuration([]) == PersonalizationConfig()


def test_default_configuration_is_what_the_dashboard_stores():
    items = {item["name"]: item["value"] for item in default_configuration()}
    assert items["tracking_enabled"] is True
    assert items["list_size"] == "50"
    assert set(items) == {spec.name for spec in FIELDS}


def test_strings_from_the_dashboard_are_typed():
    config = parse_configuration(
        [
            {"name": "tracking_enabled", "value": "false"},
            {"name": "list_size", "value": " 120 "},
            {"name": "recently_bought_days", "value": "0"},
            {"name": "unknown_field", "value": "ignored"},
        ]
    )
    assert config.tracking_enabled is False
    assert config.list_size == 120
    assert config.recently_bought_days == 0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("list_size", "lots", "list_size: 'lots' is not a whole number"),
        ("list_size", "5", "list_size: 5 is below the minimum 10"),
        ("max_per_category", "11", "max_per_category: 11 is above the maximum 10"),
        ("tracking_enabled", "maybe", "tracking_enabled: 'maybe' is not true or false"),
        ("training_interval_hours", "1.5", "'1.5' is not a whole number"),
    ],
)
def test_bad_values_are_refused_naming_the_field(name, value, message):
    with pytest.raises(ConfigurationError) as error:
        parse_configuration({name: value})
    assert message in str(error.value)
    assert error.value.field == name


def test_every_field_has_label_and_help_text():
    for spec in FIELDS:
        assert spec.label
        assert len(spec.help_text) > 20

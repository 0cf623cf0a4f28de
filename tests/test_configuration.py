"""Dashboard values (strings after an admin edit) become typed, validated settings."""

import pytest

from saleor_personalization.configuration import (
    FIELDS,
    ConfigurationError,
    PersonalizationConfig,
    default_configuration,
    parse_configuration,
    upgrade_items,
)


def test_defaults_parse_to_the_dataclass_defaults():
    assert parse_configuration(default_configuration()) == PersonalizationConfig()
    assert parse_configuration([]) == PersonalizationConfig()


def test_default_configuration_is_what_the_dashboard_stores():
    items = {item["name"]: item["value"] for item in default_configuration()}
    assert items["trackingEnabled"] is True
    assert items["recommendationsListSize"] == "50"
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
        ("recommendationsListSize", "lots", "'lots' is not a whole number"),
        ("recommendationsListSize", "5", "5 is below the minimum 10"),
        ("recommendationsMaxPerCategory", "11", "11 is above the maximum 10"),
        ("trackingEnabled", "maybe", "'maybe' is not true or false"),
        ("recommendationsRetrainHours", "1.5", "'1.5' is not a whole number"),
    ],
)
def test_bad_values_are_refused_naming_the_field(name, value, message):
    with pytest.raises(ConfigurationError) as error:
        parse_configuration({name: value})
    assert str(error.value) == f"{name}: {message}"
    assert error.value.field == name


def test_a_bad_value_under_its_old_name_is_refused_naming_the_new_field():
    with pytest.raises(ConfigurationError) as error:
        parse_configuration({"list_size": "lots"})
    assert error.value.field == "recommendationsListSize"


def test_settings_saved_under_their_old_names_keep_their_values():
    old = [
        {"name": "list_size", "value": "80"},
        {"name": "winback_voucher", "value": "WINBACK"},
        {"name": "abandoned_emails_enabled", "value": True},
    ]
    config = parse_configuration(old)
    assert (config.list_size, config.winback_voucher, config.abandoned_emails_enabled) == (
        80,
        "WINBACK",
        True,
    )
    assert upgrade_items(old) == [
        {"name": "recommendationsListSize", "value": "80"},
        {"name": "offersWinbackVoucher", "value": "WINBACK"},
        {"name": "emailsEnabled", "value": True},
    ]


def test_the_new_name_wins_over_the_old_one():
    items = [
        {"name": "list_size", "value": "80"},
        {"name": "recommendationsListSize", "value": "90"},
    ]
    assert parse_configuration(items).list_size == 90
    assert upgrade_items(items) == [{"name": "recommendationsListSize", "value": "90"}]


def test_names_survive_saleors_camel_casing_of_error_fields():
    """Saleor turns an error key into ``field`` by camel-casing it (splitting on "_")."""
    for spec in FIELDS:
        if spec.kind != "output":
            assert "_" not in spec.name, spec.name


def test_each_feature_reads_together_in_the_dashboards_layout():
    """The Dashboard shows text fields, then checkboxes, then passwords, each in order.

    Within each block a feature's settings must be contiguous, so that an admin reading
    top to bottom meets "Offers · …" once, then "Emails · …" once, and so on.
    """
    blocks = (
        [s for s in FIELDS if s.kind not in ("boolean", "password")],
        [s for s in FIELDS if s.kind == "boolean"],
        [s for s in FIELDS if s.kind == "password"],
    )
    for block in blocks:
        features = [spec.label.split(" · ")[0] for spec in block]
        assert all(" · " in spec.label for spec in block)
        seen = []
        for feature in features:
            if not seen or seen[-1] != feature:
                assert feature not in seen, f"{feature} is split in {features}"
                seen.append(feature)


def test_every_field_has_label_and_help_text():
    for spec in FIELDS:
        assert spec.label
        assert len(spec.help_text) > 20

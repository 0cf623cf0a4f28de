"""Dashboard values (strings after an admin edit) become typed, validated settings."""

import importlib
import random

import pytest

from saleor_personalization.configuration import (
    FIELDS,
    FOLDED_SWITCHES,
    ConfigurationError,
    PersonalizationConfig,
    default_configuration,
    in_form_order,
    parse_configuration,
    upgrade_items,
)
from saleor_personalization.recommender.session import SessionSettings

RECOVERY_URL = "https://shop.example.com/cart/{token}"


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
        ("emailsDelivery", "email", "'email' is not one of smtp, app, smtp+app, none"),
        ("emailsSmtpSecurity", "tls", "'tls' is not one of starttls, ssl, none"),
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
        {"name": "winback_enabled", "value": True},
    ]
    config = parse_configuration(old)
    assert (config.list_size, config.winback_voucher, config.winback_enabled) == (
        80,
        "WINBACK",
        True,
    )
    assert upgrade_items(old) == [
        {"name": "recommendationsListSize", "value": "80"},
        {"name": "offersWinbackVoucher", "value": "WINBACK"},
    ]


def test_the_new_name_wins_over_the_old_one():
    items = [
        {"name": "list_size", "value": "80"},
        {"name": "recommendationsListSize", "value": "90"},
    ]
    assert parse_configuration(items).list_size == 90
    assert upgrade_items(items) == [{"name": "recommendationsListSize", "value": "90"}]


def test_choices_read_as_an_admin_types_them():
    config = parse_configuration({"emailsDelivery": " SMTP + App ", "emailsSmtpSecurity": "SSL"})
    assert (config.email_delivery, config.smtp_security) == ("smtp+app", "ssl")
    assert (config.email_send_via_smtp, config.email_emit_notify_event) == (True, True)
    assert (config.smtp_use_tls, config.smtp_use_ssl) == (False, True)


@pytest.mark.parametrize(
    ("values", "on"),
    [
        ({}, {"winback": False, "abandoner": False, "emails": False, "session": True}),
        ({"offersWinbackVoucher": "WB"}, {"winback": True}),
        ({"offersWinbackVoucher": "  "}, {"winback": False}),
        ({"offersAbandonerVoucher": "AB"}, {"abandoner": True}),
        ({"emailsRecoveryUrl": RECOVERY_URL}, {"emails": True}),
        ({"emailsRecoveryUrl": RECOVERY_URL, "emailsDelivery": "none"}, {"emails": False}),
        ({"emailsDelivery": "app"}, {"emails": False}),  # no URL, no emails
        ({"recommendationsSessionWeight": "0"}, {"session": False}),
        ({"recommendationsSessionWeight": "0.01"}, {"session": True}),
    ],
)
def test_a_feature_is_on_when_its_value_is_filled_in(values, on):
    """The switches of earlier versions are read-only properties of the values."""
    config = parse_configuration(values)
    read = {
        "winback": config.winback_enabled,
        "abandoner": config.abandoner_offer_enabled,
        "emails": config.abandoned_emails_enabled,
        "session": config.session_enabled,
    }
    assert {feature: read[feature] for feature in on} == on
    assert SessionSettings.from_config(config).enabled is config.session_enabled


# A 0.2 configuration (every switch saved, as the Dashboard saves them) and what it meant.
SAVED_02 = {
    "offersWinbackVoucher": "WB",
    "offersAbandonerVoucher": "AB",
    "emailsRecoveryUrl": RECOVERY_URL,
    "recommendationsSessionWeight": "0.3",
}


@pytest.mark.parametrize(
    ("switches", "expected"),
    [
        (
            {},
            {
                "winback_voucher": "WB",
                "abandoner_voucher": "AB",
                "email_delivery": "smtp+app",
                "smtp_security": "starttls",
                "session_weight": 0.3,
            },
        ),
        ({"offersWinbackEnabled": False}, {"winback_voucher": "", "winback_enabled": False}),
        ({"offersWinbackEnabled": True}, {"winback_voucher": "WB", "winback_enabled": True}),
        ({"offersAbandonerEnabled": "false"}, {"abandoner_voucher": ""}),
        (
            {"emailsEnabled": False},
            {"email_delivery": "none", "abandoned_recovery_url": RECOVERY_URL},
        ),
        ({"emailsEnabled": True}, {"email_delivery": "smtp+app", "abandoned_emails_enabled": True}),
        ({"emailsEnabled": True, "emailsViaSmtp": False}, {"email_delivery": "app"}),
        ({"emailsEnabled": True, "emailsNotifyEvent": False}, {"email_delivery": "smtp"}),
        (
            {"emailsEnabled": True, "emailsViaSmtp": False, "emailsNotifyEvent": False},
            {"email_delivery": "none", "abandoned_emails_enabled": False},  # delivered nothing
        ),
        ({"emailsViaSmtp": True}, {"email_delivery": "none"}),  # emails were off by default
        ({"emailsSmtpStarttls": False}, {"smtp_security": "none"}),
        ({"emailsSmtpSsl": True}, {"smtp_security": "ssl"}),  # SSL won over STARTTLS
        ({"emailsSmtpStarttls": True, "emailsSmtpSsl": False}, {"smtp_security": "starttls"}),
        ({"recommendationsSessionEnabled": False}, {"session_weight": 0, "session_enabled": False}),
        ({"recommendationsSessionEnabled": True}, {"session_weight": 0.3}),
    ],
)
def test_a_saved_configuration_with_the_old_switches_keeps_its_meaning(switches, expected):
    saved = [{"name": n, "value": v} for n, v in {**SAVED_02, **switches}.items()]
    config = parse_configuration(saved)
    assert {name: getattr(config, name) for name in expected} == expected
    assert not {item["name"] for item in upgrade_items(saved)} & set(FOLDED_SWITCHES)


def test_session_on_with_weight_zero_stays_on_barely_moving_customers_lists():
    """Weight 0 with the session on meant: visitors follow their session, lists stay."""
    config = parse_configuration(
        {"recommendationsSessionEnabled": True, "recommendationsSessionWeight": "0"}
    )
    assert (config.session_enabled, config.session_weight) == (True, 0.01)


def test_the_0_1_names_of_the_switches_are_folded_too():
    config = parse_configuration(
        {
            "abandoned_emails_enabled": True,
            "abandoned_recovery_url": RECOVERY_URL,
            "email_send_via_smtp": False,
            "smtp_use_ssl": True,
            "session_enabled": False,
        }
    )
    assert config.email_delivery == "app"
    assert config.smtp_security == "ssl"
    assert config.session_weight == 0


def _update(current: dict, *items: tuple[str, object]) -> dict:
    """A pluginUpdate's items applied to the saved ``current``: the changed values."""
    saved = [{"name": n, "value": v} for n, v in current.items()]
    update = upgrade_items([{"name": n, "value": v} for n, v in items], saved)
    return {item["name"]: item["value"] for item in update}


NEW_SAVED = {
    "offersWinbackVoucher": "",
    "emailsRecoveryUrl": RECOVERY_URL,
    "emailsDelivery": "smtp",
    "emailsSmtpSecurity": "starttls",
    "recommendationsSessionWeight": "0.3",
}


def test_an_old_scripts_switch_applies_to_the_saved_values():
    assert _update(NEW_SAVED, ("emailsEnabled", False)) == {"emailsDelivery": "none"}
    paused = {**NEW_SAVED, "emailsDelivery": "none"}
    assert _update(paused, ("emailsEnabled", True)) == {"emailsDelivery": "smtp+app"}
    # The delivery checkboxes never started emails on their own.
    assert _update(paused, ("emailsViaSmtp", True)) == {"emailsDelivery": "none"}
    assert _update(NEW_SAVED, ("emailsNotifyEvent", True)) == {"emailsDelivery": "smtp+app"}
    assert _update(NEW_SAVED, ("emailsSmtpSsl", "true")) == {"emailsSmtpSecurity": "ssl"}
    assert _update(NEW_SAVED, ("recommendationsSessionEnabled", False)) == {
        "recommendationsSessionWeight": "0"
    }
    assert _update(NEW_SAVED, ("offersWinbackEnabled", False)) == {"offersWinbackVoucher": ""}
    # With the new setting in the same update, the new setting wins.
    assert _update(NEW_SAVED, ("emailsDelivery", "app"), ("emailsViaSmtp", True)) == {
        "emailsDelivery": "app"
    }


def test_an_old_scripts_switch_cannot_start_a_feature_without_its_value():
    """Sending only the old win-back switch with no voucher code saved: refused, clearly."""
    with pytest.raises(ConfigurationError) as error:
        _update(NEW_SAVED, ("offersWinbackEnabled", True))
    assert error.value.field == "offersWinbackVoucher"
    assert "win-back offers start when this is filled in" in error.value.message
    assert "'offersWinbackEnabled' is no longer a setting" in error.value.message
    # With the code in the same update (under its old name, too) it starts.
    assert _update(NEW_SAVED, ("winback_enabled", True), ("winback_voucher", "WB")) == {
        "offersWinbackVoucher": "WB"
    }
    with pytest.raises(ConfigurationError) as error:
        _update({**NEW_SAVED, "emailsRecoveryUrl": ""}, ("emailsEnabled", True))
    assert error.value.field == "emailsRecoveryUrl"
    with pytest.raises(ConfigurationError) as error:
        _update(NEW_SAVED, ("emailsSmtpSsl", "maybe"))
    assert error.value.field == "emailsSmtpSecurity"
    # A saved row is read, not refused: the switch is on, the feature has no value.
    assert parse_configuration({"offersWinbackEnabled": True}).winback_enabled is False


def test_the_migration_folds_as_the_plugin_reads():
    """0013's frozen rules and :func:`upgrade_items` agree on every saved 0.2 row shape."""
    migration = importlib.import_module("saleor_personalization.migrations.0013_folded_switches")
    rng = random.Random(12)
    choices = {
        "recommendationsSessionWeight": ["0", "0.3", "1"],
        "offersWinbackVoucher": ["", "WB"],
        "offersAbandonerVoucher": ["", "AB"],
        "emailsRecoveryUrl": ["", RECOVERY_URL],
        **{name: [True, False, "true", "false", None] for name in FOLDED_SWITCHES},
    }
    for _ in range(500):
        row = [
            {"name": name, "value": rng.choice(values)}
            for name, values in choices.items()
            if rng.random() < 0.8
        ]
        folded = migration.fold(row)
        assert parse_configuration(folded) == parse_configuration(row), row
        assert parse_configuration(migration.fold(migration.unfold(folded))) == (
            parse_configuration(folded)
        ), row


def test_items_come_back_in_the_dashboards_order():
    names = [spec.name for spec in FIELDS]
    shuffled = [{"name": name, "value": ""} for name in random.Random(1).sample(names, len(names))]
    assert [item["name"] for item in in_form_order([*shuffled, {"name": "gone"}])] == [
        *names,
        "gone",
    ]


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


def test_no_checkbox_switches_a_feature_that_has_a_value():
    """Features with a value start when it is filled in; a choice is one text field."""
    checkboxes = [spec.name for spec in FIELDS if spec.kind == "boolean"]
    assert not set(checkboxes) & set(FOLDED_SWITCHES)
    assert len(checkboxes) == 7
    assert len(FIELDS) == 49
    for name in ("offersWinbackVoucher", "offersAbandonerVoucher", "emailsRecoveryUrl"):
        spec = next(spec for spec in FIELDS if spec.name == name)
        assert "(empty: no " in spec.label
        assert spec.help_text.startswith("Filling this in starts")


def test_every_field_has_label_and_help_text():
    for spec in FIELDS:
        assert spec.label
        assert len(spec.help_text) > 20


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_a_number_setting_refuses_values_that_are_not_finite(value):
    # NaN passes every comparison: a guardrail set to it would silently never hold.
    with pytest.raises(ConfigurationError) as error:
        parse_configuration({"offersMaxAmount": value})
    assert error.value.field == "offersMaxAmount"

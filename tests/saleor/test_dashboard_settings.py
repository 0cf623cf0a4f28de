"""What the Dashboard's plugin page gets from Saleor: names, errors, saved values, status."""

from tests.saleor.requirements import require_saleor

require_saleor()

import importlib  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

import pytest  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.saleor_adapter.configuration import PLUGIN_ID  # noqa: E402

pytestmark = pytest.mark.django_db

# The Dashboard's own queries (saleor-dashboard src/extensions/queries.ts, mutations.ts).
PLUGIN_QUERY = """
query plugin($id: ID!) {
  plugin(id: $id) {
    globalConfiguration { active configuration { name value type label helpText } }
  }
}
"""
PLUGIN_UPDATE = """
mutation update($id: ID!, $input: PluginUpdateInput!) {
  pluginUpdate(id: $id, input: $input) {
    plugin { globalConfiguration { configuration { name value } } }
    errors { field code message }
  }
}
"""


@pytest.fixture
def admin(staff_api_client, permission_manage_plugins):
    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    return staff_api_client


@pytest.fixture
def winback_voucher():
    """A voucher with the code the win-back setting names (a code must be a voucher's)."""
    from saleor.discount.models import Voucher, VoucherCode

    voucher = Voucher.objects.create(name="Win-back 20%")
    VoucherCode.objects.create(voucher=voucher, code="WINBACK-20")
    return voucher


def _update(admin, *items, active=None):
    variables = {"id": PLUGIN_ID, "input": {"configuration": list(items)}}
    if active is not None:
        variables["input"]["active"] = active
    content = admin.post_graphql(PLUGIN_UPDATE, variables).json()
    assert "errors" not in content, content
    return content["data"]["pluginUpdate"]


def _configuration(admin) -> dict[str, dict]:
    content = admin.post_graphql(PLUGIN_QUERY, {"id": PLUGIN_ID}).json()
    assert "errors" not in content, content
    items = content["data"]["plugin"]["globalConfiguration"]["configuration"]
    return {item["name"]: item for item in items}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "recommendationsListSize",
            "lots",
            "Recommendations · Products per precomputed list: 'lots' is not a whole number",
        ),
        ("offersMaxPercent", "120", "Offers · Largest percentage off (%): 120 is above"),
        (
            "emailsRecoveryUrl",
            "shop.example.com/cart",
            "Emails · Checkout recovery URL (empty: no emails): must",
        ),
        (
            "emailsDelivery",
            "email",
            "Emails · Delivery (smtp, app, smtp+app or none): 'email' is not one of smtp, app,",
        ),
        (
            "emailsSmtpSecurity",
            "tls",
            "Emails · SMTP security (starttls, ssl or none): 'tls' is not one of starttls,",
        ),
        (
            "recommendationsSessionWeight",
            "2",
            "Session · Weight of the current session (0-1; 0 turns it off): 2.0 is above",
        ),
        ("emailsStepHours", "72,24", "Emails · Reminder steps (hours idle): steps must"),
        ("apiTrustedProxies", "proxy-1", "API · Trusted proxy addresses: 'proxy-1' is not"),
        ("emailsSubjectTemplate", "{{#if x}}a{{/each}}", "Emails · Subject (Handlebars): "),
        ("emailsBodyTemplate", "{{#if x}}a{{/each}}", "Emails · HTML (Handlebars): "),
        (
            "emailsSubjectTemplate",
            "{{lookup}}",
            "Emails · Subject (Handlebars): the template fails on sample data",
        ),
        # A line break would add headers (Bcc) to every email; Django refuses it only when
        # the message is built.
        (
            "emailsSenderName",
            "Shop\r\nBcc: evil@example.com",
            "Emails · Sender name: must be one line without control characters",
        ),
        ("emailsSenderAddress", "a@b.com\r\nBcc: x", "Emails · Sender address: 'a@b.com"),
        (
            "emailsSenderAddress",
            "not-an-address",
            "Emails · Sender address: 'not-an-address' is not an email address",
        ),
        (
            "emailsConsentMetadataKey",
            "marketing consent",
            "Emails · Consent metadata key: 'marketing consent' is not a metadata key",
        ),
        # Saleor itself stores every string but "true" as false: refused, not switched off.
        (
            "recommendationsHideInCart",
            "maybe",
            "Recommendations · Hide products already in the cart: 'maybe' is not true or false",
        ),
        (
            "offersWinbackVoucher",
            "NOSUCHCODE",
            "Offers · Win-back voucher code (empty: no win-back offers): no voucher has the "
            "code 'NOSUCHCODE'",
        ),
    ],
)
def test_a_bad_value_is_refused_with_the_settings_own_name_as_field(admin, name, value, message):
    """The error's ``field`` is the configuration item's ``name``: what a client matches."""
    data = _update(admin, {"name": name, "value": value})
    (error,) = data["errors"]
    assert error["field"] == name
    assert error["code"] == "INVALID"
    assert error["message"].startswith(message)
    assert _configuration(admin)[name]["value"] != value  # nothing was saved


def test_a_good_value_is_saved_and_read_back_under_its_name(admin, winback_voucher):
    from saleor_personalization.saleor_adapter.configuration import load_configuration

    data = _update(admin, {"name": "offersWinbackVoucher", "value": "WINBACK-20"}, active=True)
    assert data["errors"] == []
    config, active = load_configuration()
    assert active is True
    assert (config.winback_voucher, config.winback_enabled) == ("WINBACK-20", True)  # started
    data = _update(admin, {"name": "offersWinbackVoucher", "value": ""})
    assert data["errors"] == []
    assert load_configuration()[0].winback_enabled is False  # emptied: stopped


def test_an_automation_code_of_a_voucher_another_campaign_runs_is_refused(admin, winback_voucher):
    """A segment-targeted voucher's code, one of its personal codes, or another automation's
    voucher would have two campaigns seal one voucher and overwrite each other's status."""
    from saleor.discount.models import Voucher, VoucherCode

    from saleor_personalization.models import SegmentOffer

    targeted = Voucher.objects.create(
        name="Champions 10%", metadata={"personalization.segment": "rfm-champions"}
    )
    VoucherCode.objects.create(voucher=targeted, code="CHAMPS")
    VoucherCode.objects.create(voucher=targeted, code="P-ABC123")
    SegmentOffer.objects.create(
        campaign=f"voucher:{targeted.pk}",
        segment_key="rfm-champions",
        voucher_id=targeted.pk,
        customer_id=1,
        code="P-ABC123",
        issued_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=14),
    )
    VoucherCode.objects.create(voucher=winback_voucher, code="WINBACK-OTHER")
    assert _update(admin, {"name": "offersWinbackVoucher", "value": "WINBACK-20"})["errors"] == []
    for code, message in (
        ("CHAMPS", "targeted at the segment 'rfm-champions'"),
        ("P-ABC123", "is a personal code the plugin issued"),
        ("WINBACK-OTHER", "which 'Offers · Win-back voucher code"),
    ):
        data = _update(admin, {"name": "offersAbandonerVoucher", "value": code})
        (error,) = data["errors"]
        assert error["field"] == "offersAbandonerVoucher"
        assert message in error["message"], error["message"]
        assert _configuration(admin)["offersAbandonerVoucher"]["value"] != code


def _as_the_dashboard_lays_it_out(configuration: dict[str, dict]) -> list[list[dict]]:
    """saleor-dashboard 3.23.27: text fields, then checkboxes, then the secrets' card.

    ``PluginsDetailsPage`` leaves out ``isSecretField`` types (PASSWORD, SECRET,
    SECRETMULTILINE) for ``PluginAuthorization``; ``useSortedConfiguration`` keeps the
    API's order, non-BOOLEAN fields first.
    """
    fields = list(configuration.values())
    secret = [f for f in fields if f["type"] in ("PASSWORD", "SECRET", "SECRETMULTILINE")]
    shown = [f for f in fields if f not in secret]
    return [
        [f for f in shown if f["type"] != "BOOLEAN"],
        [f for f in shown if f["type"] == "BOOLEAN"],
        secret,
    ]


def test_an_admin_reads_each_feature_once_top_to_bottom(admin):
    """Even from a row saved in another order (by an older version), with old switches."""
    from saleor.plugins.models import PluginConfiguration

    from saleor_personalization.configuration import FIELDS

    saved = [{"name": spec.name, "value": spec.default} for spec in reversed(FIELDS)]
    saved.append({"name": "offersWinbackEnabled", "value": False})
    PluginConfiguration.objects.create(identifier=PLUGIN_ID, active=True, configuration=saved)
    configuration = _configuration(admin)
    assert list(configuration) == [spec.name for spec in FIELDS]
    text, checkboxes, secrets = _as_the_dashboard_lays_it_out(configuration)
    assert len(checkboxes) == 7
    assert [f["name"] for f in secrets] == ["emailsSmtpPassword"]
    for block in (text, checkboxes):
        features = [f["label"].split(" · ")[0] for f in block]
        runs = [
            feature for i, feature in enumerate(features) if i == 0 or features[i - 1] != feature
        ]
        assert len(runs) == len(set(runs)), runs  # each feature in one run
    assert [f["label"].split(" · ")[0] for f in text][5:] == [
        *["Recommendations"] * 5,
        *["Session"] * 3,
        *["Segments"] * 2,
        *["Offers"] * 7,
        *["Emails"] * 16,
        *["API"] * 3,
    ]
    # A feature's starting value opens its group, with what it does when empty.
    for name in ("offersWinbackVoucher", "emailsRecoveryUrl"):
        assert "(empty: no " in configuration[name]["label"]
        assert configuration[name]["helpText"].startswith("Filling this in starts")


def test_an_old_scripts_switches_still_work_through_plugin_update(admin, personalization_config):
    """0.2 checkbox names in ``pluginUpdate`` set the values that replaced them."""
    from saleor_personalization.saleor_adapter.configuration import load_configuration

    data = _update(
        admin,
        {"name": "emailsRecoveryUrl", "value": "https://shop.example.com/cart/{token}"},
        {"name": "emailsEnabled", "value": "true"},
        {"name": "emailsViaSmtp", "value": "false"},
        {"name": "emailsSmtpSsl", "value": "true"},
        {"name": "recommendationsSessionEnabled", "value": "false"},
    )
    assert data["errors"] == []
    config = load_configuration()[0]
    assert (config.email_delivery, config.abandoned_emails_enabled) == ("app", True)
    assert (config.smtp_security, config.session_weight) == ("ssl", 0)
    names = {item["name"] for item in data["plugin"]["globalConfiguration"]["configuration"]}
    assert "emailsDelivery" in names
    assert "emailsEnabled" not in names

    data = _update(admin, {"name": "abandoned_emails_enabled", "value": False})  # 0.1 name
    assert data["errors"] == []
    config = load_configuration()[0]
    assert (config.email_delivery, config.abandoned_emails_enabled) == ("none", False)
    assert config.abandoned_recovery_url  # paused, the URL kept


def test_an_old_switch_turned_on_without_its_value_is_refused_naming_the_value(
    admin, winback_voucher
):
    """The gap an old script falls into: it sends the win-back switch, no voucher code."""
    data = _update(admin, {"name": "offersWinbackEnabled", "value": "true"})
    (error,) = data["errors"]
    assert error["field"] == "offersWinbackVoucher"
    assert error["code"] == "INVALID"
    assert error["message"] == (
        "Offers · Win-back voucher code (empty: no win-back offers): win-back offers start "
        "when this is filled in ('offersWinbackEnabled' is no longer a setting); fill it in, "
        "or leave the switch out"
    )
    data = _update(
        admin,
        {"name": "offersWinbackEnabled", "value": "true"},
        {"name": "offersWinbackVoucher", "value": "WINBACK-20"},
    )
    assert data["errors"] == []
    assert _configuration(admin)["offersWinbackVoucher"]["value"] == "WINBACK-20"


def test_an_old_setting_name_in_plugin_update_sets_the_renamed_setting(admin):
    data = _update(admin, {"name": "list_size", "value": "80"})
    assert data["errors"] == []
    fields = _configuration(admin)
    assert fields["recommendationsListSize"]["value"] == "80"
    assert "list_size" not in fields


def test_a_configuration_saved_under_the_old_names_keeps_its_values(admin):
    """The plugin as Saleor builds it (its manager) reads a 0.1 row's values."""
    from saleor.plugins.manager import get_plugins_manager
    from saleor.plugins.models import PluginConfiguration

    PluginConfiguration.objects.create(
        identifier=PLUGIN_ID,
        active=True,
        configuration=[
            {"name": "list_size", "value": "80"},
            {"name": "winback_voucher", "value": "OLD-CODE"},
        ],
    )
    plugin = get_plugins_manager(allow_replica=False).get_plugin(PLUGIN_ID)
    assert plugin.config.list_size == 80
    assert plugin.config.winback_voucher == "OLD-CODE"
    fields = _configuration(admin)
    assert fields["recommendationsListSize"]["value"] == "80"
    assert fields["offersWinbackVoucher"]["value"] == "OLD-CODE"


def test_the_migration_renames_a_saved_configuration_and_back():
    from saleor.plugins.models import PluginConfiguration

    migration = importlib.import_module("saleor_personalization.migrations.0007_dashboard")
    row = PluginConfiguration.objects.create(
        identifier=PLUGIN_ID,
        active=True,
        configuration=[
            {"name": "list_size", "value": "80"},
            {"name": "abandoned_emails_enabled", "value": True},
            {"name": "model_status", "value": "Run 1: succeeded"},
            {"name": "smtp_password", "value": "secret"},
        ],
    )
    other = PluginConfiguration.objects.create(
        identifier="mirumee.payments.dummy",
        configuration=[{"name": "list_size", "value": "untouched"}],
    )
    with connection.schema_editor() as editor:
        migration.forwards(None, editor)
    row.refresh_from_db()
    assert row.configuration == [
        {"name": "recommendationsListSize", "value": "80"},
        {"name": "emailsEnabled", "value": True},
        {"name": "model_status", "value": "Run 1: succeeded"},
        {"name": "emailsSmtpPassword", "value": "secret"},
    ]
    other.refresh_from_db()
    assert other.configuration == [{"name": "list_size", "value": "untouched"}]
    with connection.schema_editor() as editor:
        migration.backwards(None, editor)
    row.refresh_from_db()
    assert [item["name"] for item in row.configuration] == [
        "list_size",
        "abandoned_emails_enabled",
        "model_status",
        "smtp_password",
    ]


def test_the_migration_folds_the_switches_into_values_and_back():
    from saleor.plugins.models import PluginConfiguration

    migration = importlib.import_module("saleor_personalization.migrations.0013_folded_switches")
    saved = [
        {"name": "offersWinbackVoucher", "value": "KEPT-OFF"},
        {"name": "offersWinbackEnabled", "value": False},
        {"name": "offersAbandonerVoucher", "value": "AB"},
        {"name": "offersAbandonerEnabled", "value": True},
        {"name": "emailsRecoveryUrl", "value": "https://shop.example.com/cart/{token}"},
        {"name": "emailsEnabled", "value": True},
        {"name": "emailsViaSmtp", "value": False},
        {"name": "emailsNotifyEvent", "value": True},
        {"name": "emailsSmtpStarttls", "value": True},
        {"name": "emailsSmtpSsl", "value": False},
        {"name": "recommendationsSessionWeight", "value": "0"},
        {"name": "recommendationsSessionEnabled", "value": True},
        {"name": "emailsSmtpPassword", "value": "secret"},
    ]
    row = PluginConfiguration.objects.create(identifier=PLUGIN_ID, active=True, configuration=saved)
    other = PluginConfiguration.objects.create(
        identifier="mirumee.payments.dummy",
        configuration=[{"name": "emailsEnabled", "value": True}],
    )
    with connection.schema_editor() as editor:
        migration.forwards(None, editor)
    row.refresh_from_db()
    assert {item["name"]: item["value"] for item in row.configuration} == {
        "offersWinbackVoucher": "",
        "offersAbandonerVoucher": "AB",
        "emailsRecoveryUrl": "https://shop.example.com/cart/{token}",
        "recommendationsSessionWeight": "0.01",
        "emailsSmtpPassword": "secret",
        "emailsDelivery": "app",
        "emailsSmtpSecurity": "starttls",
    }
    other.refresh_from_db()
    assert other.configuration == [{"name": "emailsEnabled", "value": True}]
    with connection.schema_editor() as editor:
        migration.backwards(None, editor)
    row.refresh_from_db()
    back = {item["name"]: item["value"] for item in row.configuration}
    assert "emailsDelivery" not in back
    assert {name: back[name] for name in ("offersWinbackEnabled", "offersAbandonerEnabled")} == {
        "offersWinbackEnabled": False,
        "offersAbandonerEnabled": True,
    }
    assert (back["emailsEnabled"], back["emailsViaSmtp"], back["emailsNotifyEvent"]) == (
        True,
        False,
        True,
    )
    assert back["recommendationsSessionEnabled"] is True


def test_the_status_fields_say_in_words_what_the_plugin_did(admin, personalization_config):
    from saleor_personalization.models import (
        ModelRun,
        Segment,
        SegmentMembership,
        SegmentOffer,
    )

    now = timezone.now()
    ModelRun.objects.create(
        status="succeeded",
        is_live=True,
        promoted_at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        finished_at=now,
        metrics={"all": {"ndcg": 0.786}, "popularity_all": {"ndcg": 0.268}},
    )
    ModelRun.objects.create(
        status="rejected",
        finished_at=now,
        metrics={
            "all": {"ndcg": 0.7},
            "popularity_all": {"ndcg": 0.268},
            "live": {"all": {"ndcg": 0.786}},
            "gate": {"promote": False, "reason": "NDCG@10 0.7000 is below the live model's"},
        },
    )
    champions = Segment.objects.create(
        key="rfm-champions", name="Champions", description="Bought recently and often."
    )
    Segment.objects.create(key="rfm-at-risk", name="At risk", description="Used to buy.")
    for customer_id in (1, 2):
        SegmentMembership.objects.create(segment=champions, customer_id=customer_id, entered_at=now)
    SegmentOffer.objects.create(
        campaign="SPRING",
        segment_key="rfm-champions",
        voucher_id=1,
        customer_id=1,
        code="SPRING-AAAA",
        issued_at=now,
        expires_at=now + timedelta(days=14),
    )

    fields = _configuration(admin)
    model = fields["model_status"]
    assert model["type"] == "OUTPUT"
    assert model["value"].startswith(
        "Live model from 2 Dec: 'buy again' lists rank what customers bought next "
        "2.9\N{MULTIPLICATION SIGN} better than bestsellers (NDCG@10 0.786 vs 0.268)"
    )
    assert model["value"].endswith(
        "kept the live model because its 'buy again' lists found what customers bought next "
        "less well than the live model's on the same recent weeks (0.700 vs 0.786)"
    )
    segments = fields["statusSegments"]["value"]
    assert "rfm-champions = Champions (2)" in segments
    assert "rfm-at-risk = At risk (0)" in segments
    assert "personalization.segment.<key>" in segments
    assert fields["statusOffers"]["value"] == "SPRING to rfm-champions: 1 codes issued, 0 redeemed"
    assert fields["statusEmails"]["value"] == "Last 30 days: none sent"
    assert fields["statusRecommendations"]["value"] == (
        "Last 30 days: no clicks on recommendations tracked yet"
    )

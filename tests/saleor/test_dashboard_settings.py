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
        ("emailsRecoveryUrl", "shop.example.com/cart", "Emails · Checkout recovery URL: must"),
        ("emailsStepHours", "72,24", "Emails · Reminder steps (hours idle): steps must"),
        ("apiTrustedProxies", "proxy-1", "API · Trusted proxy addresses: 'proxy-1' is not"),
        ("emailsSubjectTemplate", "{{#if x}}a{{/each}}", "Emails · Subject (Handlebars): "),
        ("emailsBodyTemplate", "{{#if x}}a{{/each}}", "Emails · HTML (Handlebars): "),
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


def test_a_good_value_is_saved_and_read_back_under_its_name(admin):
    data = _update(
        admin,
        {"name": "offersWinbackVoucher", "value": "WINBACK-20"},
        {"name": "offersWinbackEnabled", "value": "true"},
        active=True,
    )
    assert data["errors"] == []
    from saleor_personalization.saleor_adapter.configuration import load_configuration

    config, active = load_configuration()
    assert active is True
    assert (config.winback_voucher, config.winback_enabled) == ("WINBACK-20", True)


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
        "Live model from 2 Dec, better than bestsellers by 2.9\N{MULTIPLICATION SIGN}"
    )
    assert model["value"].endswith(
        "kept the live model because the new model ranked past purchases worse than the live "
        "one (0.700 vs 0.786)"
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

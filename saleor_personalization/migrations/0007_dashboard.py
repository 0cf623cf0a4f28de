"""Rename the plugin's saved Dashboard settings to their 0.2 names.

Saleor keeps plugin settings in its own ``plugins_pluginconfiguration`` table and
drops names the plugin no longer declares, so without this a shop upgrading from 0.1
would silently fall back to defaults. The table is Saleor's: outside Saleor (the
standalone settings) it does not exist and there is nothing to do. Old names keep
being accepted at run time as well (``configuration.upgrade_items``).
"""

import json

from django.db import migrations

PLUGIN_ID = "saleor.personalization"
TABLE = "plugins_pluginconfiguration"
# 0.1 name -> 0.2 name, frozen here so that later renames do not change this step.
RENAMED = {
    "list_size": "recommendationsListSize",
    "training_interval_hours": "recommendationsRetrainHours",
    "recently_bought_days": "recommendationsHideBoughtDays",
    "max_per_category": "recommendationsMaxPerCategory",
    "lapse_days": "segmentsLapseDays",
    "abandoner_min_carts": "segmentsAbandonerCarts",
    "winback_voucher": "offersWinbackVoucher",
    "abandoner_voucher": "offersAbandonerVoucher",
    "max_offer_percent": "offersMaxPercent",
    "max_offer_amount": "offersMaxAmount",
    "offer_validity_days": "offersValidityDays",
    "offer_frequency_days": "offersFrequencyDays",
    "offer_holdout_percent": "offersHoldoutPercent",
    "abandoned_recovery_url": "emailsRecoveryUrl",
    "abandoned_step_hours": "emailsStepHours",
    "abandoned_recommendations": "emailsRecommendations",
    "abandoned_max_age_days": "emailsMaxAgeDays",
    "abandoned_scan_minutes": "emailsScanMinutes",
    "consent_metadata_key": "emailsConsentMetadataKey",
    "email_subject_template": "emailsSubjectTemplate",
    "email_body_template": "emailsBodyTemplate",
    "sender_name": "emailsSenderName",
    "sender_address": "emailsSenderAddress",
    "smtp_host": "emailsSmtpHost",
    "smtp_port": "emailsSmtpPort",
    "smtp_user": "emailsSmtpUser",
    "track_rate_limit": "apiTrackRateLimit",
    "graphql_max_cost": "apiMaxQueryCost",
    "trusted_proxies": "apiTrustedProxies",
    "tracking_enabled": "trackingEnabled",
    "track_anonymous": "trackingAnonymous",
    "exclude_out_of_stock": "recommendationsHideOutOfStock",
    "exclude_in_cart": "recommendationsHideInCart",
    "winback_enabled": "offersWinbackEnabled",
    "abandoner_offer_enabled": "offersAbandonerEnabled",
    "abandoned_emails_enabled": "emailsEnabled",
    "abandoned_include_offer": "emailsIncludeOffer",
    "abandoned_require_consent": "emailsRequireConsent",
    "email_send_via_smtp": "emailsViaSmtp",
    "email_emit_notify_event": "emailsNotifyEvent",
    "smtp_use_tls": "emailsSmtpStarttls",
    "smtp_use_ssl": "emailsSmtpSsl",
    "single_endpoint": "apiOnSaleorGraphql",
    "smtp_password": "emailsSmtpPassword",
}


def _rewrite(schema_editor, rename) -> None:
    connection = schema_editor.connection
    if TABLE not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, configuration FROM {TABLE} WHERE identifier = %s", [PLUGIN_ID])
        rows = cursor.fetchall()
        for row_id, configuration in rows:
            items = json.loads(configuration) if isinstance(configuration, str) else configuration
            renamed = rename(items or [])
            if renamed != items:
                cursor.execute(
                    f"UPDATE {TABLE} SET configuration = %s WHERE id = %s",
                    [json.dumps(renamed), row_id],
                )


def _renamed(items: list[dict], names: dict[str, str]) -> list[dict]:
    """Rename items; an old-named item is dropped when its new name is already saved."""
    present = {item.get("name") for item in items}
    result = []
    for item in items:
        new_name = names.get(item.get("name"))
        if new_name is None:
            result.append(item)
        elif new_name not in present:
            result.append({**item, "name": new_name})
            present.add(new_name)
    return result


def forwards(apps, schema_editor) -> None:
    _rewrite(schema_editor, lambda items: _renamed(items, RENAMED))


def backwards(apps, schema_editor) -> None:
    reverse = {new: old for old, new in RENAMED.items()}
    _rewrite(schema_editor, lambda items: _renamed(items, reverse))


class Migration(migrations.Migration):
    dependencies = [("saleor_personalization", "0006_reorder_list")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]

"""Fold the saved Dashboard checkboxes that switched a value into that value.

The Dashboard lays a plugin's settings out as all text fields, then all checkboxes, so a
feature's switch sat far below the values it switched. Now a feature that needs a value
is on when the value is filled in, and a choice is one text field:

- win-back / frequent-abandoner offers: on when their voucher code is filled in (a
  switch that was off empties the code);
- abandoned-checkout emails: on when the recovery URL is filled in, unless the new
  ``emailsDelivery`` is ``none`` (the emails switch off sets it to ``none``, keeping the
  URL; so do both delivery checkboxes off, which delivered nothing);
- session: on when its weight is above 0 (off: weight 0; on with weight 0: 0.01);
- ``emailsDelivery`` = smtp / app / smtp+app / none replaces ``emailsViaSmtp`` and
  ``emailsNotifyEvent``; ``emailsSmtpSecurity`` = starttls / ssl / none replaces
  ``emailsSmtpStarttls`` and ``emailsSmtpSsl`` (SSL won when both were on).

Saleor drops names the plugin no longer declares, so without this the switches would
silently reset. The table is Saleor's: outside Saleor (the standalone settings) it does
not exist and there is nothing to do. The plugin reads old rows the same way at run
time (``configuration.upgrade_items``); this keeps its own frozen copy of the rules.
"""

import json

from django.db import migrations

PLUGIN_ID = "saleor.personalization"
TABLE = "plugins_pluginconfiguration"
# 0.1 names of the switches (0007 renamed rows it saw; a later writer may have used them).
OLD_NAMES = {
    "session_enabled": "recommendationsSessionEnabled",
    "winback_enabled": "offersWinbackEnabled",
    "abandoner_offer_enabled": "offersAbandonerEnabled",
    "abandoned_emails_enabled": "emailsEnabled",
    "email_send_via_smtp": "emailsViaSmtp",
    "email_emit_notify_event": "emailsNotifyEvent",
    "smtp_use_tls": "emailsSmtpStarttls",
    "smtp_use_ssl": "emailsSmtpSsl",
}
# Each switch with its 0.2 default.
SWITCHES = {
    "recommendationsSessionEnabled": True,
    "offersWinbackEnabled": False,
    "offersAbandonerEnabled": False,
    "emailsEnabled": False,
    "emailsViaSmtp": True,
    "emailsNotifyEvent": True,
    "emailsSmtpStarttls": True,
    "emailsSmtpSsl": False,
}
VOUCHERS = {"offersWinbackEnabled": "offersWinbackVoucher", "offersAbandonerEnabled": "offersAbandonerVoucher"}
CHOICES = ("emailsDelivery", "emailsSmtpSecurity")


def _on(value, default: bool) -> bool:
    """As 0.2 read a saved switch (a value it could not read: its default)."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if value is not None and text in {"true", "1", "yes", "on"}:
        return True
    if value is not None and text in {"false", "0", "no", "off", ""}:
        return False
    return default


def _weight(value) -> float | None:
    try:
        return float(str(0.3 if value is None else value).strip())
    except ValueError:
        return None


def _set(items: list[dict], name: str, value) -> None:
    for item in items:
        if item.get("name") == name:
            item["value"] = value
            return
    items.append({"name": name, "value": value})


def fold(items: list[dict]) -> list[dict]:
    """A saved 0.2 item list with the switches folded into values (the plugin's reading)."""
    present = {item.get("name") for item in items}
    result, switches = [], {}
    for item in items:
        name = OLD_NAMES.get(item.get("name"), item.get("name"))
        if name in SWITCHES:
            if name == item.get("name") or name not in present:  # the 0.2 name wins
                switches.setdefault(name, item.get("value"))
        else:
            result.append(dict(item))
    if not switches:
        return result
    values = {item.get("name"): item.get("value") for item in result}
    on = {name: _on(switches.get(name), default) for name, default in SWITCHES.items()}
    for switch, voucher in VOUCHERS.items():
        if switch in switches and not on[switch]:
            _set(result, voucher, "")
    if "recommendationsSessionEnabled" in switches:
        weight = _weight(values.get("recommendationsSessionWeight"))
        if not on["recommendationsSessionEnabled"]:
            _set(result, "recommendationsSessionWeight", "0")
        elif weight == 0:
            _set(result, "recommendationsSessionWeight", "0.01")
    if "emailsDelivery" not in values and switches.keys() & {
        "emailsEnabled",
        "emailsViaSmtp",
        "emailsNotifyEvent",
    }:
        parts = [p for p in ("smtp", "app") if on[{"smtp": "emailsViaSmtp", "app": "emailsNotifyEvent"}[p]]]
        delivery = "+".join(parts) if on["emailsEnabled"] and parts else "none"
        _set(result, "emailsDelivery", delivery)
    if "emailsSmtpSecurity" not in values and switches.keys() & {
        "emailsSmtpStarttls",
        "emailsSmtpSsl",
    }:
        security = (
            "ssl"
            if on["emailsSmtpSsl"]
            else "starttls"
            if on["emailsSmtpStarttls"]
            else "none"
        )
        _set(result, "emailsSmtpSecurity", security)
    return result


def unfold(items: list[dict]) -> list[dict]:
    """The switches back from the values (for the previous version of the plugin)."""
    values = {item.get("name"): item.get("value") for item in items}
    result = [dict(item) for item in items if item.get("name") not in CHOICES]
    delivery = str(values.get("emailsDelivery") or "smtp+app").strip().lower()
    security = str(values.get("emailsSmtpSecurity") or "starttls").strip().lower()
    weight = _weight(values.get("recommendationsSessionWeight"))
    switches = {
        "recommendationsSessionEnabled": weight is None or weight > 0,
        "offersWinbackEnabled": bool(str(values.get("offersWinbackVoucher") or "").strip()),
        "offersAbandonerEnabled": bool(str(values.get("offersAbandonerVoucher") or "").strip()),
        # Without a recovery URL the previous version sent nothing either.
        "emailsEnabled": delivery != "none",
        # "none" is carried by emailsEnabled; the delivery goes back to its default.
        "emailsViaSmtp": delivery in ("smtp", "smtp+app", "none"),
        "emailsNotifyEvent": delivery in ("app", "smtp+app", "none"),
        "emailsSmtpStarttls": security == "starttls",
        "emailsSmtpSsl": security == "ssl",
    }
    for name, value in switches.items():
        _set(result, name, value)
    return result


def _rewrite(schema_editor, change) -> None:
    connection = schema_editor.connection
    if TABLE not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, configuration FROM {TABLE} WHERE identifier = %s", [PLUGIN_ID])
        for row_id, configuration in cursor.fetchall():
            items = json.loads(configuration) if isinstance(configuration, str) else configuration
            changed = change(items or [])
            if changed != items:
                cursor.execute(
                    f"UPDATE {TABLE} SET configuration = %s WHERE id = %s",
                    [json.dumps(changed), row_id],
                )


def forwards(apps, schema_editor) -> None:
    _rewrite(schema_editor, fold)


def backwards(apps, schema_editor) -> None:
    _rewrite(schema_editor, unfold)


class Migration(migrations.Migration):
    dependencies = [("saleor_personalization", "0012_customer_attributes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]

"""Identity from proof; no plain customer addresses.

``CustomerProfile.email`` becomes ``email_digest`` (a keyed hash). Guest email ids
(``e:``) move from an unkeyed SHA-256 to the keyed hash for every address the plugin
still knows; merges of email ids into accounts (made without proof) are dropped; the
addresses of completed checkouts are forgotten.
"""

import hashlib

from django.conf import settings
from django.db import migrations, models
from django.db.models import Case, Value, When
from django.utils.crypto import salted_hmac

# Kept in step with events.identity.address_digest (copied: a migration must not change
# when application code does).
_DIGEST_SALT = "saleor_personalization.address"
_CHUNK = 500


def _digest(address: str) -> str:
    return salted_hmac(
        _DIGEST_SALT, address, secret=settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def _legacy(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


def forward(apps, schema_editor):
    CustomerProfile = apps.get_model("saleor_personalization", "CustomerProfile")
    CartState = apps.get_model("saleor_personalization", "CartState")
    Interaction = apps.get_model("saleor_personalization", "Interaction")
    RecommendationClick = apps.get_model("saleor_personalization", "RecommendationClick")
    AnonymousIdentity = apps.get_model("saleor_personalization", "AnonymousIdentity")

    addresses = set()
    for model in (CustomerProfile, CartState):
        addresses.update(
            e.strip().lower() for e in model.objects.exclude(email="").values_list("email", flat=True)
        )
    for profile in CustomerProfile.objects.exclude(email="").only("pk", "email"):
        profile.email_digest = _digest(profile.email.strip().lower())
        profile.save(update_fields=["email_digest"])

    rekey = {f"e:{_legacy(a)[:40]}": f"e:{_digest(a)[:40]}" for a in sorted(addresses)}
    old_ids = sorted(rekey)
    for start in range(0, len(old_ids), _CHUNK):
        chunk = old_ids[start : start + _CHUNK]
        new_id = Case(*(When(anonymous_id=old, then=Value(rekey[old])) for old in chunk))
        for model in (Interaction, RecommendationClick):
            model.objects.filter(anonymous_id__in=chunk).update(anonymous_id=new_id)

    AnonymousIdentity.objects.filter(anonymous_id__startswith="e:").delete()
    CartState.objects.filter(completed_at__isnull=False).exclude(email="").update(email="")


class Migration(migrations.Migration):
    dependencies = [
        ("saleor_personalization", "0002_email"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="customerprofile",
            name="sp_customer_email",
        ),
        migrations.AddField(
            model_name="customerprofile",
            name="email_digest",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Keyed hash of the account's email.",
                max_length=64,
            ),
        ),
        migrations.RunPython(forward, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(
            model_name="customerprofile",
            name="email",
        ),
        migrations.AddIndex(
            model_name="customerprofile",
            index=models.Index(fields=["email_digest"], name="sp_customer_email_digest"),
        ),
    ]

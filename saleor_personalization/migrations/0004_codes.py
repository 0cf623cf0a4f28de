"""Segment offers keep a hash of the owner's address instead of the address.

The hash is the keyed digest profiles use (HMAC with ``SECRET_KEY``); it is computed from the stored addresses before the column goes, so a guest
checkout with the owner's address keeps working for offers issued before the upgrade.
"""

from django.db import migrations, models

from saleor_personalization.events.identity import address_digest


def hash_addresses(apps, schema_editor):
    SegmentOffer = apps.get_model("saleor_personalization", "SegmentOffer")
    for offer in SegmentOffer.objects.exclude(email="").only("pk", "email").iterator():
        SegmentOffer.objects.filter(pk=offer.pk).update(email_hash=address_digest(offer.email))


class Migration(migrations.Migration):
    dependencies = [
        ("saleor_personalization", "0003_identity"),
    ]

    operations = [
        migrations.AddField(
            model_name="segmentoffer",
            name="email_hash",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(hash_addresses, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="segmentoffer",
            name="email",
        ),
    ]

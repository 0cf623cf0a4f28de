"""Segment offers keep a hash of the owner's address instead of the address.

The hash is computed from the stored addresses before the column goes, so a guest
checkout with the owner's address keeps working for offers issued before the upgrade.
"""

import hashlib

from django.db import migrations, models


def hash_addresses(apps, schema_editor):
    SegmentOffer = apps.get_model("saleor_personalization", "SegmentOffer")
    for offer in SegmentOffer.objects.exclude(email="").only("pk", "email").iterator():
        digest = hashlib.sha256(offer.email.strip().lower().encode()).hexdigest()
        SegmentOffer.objects.filter(pk=offer.pk).update(email_hash=digest)


class Migration(migrations.Migration):
    dependencies = [
        ("saleor_personalization", "0001_initial"),
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

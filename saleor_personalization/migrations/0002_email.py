"""Abandoned-checkout emails keep the hash of the recipient's address, not the address."""

import hashlib

from django.db import migrations, models


def hash_recipients(apps, schema_editor):
    AbandonedEmail = apps.get_model("saleor_personalization", "AbandonedEmail")
    rows = AbandonedEmail.objects.exclude(recipient="").only("pk", "recipient")
    for row in rows.iterator(chunk_size=2000):
        row.recipient_hash = hashlib.sha256(row.recipient.strip().lower().encode()).hexdigest()
        row.save(update_fields=["recipient_hash"])


class Migration(migrations.Migration):
    dependencies = [("saleor_personalization", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="abandonedemail",
            name="recipient_hash",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(hash_recipients, migrations.RunPython.noop, elidable=True),
        migrations.RemoveIndex(
            model_name="abandonedemail", name="sp_abandoned_email_recipient"
        ),
        migrations.RemoveField(model_name="abandonedemail", name="recipient"),
        migrations.AddIndex(
            model_name="abandonedemail",
            index=models.Index(fields=["recipient_hash"], name="sp_abandoned_email_rcpt_hash"),
        ),
    ]

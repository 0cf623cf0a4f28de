"""Lists keyed by (kind, subject type, subject id, country, channel) instead of one string.

Until now ``subject`` held a customer id, a product id or a category id as digits, a
country code (popular lists) or "" (the shop or channel as a whole), and what it meant
depended on ``kind``. The existing rows are kept: each string is split into its type
and its integer id or country code. A row whose subject fits none of the formats the
list code ever wrote cannot be keyed and is dropped (the next scoring rewrites every
list anyway). ``items`` is renamed ``entries``; its JSON is unchanged.
"""

from django.db import migrations, models
from django.db.models import BigIntegerField, Q
from django.db.models.functions import Cast

DIGITS = r"^[0-9]+$"
ID_KINDS = {
    "personal": "customer",
    "similar": "product",
    "bought_together": "product",
    "trending": "category",
}


def split_subjects(apps, schema_editor):
    lists = apps.get_model("saleor_personalization", "RecommendationList")
    rows = lists.objects.using(schema_editor.connection.alias)
    for kind, subject_type in ID_KINDS.items():
        rows.filter(kind=kind, subject__regex=DIGITS).exclude(subject="0").update(
            subject_type=subject_type, subject_id=Cast("subject", BigIntegerField())
        )
    rows.filter(kind="popular", subject__regex=r"^[A-Za-z]{2}$").update(
        subject_type="country", country=models.F("subject")
    )
    # What is left is either "" (the shop or channel as a whole, the default type) or
    # a subject no list was written with; the latter cannot be keyed.
    rows.filter(subject_type="none").exclude(subject="").delete()


def join_subjects(apps, schema_editor):
    lists = apps.get_model("saleor_personalization", "RecommendationList")
    rows = lists.objects.using(schema_editor.connection.alias)
    rows.filter(subject_type__in=["customer", "product", "category"]).update(
        subject=Cast("subject_id", models.CharField(max_length=128))
    )
    rows.filter(subject_type="country").update(subject=models.F("country"))


class Migration(migrations.Migration):
    dependencies = [
        ("saleor_personalization", "0008_run_pinned"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="recommendationlist",
            name="sp_recommendation_list_key",
        ),
        migrations.RenameField(
            model_name="recommendationlist",
            old_name="items",
            new_name="entries",
        ),
        migrations.AddField(
            model_name="recommendationlist",
            name="subject_type",
            field=models.CharField(
                choices=[
                    ("none", "The shop or channel as a whole"),
                    ("customer", "A customer (Saleor user id)"),
                    ("product", "A product (Saleor product id)"),
                    ("category", "A category (Saleor category id)"),
                    ("country", "A country (ISO 3166-1 alpha-2 code)"),
                ],
                default="none",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="recommendationlist",
            name="subject_id",
            field=models.BigIntegerField(
                default=0, help_text="Customer, product or category id; 0 for other subjects."
            ),
        ),
        migrations.AddField(
            model_name="recommendationlist",
            name="country",
            field=models.CharField(
                blank=True,
                default="",
                help_text="ISO 3166-1 alpha-2, country lists only.",
                max_length=2,
            ),
        ),
        migrations.RunPython(split_subjects, join_subjects),
        migrations.RemoveField(
            model_name="recommendationlist",
            name="subject",
        ),
        migrations.AddConstraint(
            model_name="recommendationlist",
            constraint=models.UniqueConstraint(
                fields=("kind", "subject_type", "subject_id", "country", "channel"),
                name="sp_recommendation_list_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="recommendationlist",
            constraint=models.CheckConstraint(
                condition=Q(
                    Q(
                        ("country", ""),
                        ("subject_id__gt", 0),
                        ("subject_type__in", ("customer", "product", "category")),
                    ),
                    Q(("subject_id", 0), ("subject_type", "country"), ~Q(country="")),
                    Q(("country", ""), ("subject_id", 0), ("subject_type", "none")),
                    _connector="OR",
                ),
                name="sp_recommendation_list_subject",
            ),
        ),
    ]

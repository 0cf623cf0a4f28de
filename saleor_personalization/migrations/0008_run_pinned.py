from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("saleor_personalization", "0007_dashboard")]

    operations = [
        migrations.AddField(
            model_name="modelrun",
            name="pinned",
            field=models.BooleanField(
                default=False,
                help_text="Keep this run's model file whatever the retention setting says.",
            ),
        ),
    ]

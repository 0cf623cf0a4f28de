from django.apps import AppConfig


class PersonalizationConfig(AppConfig):
    """App config for both modes.

    Inside Saleor the app is added to ``INSTALLED_APPS`` by Saleor itself, under the
    entry point's name, so its label must stay ``saleor_personalization``.
    """

    name = "saleor_personalization"
    label = "saleor_personalization"
    verbose_name = "Personalization"
    default_auto_field = "django.db.models.BigAutoField"

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

    def ready(self) -> None:
        from django.conf import settings

        from .offers import erasure  # noqa: F401  registers the offers' eraser
        from .tasks.schedule import install_beat_schedule

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            install_beat_schedule(schedule)

        from .shop import select_shop

        shop = select_shop()
        if shop.name == "saleor":
            from django.core.signals import request_started

            from .saleor_adapter.schema_patch import install_if_enabled

            request_started.connect(install_if_enabled, dispatch_uid="personalization-schema")

from django.apps import AppConfig


class PersonalizationAppConfig(AppConfig):
    """The composition root: the one place that picks the shop this process runs in.

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

        select_shop().ready()

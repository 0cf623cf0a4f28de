"""Beat entries the package adds to whatever Celery beat runs it.

Saleor builds its beat schedule from ``settings.CELERY_BEAT_SCHEDULE`` (the same dict
object as ``app.conf.beat_schedule``), and every scheduler it supports, its own
``DatabaseScheduler`` included, reads that dict at start-up after apps are ready. So
the app adds its entries there in ``AppConfig.ready()`` and nobody edits Saleor's
settings. Entries tick often and cheaply; each task decides from the plugin's
Dashboard settings whether there is work, so admins change schedules without
restarting beat.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "saleor-personalization-segments": {
        "task": "saleor_personalization.compute_segments",
        "schedule": crontab(hour="4", minute="7"),
    },
    "saleor-personalization-training-tick": {
        "task": "saleor_personalization.training_tick",
        "schedule": crontab(minute="*/15"),
    },
    "saleor-personalization-abandoned-checkouts": {
        "task": "saleor_personalization.scan_abandoned_checkouts",
        "schedule": crontab(minute="*/5"),
    },
    "saleor-personalization-reconcile": {
        "task": "saleor_personalization.reconcile",
        "schedule": crontab(hour="3", minute="17"),
    },
}


def install_beat_schedule(schedule: dict) -> None:
    """Add the package's entries to a beat schedule dict, keeping any the site overrides."""
    for name, entry in BEAT_SCHEDULE.items():
        schedule.setdefault(name, dict(entry))

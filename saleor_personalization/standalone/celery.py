"""The Celery app used in standalone mode.

Inside Saleor, Saleor's own app (``saleor.celeryconf``) runs the tasks: they are
declared with ``shared_task`` and explicit names, so they bind to whichever app is
current.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saleor_personalization.standalone.settings")

app = Celery("saleor_personalization")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["saleor_personalization"])

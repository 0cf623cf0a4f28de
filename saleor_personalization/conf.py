"""Package-level settings with defaults, read from Django settings at call time.

Per-shop behaviour that an admin changes belongs in the plugin configuration shown in
the Dashboard; what is here is deployment-level (queues, storage prefixes).
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class PersonalizationSettings:
    artifact_prefix: str
    training_queue: str
    default_channel: str
    # Model runs whose artifact is kept besides the live and pinned ones.
    keep_model_runs: int = 5


def get_settings() -> PersonalizationSettings:
    return PersonalizationSettings(
        artifact_prefix=getattr(
            settings, "PERSONALIZATION_ARTIFACT_PREFIX", "personalization/models"
        ),
        training_queue=getattr(settings, "PERSONALIZATION_TRAINING_QUEUE", "personalization"),
        default_channel=getattr(settings, "PERSONALIZATION_DEFAULT_CHANNEL", "default-channel"),
        keep_model_runs=max(0, int(getattr(settings, "PERSONALIZATION_KEEP_MODEL_RUNS", 5))),
    )

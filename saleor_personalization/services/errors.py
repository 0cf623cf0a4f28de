"""Errors the services raise for their callers to turn into messages or GraphQL errors."""


class ServiceError(Exception):
    """A use case could not do what was asked; the message is meant for the admin."""


class QueueUnavailable(ServiceError):
    """The work could not be handed to a Celery worker, and it was not done inline.

    Raised by request-side entry points (mutations) that must never run heavy work in
    the request: the broker is down or unreachable, or no broker is configured at all
    (Celery's eager mode, which would run the task inside the request).
    """


class TrainingBusy(ServiceError):
    """A training run is genuinely queued or running; a second one is refused."""

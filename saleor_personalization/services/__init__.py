"""One service per use case: the only place where each job is written.

Celery tasks, management commands, GraphQL mutations and the demo call these and do
nothing else of substance. Each service owns what used to drift between those copies:
its lock, the "is the plugin active" check, the settings it reads from the one
configuration (``get_shop().configuration``), the status it records, the queue its
follow-up work goes to and the recovery of work left half done.

Heavy work (training, scoring every customer) runs in a worker or in a command, never
in a web request: the request-side entry points only queue it, and say so when there is
no queue to put it on (:class:`~.errors.QueueUnavailable`).
"""

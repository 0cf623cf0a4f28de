"""What staff are shown of the recommender: its runs and how far its lists reach.

The staff GraphQL fields format these; the queries live here, beside the tables they
read, so a change to how lists or runs are stored changes one module.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from ..models import Interaction, ListKind, ModelRun, RecommendationList, SubjectType


@dataclass(frozen=True)
class ListCoverage:
    """How many of the recently active customers a personal list reaches."""

    since: datetime
    active_customers: int  # customers with any recorded behaviour since ``since``
    customers_with_lists: int  # of them, those with a precomputed personal list
    lists_by_kind: dict[str, int]  # precomputed lists per kind, all of them
    catalogue_coverage: float | None  # the live run's coverage@10 on its holdout

    @property
    def personal_list_share(self) -> float:
        if not self.active_customers:
            return 0.0
        return self.customers_with_lists / self.active_customers


def list_coverage(since: datetime) -> ListCoverage:
    """Active customers since ``since``, how many have a personal list, lists per kind."""
    active = (
        Interaction.objects.filter(occurred_at__gte=since, customer_id__isnull=False)
        .values("customer_id")
        .distinct()
    )
    active_count = active.count()
    with_lists = (
        RecommendationList.objects.filter(
            kind=ListKind.PERSONAL,
            subject_type=SubjectType.CUSTOMER,
            subject_id__in=active.values("customer_id"),
        ).count()
        if active_count
        else 0
    )
    lists = RecommendationList.objects.values("kind").annotate(n=Count("id")).order_by("kind")
    live = live_run()
    coverage = (live.metrics.get("all") or {}).get("coverage") if live is not None else None
    return ListCoverage(
        since=since,
        active_customers=active_count,
        customers_with_lists=with_lists,
        lists_by_kind={row["kind"]: row["n"] for row in lists},
        catalogue_coverage=coverage,
    )


def recent_runs(first: int) -> list[ModelRun]:
    """The ``first`` newest training runs (the model's ordering: newest first)."""
    return list(ModelRun.objects.all()[:first])


def live_run() -> ModelRun | None:
    """The run whose lists are served now, if any."""
    return ModelRun.objects.filter(is_live=True).first()

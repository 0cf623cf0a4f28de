"""Model runs and the precomputed lists that serving reads."""

from dataclasses import dataclass

from django.db import models
from django.db.models import Q


class ModelRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    TRAINING = "training", "Training"
    EVALUATING = "evaluating", "Evaluating"
    SUCCEEDED = "succeeded", "Succeeded"
    REJECTED = "rejected", "Rejected by the promotion gate"
    FAILED = "failed", "Failed"


class ModelRun(models.Model):
    """One training run: what it saw, how it was trained, how it scored, where it lives.

    ``status`` is the run's own history (its evaluation verdict stays ``rejected`` even
    if an admin later rolls back to it); ``is_live`` says which run serves lists. At
    most one run is live at a time (a partial unique constraint, so two workers
    promoting at once cannot both win), and only a trained run can be. ``pinned``
    keeps the run's artifact out of retention pruning (a known-good fallback).
    """

    status = models.CharField(
        max_length=16, choices=ModelRunStatus.choices, default=ModelRunStatus.QUEUED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    data_window_start = models.DateTimeField(null=True, blank=True)
    data_window_end = models.DateTimeField(null=True, blank=True)
    holdout_start = models.DateTimeField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    artifact = models.CharField(max_length=255, blank=True, default="")
    artifact_sha256 = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    is_live = models.BooleanField(default=False)
    promoted_at = models.DateTimeField(null=True, blank=True)
    pinned = models.BooleanField(
        default=False,
        help_text="Keep this run's model file whatever the retention setting says.",
    )

    class Meta:
        app_label = "saleor_personalization"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_live"], condition=Q(is_live=True), name="sp_model_run_one_live"
            ),
            models.CheckConstraint(
                condition=Q(is_live=False) | Q(status__in=["succeeded", "rejected"]),
                name="sp_model_run_live_trained",
            ),
        ]

    def __str__(self) -> str:
        return f"model run {self.pk} ({self.status})"


class ListKind(models.TextChoices):
    PERSONAL = "personal", "For you: discovery, never bought (per customer)"
    BUY_AGAIN = "buy_again", "Buy again: likely reorders (per customer)"
    SIMILAR = "similar", "Similar products (per product)"
    BOUGHT_TOGETHER = "bought_together", "Frequently bought together (per product)"
    TRENDING = "trending", "Trending (per channel and category)"
    POPULAR = "popular", "Popular (per channel and country)"
    REORDER = "reorder", "Products customers reorder (one list for the shop)"

    @classmethod
    def per_customer(cls) -> tuple[str, ...]:
        """The kinds written for each customer (erased with them)."""
        return (cls.PERSONAL, cls.BUY_AGAIN)


class SubjectType(models.TextChoices):
    """Whom or what a list is for; the id column holds the subject's own id."""

    NONE = "none", "The shop or channel as a whole"
    CUSTOMER = "customer", "A customer (Saleor user id)"
    PRODUCT = "product", "A product (Saleor product id)"
    CATEGORY = "category", "A category (Saleor category id)"
    COUNTRY = "country", "A country (ISO 3166-1 alpha-2 code)"


ID_SUBJECTS = (SubjectType.CUSTOMER, SubjectType.PRODUCT, SubjectType.CATEGORY)
NO_ID = 0  # Saleor's ids start at 1; 0 says "no id" in a column that stays NOT NULL


@dataclass(frozen=True)
class ListEntry:
    """One ranked product on a list, as the list code writes it and serving reads it.

    ``source`` names the list it was served from (``personal``, ``popular_country``,
    ...); it is set when a list is read, not stored, since a row's kind already says
    it. ``is_new`` marks a product placed on a personal list because it is new in the
    shop (stored as ``"new": true``, the key the lists have always used).
    """

    product_id: int
    score: float = 0.0
    reason: str = ""
    source: str = ""
    is_new: bool = False

    def to_json(self) -> dict:
        data: dict = {
            "product_id": int(self.product_id),
            "score": round(float(self.score), 5),
            "reason": self.reason,
        }
        if self.is_new:
            data["new"] = True
        return data

    @classmethod
    def from_json(cls, data: dict, source: str = "") -> "ListEntry":
        return cls(
            product_id=int(data["product_id"]),
            score=float(data.get("score", 0.0)),
            reason=str(data.get("reason", "")),
            source=source,
            is_new=bool(data.get("new", False)),
        )


@dataclass(frozen=True)
class ListKey:
    """Which list a row is: the columns of its unique key, so that the list code writes
    and serving reads one subject with one spelling."""

    kind: str
    subject_type: str = SubjectType.NONE
    subject_id: int = NO_ID
    country: str = ""
    channel: str = ""

    @classmethod
    def of(cls, kind: str, subject_type: str, subject_id: int, channel: str = "") -> "ListKey":
        return cls(kind, subject_type, int(subject_id), channel=channel)

    @classmethod
    def for_country(cls, kind: str, country: str, channel: str = "") -> "ListKey":
        if not country:
            return cls(kind, channel=channel)
        return cls(kind, SubjectType.COUNTRY, country=country, channel=channel)

    def lookup(self) -> dict:
        """Keyword arguments selecting this list's row (all five key columns: one index probe)."""
        return {
            "kind": self.kind,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "country": self.country,
            "channel": self.channel,
        }


class RecommendationList(models.Model):
    """A ranked list computed offline; serving reads one row by its unique key.

    The key is (kind, subject type, subject id, country, channel): a customer's or a
    product's list is found by its integer id, a country's bestsellers by its code,
    and a list for nobody in particular has type ``none``, id 0 and no country (check
    constraints keep the three consistent, so one subject has one spelling). All key
    columns are NOT NULL, so the unique constraint is also the upsert target on every
    database (a NULL would never conflict).

    ``entries`` is JSON, ``[{"product_id": int, "score": float, "reason": str}, ...]``
    in rank order; read and write it through :meth:`ranked` and
    :meth:`set_ranked` (:class:`ListEntry`), never as dicts. It is longer than any page
    a storefront asks for, so that the rules applied at read time still leave enough.
    """

    kind = models.CharField(max_length=32, choices=ListKind.choices)
    subject_type = models.CharField(
        max_length=16, choices=SubjectType.choices, default=SubjectType.NONE
    )
    subject_id = models.BigIntegerField(
        default=NO_ID, help_text="Customer, product or category id; 0 for other subjects."
    )
    country = models.CharField(
        max_length=2, blank=True, default="", help_text="ISO 3166-1 alpha-2, country lists only."
    )
    channel = models.CharField(max_length=255, blank=True, default="")
    entries = models.JSONField(default=list)
    model_run = models.ForeignKey(
        ModelRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="lists"
    )
    generated_at = models.DateTimeField()

    class Meta:
        app_label = "saleor_personalization"
        constraints = [
            # Column order follows serving's reads: kind and subject type always, then
            # one id (or a set of ids: a cart's products), then country and channel.
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_id", "country", "channel"],
                name="sp_recommendation_list_key",
            ),
            models.CheckConstraint(
                condition=(
                    Q(subject_type__in=ID_SUBJECTS, subject_id__gt=0, country="")
                    | (Q(subject_type=SubjectType.COUNTRY, subject_id=NO_ID) & ~Q(country=""))
                    | Q(subject_type=SubjectType.NONE, subject_id=NO_ID, country="")
                ),
                name="sp_recommendation_list_subject",
            ),
        ]

    def __str__(self) -> str:
        subject = self.country or (self.subject_id if self.subject_type in ID_SUBJECTS else "")
        return f"{self.kind}:{self.subject_type}:{subject}@{self.channel}"

    def ranked(self, source: str = "") -> list[ListEntry]:
        """The entries in rank order, each labelled with ``source``."""
        return [ListEntry.from_json(entry, source) for entry in self.entries or []]

    def set_ranked(self, entries: list[ListEntry]) -> None:
        self.entries = [entry.to_json() for entry in entries]

    @classmethod
    def build(
        cls, key: ListKey, entries: list[ListEntry], run: ModelRun | None, generated_at
    ) -> "RecommendationList":
        row = cls(**key.lookup(), model_run=run, generated_at=generated_at)
        row.set_ranked(entries)
        return row

    @classmethod
    def read(cls, key: ListKey, source: str = "") -> list[ListEntry]:
        """The list under ``key``, empty if there is none."""
        row = cls.objects.filter(**key.lookup()).only("entries").first()
        return row.ranked(source) if row else []

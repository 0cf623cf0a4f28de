"""Model runs and the precomputed lists that serving reads."""

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
    PERSONAL = "personal", "Personal (per customer)"
    SIMILAR = "similar", "Similar products (per product)"
    BOUGHT_TOGETHER = "bought_together", "Frequently bought together (per product)"
    TRENDING = "trending", "Trending (per channel and category)"
    POPULAR = "popular", "Popular (per channel and country)"
    REORDER = "reorder", "Products customers reorder (one list for the shop)"


class RecommendationList(models.Model):
    """A ranked list computed offline; serving reads one row by its unique key.

    ``items`` is ``[{"product_id": int, "score": float, "reason": str}, ...]`` in rank
    order, longer than any page a storefront asks for so that business rules applied at
    read time still leave enough.
    """

    kind = models.CharField(max_length=32, choices=ListKind.choices)
    subject = models.CharField(
        max_length=128,
        blank=True,
        default="",
        help_text="Customer id, product id, category id or country code; empty for global.",
    )
    channel = models.CharField(max_length=255, blank=True, default="")
    items = models.JSONField(default=list)
    model_run = models.ForeignKey(
        ModelRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="lists"
    )
    generated_at = models.DateTimeField()

    class Meta:
        app_label = "saleor_personalization"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject", "channel"], name="sp_recommendation_list_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.subject}@{self.channel}"

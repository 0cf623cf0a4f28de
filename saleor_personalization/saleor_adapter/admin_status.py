"""The plugin's status in words a shop admin reads on the Dashboard's plugin page.

The Dashboard shows a read-only (OUTPUT) setting as a one-line text box at the top of
the form, so the status is one such box per feature, each a sentence or two. Every
number comes from a report the CLI and the staff GraphQL already show: the model runs
and their promotion gate, segment memberships, :func:`offers.report.offer_report`,
:func:`emails.tracking.email_stats` and :func:`events.attribution.attribution_report`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from ..configuration import (
    STATUS_EMAILS_FIELD,
    STATUS_FIELD,
    STATUS_OFFERS_FIELD,
    STATUS_RECOMMENDATIONS_FIELD,
    STATUS_SEGMENTS_FIELD,
)
from ..emails.tracking import email_stats
from ..events.attribution import attribution_report
from ..models import ModelRun, ModelRunStatus, Segment
from ..offers.report import offer_report
from ..recommender.report import hybrid_unweighted, reorder_unused
from ..segments.compute import current_sizes
from .metadata import SEGMENT_KEY_PREFIX

TIMES = "\N{MULTIPLICATION SIGN}"
# Emails and recommendation clicks are counted over this many recent days.
REPORT_DAYS = 30


@dataclass(frozen=True)
class SegmentLine:
    key: str
    name: str
    description: str
    size: int


def _day(moment: datetime | None) -> str:
    return f"{moment.day} {moment:%b}" if moment else "an unknown day"


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _ndcg(metrics: dict, key: str) -> float | None:
    return (metrics.get(key) or {}).get("ndcg")


def _why_kept(run: ModelRun) -> str:
    """Why a finished retrain did not replace the live model, without jargon."""
    if run.status == ModelRunStatus.FAILED:
        # The whole first paragraph: a "not enough data" reason says what the shop has.
        reason = (run.error or "unknown error").split("\n\n")[0].replace("\n", " ")[:600]
        return f"last retrain ({_day(run.finished_at or run.created_at)}) failed: {reason}"
    metrics = run.metrics or {}
    live = metrics.get("live") or {}  # the live model, scored on this run's data
    when = _day(run.finished_at or run.created_at)
    new, popular = _ndcg(metrics, "new"), _ndcg(metrics, "popularity_new")
    because = ""
    if new is not None and popular is not None and new < popular:
        because = (
            f"its 'for you' lists found products new to each customer less well than "
            f"bestsellers do ({new:.3f} vs {popular:.3f})"
        )
    for key, label, what in (
        ("all", "buy again", "what customers bought next"),
        ("new", "for you", "products new to each customer"),
    ):
        mine, theirs = _ndcg(metrics, key), _ndcg(live, key)
        if not because and mine is not None and theirs is not None and mine < theirs:
            because = (
                f"its '{label}' lists found {what} less well than the live model's on the "
                f"same recent weeks ({mine:.3f} vs {theirs:.3f})"
            )
    if not because:
        because = (metrics.get("gate") or {}).get("reason", "the promotion gate refused it")
    return f"last retrain ({when}) kept the live model because {because}"


def model_sentence() -> str:
    live = ModelRun.objects.filter(is_live=True).first()
    if live is None:
        text = "No live model yet: storefront lists show bestsellers"
    else:
        metrics = live.metrics or {}
        text = f"Live model from {_day(live.promoted_at or live.finished_at)}"
        if live.status == ModelRunStatus.REJECTED:
            gate = (metrics.get("gate") or {}).get("reason") or "the promotion gate refused it"
            text += (
                f" (run {live.pk}, put back by a rollback although its retrain was "
                f"rejected: {gate})"
            )
        again, popular = _ndcg(metrics, "all"), _ndcg(metrics, "popularity_all")
        if again is not None and popular:
            text += (
                f": 'buy again' lists rank what customers bought next {again / popular:.1f}"
                f"{TIMES} better than bestsellers (NDCG@10 {again:.3f} vs {popular:.3f})"
            )
        found, popular_new = _ndcg(metrics, "new"), _ndcg(metrics, "popularity_new")
        if found is not None and popular_new:
            text += (
                f"; 'for you' lists find products new to the customer {found / popular_new:.1f}"
                f"{TIMES} better (NDCG@10 {found:.3f} vs {popular_new:.3f})"
            )
        for said in (hybrid_unweighted(metrics), reorder_unused(metrics)):
            if said:
                text += f"; {said}"
    later_runs = ModelRun.objects.exclude(is_live=True)
    if live is not None:
        later_runs = later_runs.filter(created_at__gt=live.created_at)
    latest = later_runs.first()  # newest first (the model's ordering)
    if latest is None:
        return text
    if latest.status in (ModelRunStatus.REJECTED, ModelRunStatus.FAILED):
        return f"{text}; {_why_kept(latest)}"
    if latest.status in (
        ModelRunStatus.QUEUED,
        ModelRunStatus.TRAINING,
        ModelRunStatus.EVALUATING,
    ):
        return f"{text}; a retrain is running"
    return text


def segment_lines() -> list[SegmentLine]:
    sizes = current_sizes()
    return [
        SegmentLine(segment.key, segment.name, segment.description, sizes.get(segment.pk, 0))
        for segment in Segment.objects.filter(is_active=True).order_by("kind", "key")
    ]


def segments_sentence() -> str:
    lines = segment_lines()
    if not lines:
        return "No segments computed yet (they are computed nightly)"
    listed = ", ".join(f"{line.key} = {line.name} ({line.size})" for line in lines)
    return (
        f"{listed}. Customers carry the metadata key {SEGMENT_KEY_PREFIX}<key>; a voucher "
        f"targets a segment with the metadata personalization.segment = <key>"
    )


def offers_sentence() -> str:
    reports = offer_report()
    if not reports:
        return "No personal codes issued yet"
    parts = []
    for report in reports:
        part = (
            f"{report.campaign} to {report.segment_key}: {report.issued} codes issued, "
            f"{report.redeemed} redeemed"
        )
        if report.held_out:
            part += (
                f", {report.held_out} held out; spend per customer "
                f"{_money(report.revenue_with_offer)} with a code vs "
                f"{_money(report.revenue_holdout)} without (uplift {_money(report.uplift)})"
            )
        parts.append(part)
    return "; ".join(parts)


def emails_sentence(since: datetime) -> str:
    stats = email_stats(since)
    sent = sum(s.sent for s in stats)
    if not stats:
        return f"Last {REPORT_DAYS} days: none sent"
    return (
        f"Last {REPORT_DAYS} days: {sent} sent, "
        f"{sum(s.opened for s in stats)} opened, {sum(s.clicked for s in stats)} clicked, "
        f"{sum(s.recovered_orders for s in stats)} checkouts recovered for "
        f"{_money(sum((s.revenue for s in stats), Decimal(0)))} revenue"
    )


def recommendations_sentence(since: datetime) -> str:
    reports = attribution_report(since)
    if not reports:
        return f"Last {REPORT_DAYS} days: no clicks on recommendations tracked yet"
    clicks = sum(r.clicks for r in reports)
    orders = sum(r.attributed_orders for r in reports)
    revenue = sum((r.attributed_revenue for r in reports), Decimal(0))
    by_list = ", ".join(f"{r.source} {r.clicks}" for r in reports)
    return (
        f"Last {REPORT_DAYS} days: {clicks} clicks on recommendations ({by_list}), "
        f"followed by {orders} orders worth {_money(revenue)}"
    )


def admin_status(now: datetime | None = None) -> dict[str, str]:
    """The status, one sentence per feature, keyed by the Dashboard field showing it."""
    since = (now or timezone.now()) - timedelta(days=REPORT_DAYS)
    return {
        STATUS_FIELD: model_sentence(),
        STATUS_SEGMENTS_FIELD: segments_sentence(),
        STATUS_OFFERS_FIELD: offers_sentence(),
        STATUS_EMAILS_FIELD: emails_sentence(since),
        STATUS_RECOMMENDATIONS_FIELD: recommendations_sentence(since),
    }

"""Resolvers: arguments checked, the requestor's rights enforced, serving asked.

They read precomputed lists through :mod:`..recommender.serving` (one indexed read)
and turn product ids into the shop's product objects through the backend, so an
unpublished or unlisted product is dropped by the shop's own visibility rules.
"""

import hashlib
import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from ..emails.tracking import email_stats
from ..events.attribution import (
    TrackedShopper,
    attribution_report,
    record_click,
    record_view,
)
from ..events.identity import is_valid_storefront_id, storefront_identity
from ..models import (
    CustomerProfile,
    Interaction,
    ListKind,
    ModelRun,
    ModelRunStatus,
    RecommendationList,
    Segment,
    SegmentMembership,
    SubjectType,
)
from ..offers.redemption import live_offers
from ..offers.report import offer_report
from ..recommender import serving
from ..recommender.artifact import ArtifactError
from ..recommender.model import InvalidParameters
from ..recommender.pipeline import rollback, start_run
from ..segments.compute import current_sizes
from ..shop import VoucherSummary, get_shop
from ..tasks import score_all_task, train_model_task
from ..tasks.dispatch import enqueue
from .backend import Requestor, ShopBackend
from .cost import DEFAULT_FIRST, MAX_FIRST
from .errors import ErrorCode, PersonalizationError
from .ids import database_id, read_served_recommendation_id, served_recommendation_id
from .throttle import allow
from .types import PersonalizationModelRun, PersonalizationTrackEventInput

logger = logging.getLogger(__name__)

MAX_RERANK = 100


def page_size(first: int | None, warnings: list[str]) -> int:
    if first is None:
        return DEFAULT_FIRST
    if first < 1:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, f"first must be between 1 and {MAX_FIRST}.", "first"
        )
    if first > MAX_FIRST:
        warnings.append(f"first capped at {MAX_FIRST} (asked for {first}).")
        return MAX_FIRST
    return first


def anonymous_identity(anonymous_id: str | None) -> str:
    if not anonymous_id:
        return ""
    if not is_valid_storefront_id(anonymous_id):
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT,
            "anonymousId must be 1-64 letters, digits, '-', '_' or '.'.",
            "anonymousId",
        )
    return storefront_identity(anonymous_id)


def text_argument(value: str, field: str) -> str:
    """PostgreSQL text cannot hold NUL: refuse it as bad input, not a database error."""
    if "\x00" in value:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, f"{field} must not contain NUL characters.", field
        )
    return value


def served_to(requestor: Requestor, anonymous_id: str | None) -> str:
    """Who a list is served to, as bound into its recommendationIds.

    The logged-in customer; else the storefront's anonymous id; else the client
    itself (an app, or an address), so an id served to nobody in particular is still
    only good for whoever fetched it.
    """
    if requestor.customer_id:
        return f"u{requestor.customer_id}"
    if anonymous_id:
        anonymous_identity(anonymous_id)  # validates
        return f"s:{anonymous_id}"
    return requestor.client_key


def shopper_for(requestor: Requestor, anonymous_id: str | None) -> serving.Shopper:
    """A logged-in customer is always themselves; anyone else is their anonymous id."""
    if requestor.customer_id:
        return serving.Shopper(customer_id=requestor.customer_id)
    return serving.Shopper(anonymous_id=anonymous_identity(anonymous_id))


def product_list(
    backend: ShopBackend,
    info,
    items: list[serving.Recommendation],
    channel: str,
    warnings,
    shopper: str,
) -> dict:
    products = backend.products(info, [item.product_id for item in items], channel)
    served_at = timezone.now()
    return {
        "items": [
            {
                "product": products[item.product_id],
                "reason": item.reason,
                "source": item.source,
                "score": item.score,
                "recommendation_id": served_recommendation_id(
                    item.source, item.product_id, served_at, shopper
                ),
            }
            for item in items
            if item.product_id in products
        ],
        "warnings": warnings,
    }


def _list_query(backend: ShopBackend, info, channel: str, first: int | None):
    warnings: list[str] = []
    size = page_size(first, warnings)
    slug = backend.channel(info, text_argument(channel, "channel"))
    return slug, size, warnings, backend.config(info)


def visible_product_id(backend, info, global_id: str, channel: str) -> int:
    """A product the requestor may see in the channel; hidden answers exactly as missing."""
    product_id = backend.product_id(info, global_id)
    if not backend.products(info, [product_id], channel):
        raise PersonalizationError(ErrorCode.NOT_FOUND, "There is no such product.", "product")
    return product_id


def personalized_products(backend, info, *, channel, first=None, anonymous_id=None) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.personalized(shopper, slug, size, config)
    return product_list(backend, info, items, slug, warnings, served_to(requestor, anonymous_id))


def similar_products(backend, info, *, product, channel, first=None, anonymous_id=None) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    served = served_to(requestor, anonymous_id)
    product_id = visible_product_id(backend, info, product, slug)
    items = serving.similar(product_id, slug, size, config, shopper_for(requestor, anonymous_id))
    return product_list(backend, info, items, slug, warnings, served)


def frequently_bought_together(
    backend, info, *, channel, product=None, checkout=None, first=None, anonymous_id=None
) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    served = served_to(requestor, anonymous_id)
    if bool(product) == bool(checkout):
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, "Give exactly one of product or checkout.", "product"
        )
    if product:
        product_ids = [visible_product_id(backend, info, product, slug)]
    else:
        product_ids = backend.checkout_products(info, checkout, requestor)
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.bought_together(product_ids, slug, size, config, shopper)
    return product_list(backend, info, items, slug, warnings, served)


def recently_viewed_products(backend, info, *, channel, first=None, anonymous_id=None) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.recently_viewed(shopper, slug, size, config)
    return product_list(backend, info, items, slug, warnings, served_to(requestor, anonymous_id))


def trending_products(
    backend, info, *, channel, category=None, first=None, anonymous_id=None
) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    served = served_to(requestor, anonymous_id)
    category_id = backend.category_id(info, category) if category else None
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.trending(slug, size, config, category_id=category_id, shopper=shopper)
    return product_list(backend, info, items, slug, warnings, served)


def rerank_products(backend, info, *, products, channel, anonymous_id=None) -> dict:
    warnings: list[str] = []
    if len(products) > MAX_RERANK:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT,
            f"At most {MAX_RERANK} products can be reranked.",
            "products",
        )
    slug = backend.channel(info, text_argument(channel, "channel"))
    product_ids = [backend.product_id(info, product) for product in products]
    requestor = backend.requestor(info)
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.rerank(shopper, product_ids, slug, backend.config(info))
    return product_list(backend, info, items, slug, warnings, served_to(requestor, anonymous_id))


# Customer data ----------------------------------------------------------------------


def _customer(backend, info) -> int:
    requestor = backend.requestor(info)
    if not requestor.customer_id:
        raise PersonalizationError(
            ErrorCode.NOT_AUTHENTICATED, "Log in as a customer to use this field."
        )
    return requestor.customer_id


def my_segments(backend, info) -> list[dict]:
    customer_id = _customer(backend, info)
    memberships = SegmentMembership.objects.filter(
        customer_id=customer_id, left_at__isnull=True, segment__is_active=True
    ).select_related("segment")
    return [
        {
            "key": m.segment.key,
            "name": m.segment.name,
            "description": m.segment.description,
            "entered_at": m.entered_at,
        }
        for m in memberships.order_by("segment__key")
    ]


def marketing_consent_update(backend, info, *, granted: bool) -> dict:
    customer_id = _customer(backend, info)
    now = timezone.now()
    with transaction.atomic():
        profile, _ = CustomerProfile.objects.select_for_update().get_or_create(
            customer_id=customer_id, defaults={"first_seen_at": now}
        )
        profile.marketing_consent = granted
        profile.consent_updated_at = now
        profile.save(update_fields=["marketing_consent", "consent_updated_at", "updated_at"])
    return {"granted": granted, "updated_at": now}


# Tracking ---------------------------------------------------------------------------


def track_event(backend, info, *, input: PersonalizationTrackEventInput) -> dict:
    requestor = backend.requestor(info)
    config = backend.config(info)
    slug = backend.channel(info, text_argument(input.channel, "channel"))
    if requestor.customer_id:
        shopper = TrackedShopper(customer_id=requestor.customer_id)
    elif input.anonymous_id:
        anonymous_identity(input.anonymous_id)  # validates
        shopper = TrackedShopper(anonymous_id=input.anonymous_id)
    else:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT,
            "Log in or send the shopper's anonymousId.",
            "anonymousId",
        )
    event_id = text_argument(input.event_id or "", "eventId")
    if len(event_id) > 64:
        raise PersonalizationError(ErrorCode.INVALID_ARGUMENT, "eventId is too long.", "eventId")
    kind = input.kind.value if hasattr(input.kind, "value") else input.kind
    if kind == "product_view":
        if not input.product:
            raise PersonalizationError(
                ErrorCode.INVALID_ARGUMENT, "PRODUCT_VIEW needs product.", "product"
            )
        product_id = visible_product_id(backend, info, input.product, slug)
        _throttle(requestor, config.track_rate_limit)
        if not config.tracking_enabled:
            return {"recorded": False}
        return {"recorded": record_view(shopper, product_id, slug, event_id=event_id)}
    if not input.recommendation_id:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT,
            "RECOMMENDATION_CLICK needs recommendationId.",
            "recommendationId",
        )
    ref = read_served_recommendation_id(
        input.recommendation_id, click_candidates(requestor, input.anonymous_id), timezone.now()
    )
    _throttle(requestor, config.track_rate_limit)
    if not config.tracking_enabled:
        return {"recorded": False}
    # One click per served item, whoever sends it and whatever eventIds a replay invents.
    served = hashlib.sha256(input.recommendation_id.encode()).hexdigest()[:40]
    return {"recorded": record_click(shopper, ref, slug, served_key=f"served-{served}")}


def click_candidates(requestor: Requestor, anonymous_id: str | None) -> list[str]:
    """Whom a click may come from: the customer, their storefront id (served before
    logging in), or the client that fetched a list served to nobody in particular."""
    candidates = [requestor.client_key]
    if requestor.customer_id:
        candidates.append(f"u{requestor.customer_id}")
    if anonymous_id:
        candidates.append(f"s:{anonymous_id}")
    return candidates


def _throttle(requestor: Requestor, limit: int) -> None:
    if not allow(requestor.client_key, limit):
        raise PersonalizationError(
            ErrorCode.RATE_LIMITED, f"More than {limit} events a minute; slow down."
        )


# Staff ------------------------------------------------------------------------------


def require_manager(backend, info) -> Requestor:
    requestor = backend.requestor(info)
    if requestor.can_manage:
        return requestor
    if requestor.is_anonymous:
        raise PersonalizationError(
            ErrorCode.NOT_AUTHENTICATED, "Log in as staff or use an app token."
        )
    raise PersonalizationError(
        ErrorCode.PERMISSION_DENIED, f"You need the {backend.permission_name} permission."
    )


def model_runs(backend, info, *, first=20) -> list[PersonalizationModelRun]:
    require_manager(backend, info)
    size = max(1, min(first or 20, MAX_FIRST))
    return [PersonalizationModelRun.from_model(run) for run in ModelRun.objects.all()[:size]]


def live_run(backend, info) -> PersonalizationModelRun | None:
    require_manager(backend, info)
    run = ModelRun.objects.filter(is_live=True).first()
    return PersonalizationModelRun.from_model(run) if run else None


def stats(backend, info, *, days=30) -> dict:
    require_manager(backend, info)
    if not 1 <= days <= 3650:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, "days must be between 1 and 3650.", "days"
        )
    since = timezone.now() - timedelta(days=days)
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
    live = ModelRun.objects.filter(is_live=True).first()
    coverage = None
    if live is not None:
        coverage = (live.metrics.get("all") or {}).get("coverage")
    sources = attribution_report(since)
    return {
        "since": since,
        "active_customers": active_count,
        "customers_with_lists": with_lists,
        "personal_list_share": (with_lists / active_count) if active_count else 0.0,
        "catalogue_coverage": coverage,
        "lists": [{"kind": row["kind"], "lists": row["n"]} for row in lists],
        "sources": [
            {
                "source": s.source,
                "clicks": s.clicks,
                "attributed_orders": s.attributed_orders,
                "attributed_revenue": float(s.attributed_revenue),
            }
            for s in sources
        ],
        "clicks": sum(s.clicks for s in sources),
        "attributed_orders": sum(s.attributed_orders for s in sources),
        "attributed_revenue": float(sum(s.attributed_revenue for s in sources)),
    }


def train(backend, info, *, params=None) -> dict:
    require_manager(backend, info)
    if ModelRun.objects.filter(
        status__in=[ModelRunStatus.QUEUED, ModelRunStatus.TRAINING, ModelRunStatus.EVALUATING]
    ).exists():
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, "A training run is already queued or running."
        )
    try:
        run = start_run(params or None)
    except InvalidParameters as error:
        raise PersonalizationError(ErrorCode.INVALID_ARGUMENT, str(error), "params") from error
    enqueue(train_model_task, run_id=run.pk)
    run.refresh_from_db()
    return {"run": PersonalizationModelRun.from_model(run), "message": "Training queued."}


def rollback_model(backend, info, *, run=None) -> PersonalizationModelRun:
    require_manager(backend, info)
    run_id = None
    if run:
        run_id = database_id(run, "PersonalizationModelRun", "run")
    try:
        target = rollback(run_id)
    except ValueError as error:
        raise PersonalizationError(ErrorCode.NOT_FOUND, str(error), "run") from error
    except ArtifactError as error:
        # The artifact error names files on the server; the log has it, the client not.
        logger.warning("Rollback refused: %s", error)
        raise PersonalizationError(
            ErrorCode.NOT_FOUND,
            "The run's model file is missing or damaged; see the server log.",
            "run",
        ) from error
    enqueue(score_all_task, run_id=target.pk)
    return PersonalizationModelRun.from_model(target)


# Segments and offers ----------------------------------------------------------------


def _discount_text(summary: VoucherSummary | None) -> tuple[str | None, str | None]:
    if summary is None:
        return None, None
    if not summary.discount_values:
        return summary.discount_type, None
    currency, value = max(summary.discount_values.items(), key=lambda item: item[1])
    if summary.discount_type == "percentage":
        return "percentage", f"{value.normalize():f}%"
    return "fixed", f"{value:.2f} {currency}"


def my_offers(backend, info) -> list[dict]:
    customer_id = _customer(backend, info)
    now = timezone.now()
    offers = live_offers(customer_id, now)
    summaries = get_shop().vouchers.summaries(sorted({o.voucher_id for o in offers}))
    result = []
    for offer in offers:
        summary = summaries.get(offer.voucher_id)
        discount_type, discount = _discount_text(summary)
        result.append(
            {
                "code": offer.code,
                "voucher_name": summary.name if summary else "",
                "discount_type": discount_type,
                "discount": discount,
                "segment": offer.segment_key,
                "campaign": offer.campaign,
                "issued_at": offer.issued_at,
                "expires_at": offer.expires_at,
            }
        )
    return result


def segments(backend, info) -> list[dict]:
    require_manager(backend, info)
    counts = current_sizes()
    return [
        {
            "segment": segment,
            "key": segment.key,
            "name": segment.name,
            "kind": segment.kind,
            "description": segment.description,
            "size": counts.get(segment.pk, 0),
        }
        for segment in Segment.objects.filter(is_active=True).order_by("kind", "key")
    ]


def offer_stats(backend, info) -> list[dict]:
    require_manager(backend, info)
    return [
        {
            "campaign": r.campaign,
            "segment": r.segment_key,
            "issued": r.issued,
            "redeemed": r.redeemed,
            "held_out": r.held_out,
            "revenue_with_offer": float(r.revenue_with_offer),
            "revenue_holdout": float(r.revenue_holdout),
            "uplift": float(r.uplift),
        }
        for r in offer_report()
    ]


def email_stats_for(backend, info, *, days=30) -> list[dict]:
    require_manager(backend, info)
    if not 1 <= days <= 3650:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, "days must be between 1 and 3650.", "days"
        )
    return [
        {
            "step": s.step,
            "sent": s.sent,
            "opened": s.opened,
            "clicked": s.clicked,
            "recovered_orders": s.recovered_orders,
            "revenue": float(s.revenue),
            "skipped": s.skipped,
            "failed": s.failed,
        }
        for s in email_stats(timezone.now() - timedelta(days=days))
    ]

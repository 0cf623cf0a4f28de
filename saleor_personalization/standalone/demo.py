"""The standalone demo: load a real order export and run every stage of the pipeline.

Each stage prints a short section of the report. Stages only read what earlier ones
wrote, so the demo is a faithful end-to-end run of what the plugin does in a shop.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from django.db.models import Count

from ..models import CustomerProfile, Interaction, ItemProfile
from .importer import import_order_export


@dataclass
class DemoContext:
    dataset: Path
    channel: str
    out: TextIO
    output_dir: Path

    def section(self, title: str) -> None:
        self.out.write(f"\n== {title}\n")

    def row(self, label: str, value) -> None:
        if isinstance(value, int):
            value = f"{value:,}"
        self.out.write(f"  {label:<42} {value}\n")


def load_stage(ctx: DemoContext) -> None:
    ctx.section(f"Load {ctx.dataset.name}")
    report = import_order_export(ctx.dataset, channel=ctx.channel, source="online-retail")
    for label, value in report.cleaning.as_rows() + report.as_rows():
        ctx.row(label, value)
    if report.first_order_at and report.last_order_at:
        ctx.row(
            "orders from", f"{report.first_order_at:%Y-%m-%d} to {report.last_order_at:%Y-%m-%d}"
        )


def feature_store_stage(ctx: DemoContext) -> None:
    ctx.section("Feature store")
    ctx.row("products", ItemProfile.objects.count())
    ctx.row("customers", CustomerProfile.objects.count())
    ctx.row("interactions", Interaction.objects.count())
    countries = (
        CustomerProfile.objects.values("country")
        .annotate(customers=Count("customer_id"))
        .order_by("-customers")[:5]
    )
    for row in countries:
        ctx.row(f"customers in {row['country'] or 'unknown country'}", row["customers"])
    top = (
        Interaction.objects.values("product_id")
        .annotate(orders=Count("basket_ref", distinct=True))
        .order_by("-orders")[:5]
    )
    names = dict(
        ItemProfile.objects.filter(product_id__in=[r["product_id"] for r in top]).values_list(
            "product_id", "name"
        )
    )
    for row in top:
        ctx.row(
            f"bestseller: {names.get(row['product_id'], row['product_id'])}"[:42], row["orders"]
        )


def recommender_stage(ctx: DemoContext) -> None:
    from ..configuration import PersonalizationConfig
    from ..recommender import serving
    from ..recommender.report import run_summary
    from ..services.scoring import score_all
    from ..services.training import train

    ctx.section("Train, evaluate and promote (LightFM hybrid blend)")
    run = train(params={}, score=False)
    for line in run_summary(run):
        ctx.out.write(f"  {line}\n")
    if not run.is_live:
        return
    ctx.section("Precomputed lists")
    last = Interaction.objects.order_by("-occurred_at").values_list("occurred_at", flat=True)[0]
    # The export is history: lists are scored as of its last day.
    written = score_all(run_id=run.pk, now=last, inline=True)
    for kind, count in written.items():
        ctx.row(kind.replace("_", " "), count)
    customer = CustomerProfile.objects.filter(orders_count__gte=5).order_by("customer_id").first()
    if customer is None:
        return
    items = serving.personalized(
        serving.Shopper(customer_id=customer.customer_id), ctx.channel, 5, PersonalizationConfig()
    )
    names = dict(
        ItemProfile.objects.filter(product_id__in=[i.product_id for i in items]).values_list(
            "product_id", "name"
        )
    )
    ctx.out.write(f"\n  For customer {customer.customer_id} ({customer.country or 'unknown'}):\n")
    for item in items:
        ctx.out.write(f"    {names.get(item.product_id, item.product_id)!s:<40} {item.reason}\n")


def segments_stage(ctx: DemoContext) -> None:
    from ..models import Segment
    from ..segments.compute import compute_segments

    last = Interaction.objects.order_by("-occurred_at").values_list("occurred_at", flat=True)[0]
    ctx.section(f"Customer segments as of {last:%Y-%m-%d}")
    report = compute_segments(as_of=last)
    segments = {s.key: s for s in Segment.objects.all()}
    ordered = sorted(report.sizes.items(), key=lambda kv: (kv[0].startswith("country-"), -kv[1]))
    for key, size in ordered[:20]:
        segment = segments[key]
        ctx.out.write(f"  {segment.name:<28} {size:>6,}  {segment.description}\n")


def learned_segments_stage(ctx: DemoContext) -> None:
    from ..segments.learned import compute_learned_segments

    last = Interaction.objects.order_by("-occurred_at").values_list("occurred_at", flat=True)[0]
    report = compute_learned_segments(as_of=last)
    title, *lines = report.summary()
    ctx.section(f"Learned segments: {title}")
    for line in lines:
        ctx.out.write(line + "\n")


def email_preview_stage(ctx: DemoContext) -> None:
    """Render the second reminder email for a customer's cart to an HTML file.

    The export has no open checkouts, so the demo makes one from the customer's last
    order, renders it (with their recommendations) and removes it again.
    """
    from dataclasses import replace

    from ..configuration import parse_configuration
    from ..emails.delivery import recommendations_for
    from ..emails.render import render_email
    from ..models import CartState, InteractionKind
    from .email_source import StandaloneCheckoutSource

    last = (
        Interaction.objects.filter(kind=InteractionKind.PURCHASE, customer_id__isnull=False)
        .order_by("-occurred_at")
        .values("customer_id", "basket_ref", "channel")
        .first()
    )
    if last is None:
        return
    lines = Interaction.objects.filter(
        basket_ref=last["basket_ref"], kind=InteractionKind.PURCHASE
    ).values_list("product_id", "quantity")[:3]
    token = "demo-preview"
    CartState.objects.filter(token=token).delete()
    CartState.objects.create(
        token=token,
        channel=last["channel"],
        customer_id=last["customer_id"],
        email="customer@example.com",
        language_code="en",
        lines={f"p{product}": [product, quantity] for product, quantity in lines},
    )
    try:
        source = StandaloneCheckoutSource()
        content = source.content(token)
        config = replace(
            parse_configuration({}),
            abandoned_recovery_url="https://shop.example.com/cart/{token}",
        )
        recommended = recommendations_for(
            [line.product_id for line in content.lines],
            content.customer_id,
            content.channel,
            config.abandoned_recommendations,
            config,
            source,
        )
        rendered = render_email(
            content=content,
            step=2,
            email_id=0,
            config=config,
            shop=source.shop(),
            recommendations=recommended,
        )
    finally:
        CartState.objects.filter(token=token).delete()
    ctx.output_dir.mkdir(parents=True, exist_ok=True)
    target = ctx.output_dir / "abandoned-checkout-email.html"
    target.write_text(rendered.html, encoding="utf-8")
    ctx.section("Abandoned-checkout email (step 2) for the last customer's cart")
    ctx.row("subject", rendered.subject)
    ctx.row("cart lines / recommendations", f"{len(content.lines)} / {len(recommended)}")
    ctx.row("written to", str(target))


STAGES = [
    load_stage,
    feature_store_stage,
    segments_stage,
    recommender_stage,
    learned_segments_stage,
    email_preview_stage,
]


def run_demo(ctx: DemoContext) -> None:
    for stage in STAGES:
        stage(ctx)
    ctx.out.write("\nDemo finished.\n")

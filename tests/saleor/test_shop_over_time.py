"""The shop over time (issue 14): weeks of a small Saleor shop, its invariants checked daily.

Ten weeks of history are imported with ``orderBulkCreate`` (customers and guests), the
plugin is switched on and backfilled, and then eight simulated days pass (freezegun):
Celery beat's tasks run at their hours, customers order through ``checkoutComplete``
(paid, so both order hooks fire), a product sells out and comes back, a product is
created, a segment voucher is issued and re-issued, a checkout is abandoned and reminded
three times before it is recovered with the customer's code, and a customer is deleted.

After each day (and right after the changes that must show within minutes) every
invariant runs; a violated invariant does not stop the story, so the final assertion
lists each invariant as PASS or FAIL with the first violations and when they happened.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import random  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

import pytest  # noqa: E402
from django.core.cache import cache  # noqa: E402

from tests.saleor.scenario import (  # noqa: E402
    CHECKOUT_ADD_PROMO,
    CONSENT,
    LIST_FIELDS,
    PLUGIN_PATH,
    RULES,
    SALEOR_PATH,
    Customer,
    Ledger,
    Shop,
    Truth,
    by_field,
    click_targets,
    gid,
    message_id_problems,
    post,
    reason_problems,
    reason_violation,
    renamed_plugin_tables,
    rule_breaches,
    run_task,
    served,
)
from tests.smtp import smtp_server  # noqa: E402

pytestmark = [pytest.mark.django_db, pytest.mark.scenario, pytest.mark.saleor]

START = datetime(2026, 11, 2, tzinfo=UTC)  # day 1 of the simulation (a Monday)
HISTORY_WEEKS = 10
DAYS = 8
SEGMENT = "repeat-buyers"  # three or more orders
RECOVERY_URL = "https://shop.example.com/cart/{token}"
PRODUCT_URL = "https://shop.example.com/products/{slug}"
CATALOGUE = {
    "Tea": ["Green Tea", "Earl Grey", "Rooibos", "Chamomile", "Oolong", "Sencha"],
    "Coffee": ["Espresso Beans", "Filter Roast", "Decaf Blend", "Cold Brew", "Mocha Java", "Kona"],
    "Mugs": ["Stoneware Mug", "Glass Cup", "Travel Tumbler", "Espresso Cup", "Teapot", "Saucer"],
    "Snacks": [
        "Shortbread",
        "Almond Biscotti",
        "Dark Chocolate",
        "Ginger Snaps",
        "Oat Bar",
        "Fudge",
    ],
}
COUNTRIES = ["PL", "DE", "GB"]
ADDRESSES = {  # valid for Saleor's address validation, one per customer country
    "PL": {"streetAddress1": "Tęczowa 7", "postalCode": "53-601", "city": "Wrocław"},
    "DE": {"streetAddress1": "Unter den Linden 1", "postalCode": "10117", "city": "Berlin"},
    "GB": {"streetAddress1": "10 Downing Street", "postalCode": "SW1A 2AA", "city": "London"},
}


# Building the shop ----------------------------------------------------------------------


def _catalogue(shop: Shop, warehouse, tax_class, rng) -> object:
    from saleor.product.models import (
        Category,
        Product,
        ProductChannelListing,
        ProductType,
        ProductVariant,
        ProductVariantChannelListing,
    )
    from saleor.warehouse.models import Stock

    product_type = ProductType.objects.create(
        name="Grocery",
        slug="grocery",
        kind="normal",
        has_variants=False,
        is_shipping_required=False,
        tax_class=tax_class,
    )
    for name, products in CATALOGUE.items():
        category = Category.objects.create(name=name, slug=name.lower())
        shop.categories[name] = category
        for product_name in products:
            price = Decimal(rng.randrange(3, 20))
            product = Product.objects.create(
                name=product_name,
                slug=product_name.lower().replace(" ", "-"),
                product_type=product_type,
                category=category,
                tax_class=tax_class,
            )
            ProductChannelListing.objects.create(
                product=product,
                channel=shop.channel,
                is_published=True,
                visible_in_listings=True,
                available_for_purchase_at=datetime(2020, 1, 1, tzinfo=UTC),
                discounted_price_amount=price,
                currency=shop.channel.currency_code,
            )
            variant = ProductVariant.objects.create(product=product, sku=product.slug)
            ProductVariantChannelListing.objects.create(
                variant=variant,
                channel=shop.channel,
                price_amount=price,
                discounted_price_amount=price,
                currency=shop.channel.currency_code,
            )
            Stock.objects.create(warehouse=warehouse, product_variant=variant, quantity=1000)
            shop.products.append(product)
    return product_type


def _history(shop: Shop, rng) -> list[dict]:
    """Ten weeks of orders; nobody buys one product twice (so no product is a reorder one)."""
    by_category = defaultdict(list)
    for product in shop.products:
        by_category[product.category.name].append(product)
    orders = []
    first_day = START - timedelta(weeks=HISTORY_WEEKS)

    def basket(owned: set, favourite: str) -> list:
        size = rng.choice([1, 2, 2, 3])
        chosen = []
        while len(chosen) < size:
            pool = by_category[favourite] if rng.random() < 0.7 else shop.products
            candidates = [p for p in pool if p.pk not in owned and p not in chosen]
            if not candidates:
                candidates = [p for p in shop.products if p.pk not in owned and p not in chosen]
            chosen.append(rng.choice(candidates))
        owned.update(p.pk for p in chosen)
        return chosen

    for customer in shop.customers:
        count = 1 if customer.favourite == "outsider" else rng.randint(3, 5)
        favourite = customer.favourite if customer.favourite in CATALOGUE else "Tea"
        owned: set[int] = set()
        for when in sorted(rng.uniform(0, HISTORY_WEEKS * 7 - 1) for _ in range(count)):
            orders.append(
                shop.bulk_order(
                    user=customer.user,
                    address=customer.address,
                    products=basket(owned, favourite),
                    created_at=first_day + timedelta(days=when),
                )
            )
    for email in shop.guests:
        owned = set()
        favourite = rng.choice(list(CATALOGUE))
        for _ in range(rng.randint(1, 2)):
            when = rng.uniform(0, HISTORY_WEEKS * 7 - 1)
            orders.append(
                shop.bulk_order(
                    email=email,
                    products=basket(owned, favourite),
                    created_at=first_day + timedelta(days=when),
                )
            )
    return sorted(orders, key=lambda o: o["createdAt"])


@pytest.fixture
def shop(
    set_plugin_setting,
    personalization_config,
    channel_USD,
    warehouse,
    staff_api_client,
    api_client,
    graphql_address_data,
    site_settings,
    default_tax_class,
    permission_manage_orders_import,
    permission_manage_orders,
    permission_manage_products,
    permission_manage_discounts,
    permission_manage_users,
    permission_manage_plugins,
    permission_manage_checkouts,
    settings,
    tmp_path,
):
    from saleor.account.models import Address, User
    from saleor.graphql.tests.fixtures import ApiClient

    rng = random.Random(14)
    cache.clear()  # locks and scan times of earlier tests in this process
    settings.MEDIA_ROOT = str(tmp_path)  # model artifacts of the runs go to Django's storage
    site_settings.site.domain = "shop.example.com"
    site_settings.site.save()
    staff_api_client.user.user_permissions.add(
        permission_manage_orders_import,
        permission_manage_orders,
        permission_manage_products,
        permission_manage_discounts,
        permission_manage_users,
        permission_manage_plugins,
        permission_manage_checkouts,
    )
    address = dict(graphql_address_data)
    address.pop("metadata", None)
    shop = Shop(
        channel=channel_USD,
        warehouse=warehouse,
        staff=staff_api_client,
        anonymous=api_client,
        address=address,
    )
    shop.product_type = _catalogue(shop, warehouse, default_tax_class, rng)
    favourites = [*CATALOGUE]
    for n in range(26):
        country = COUNTRIES[n % len(COUNTRIES)]
        user = User.objects.create(
            email=f"customer{n}@example.com",
            first_name=f"Customer{n}",
            is_active=True,
        )
        parts = ADDRESSES[country]
        user.default_billing_address = Address.objects.create(
            first_name=user.first_name,
            last_name="Doe",
            street_address_1=parts["streetAddress1"],
            city=parts["city"],
            postal_code=parts["postalCode"],
            country=country,
        )
        user.save(update_fields=["default_billing_address"])
        favourite = "outsider" if n == 25 else favourites[n % len(favourites)]
        graphql_address = {
            **address,
            **parts,
            "firstName": user.first_name,
            "country": country,
            "phone": "",
            "companyName": "",
            "countryArea": "",
        }
        shop.customers.append(
            Customer(user, ApiClient(user=user), country, favourite, graphql_address)
        )
    shop.guests = [f"guest{n}@example.net" for n in range(8)]
    return shop


# The invariants ---------------------------------------------------------------------------


class ShopInvariants:
    """Each invariant of issue 14 as one method; ``check_all`` runs them through a Ledger."""

    def __init__(self, shop: Shop, ledger: Ledger, mailbox, client):
        self.shop = shop
        self.ledger = ledger
        self.mailbox = mailbox
        self.client = client  # a plain Django test client for email links
        self.baseline = None  # Saleor's answers with the plugin active on day 1
        self.offer_report_high = {}
        self.expected_reminders = 0
        self.abandoner = None
        self.abandoned_token = ""
        self.restocked = None

    # Served lists, read once per check point --------------------------------------------

    def sample(self, day: int, now: datetime) -> list[Customer]:
        """Who ordered in the last two days, the reminded shopper, and four others in turn."""
        recent = {
            o.customer_id for o in self.shop.live_orders if now - o.placed_at < timedelta(days=2)
        }
        people = [c for c in self.shop.customers if c.user.pk in recent or c is self.abandoner]
        rotation = [c for c in self.shop.customers if c not in people]
        start = (day * 4) % max(len(rotation), 1)
        return people + (rotation[start:] + rotation[:start])[:4]

    def served_lists(self, customers: list[Customer], truth: Truth) -> list[tuple]:
        """(label, customer id, entries, anchors) for every list these shoppers are served."""
        from saleor.checkout.models import Checkout

        channel = self.shop.channel.slug
        every = [gid("Product", p.pk) for p in self.shop.products][:100]
        out = []
        for customer in [None, *customers]:
            client = customer.client if customer else self.shop.anonymous
            who = customer.user.email if customer else "anonymous"
            customer_id = customer.user.pk if customer else None
            bought = sorted(truth.bought.get(customer_id, {}), key=lambda p: -p) if customer else []
            # A product page the storefront can show: a hidden product has none.
            visible = [p.pk for p in self.shop.products if p.pk in truth.visible]
            page = next((p for p in bought if p in truth.visible), visible[0])
            page_id = gid("Product", page)
            queries = {
                "personalizedProducts": f'personalizedProducts(channel: "{channel}", first: 20)',
                "similarProducts": (
                    f'similarProducts(product: "{page_id}", channel: "{channel}", first: 10)'
                ),
                "frequentlyBoughtTogether": (
                    f'frequentlyBoughtTogether(product: "{page_id}", channel: "{channel}", '
                    "first: 10)"
                ),
                "rerankProducts": (
                    f'rerankProducts(products: {every!r}, channel: "{channel}")'.replace("'", '"')
                ),
            }
            anchors = {
                "similarProducts": {truth.names[page]},
                "frequentlyBoughtTogether": {truth.names[page]},
            }
            cart = (
                Checkout.objects.filter(user_id=customer_id, lines__isnull=False).first()
                if customer
                else None
            )
            if cart is not None:
                queries["frequentlyBoughtTogether(cart)"] = (
                    f'frequentlyBoughtTogether(checkout: "{cart.token}", channel: "{channel}", '
                    "first: 10)"
                )
                anchors["frequentlyBoughtTogether(cart)"] = {
                    truth.names[p] for p in truth.carts.get(customer_id, set())
                }
            body = post(
                client,
                "{ "
                + " ".join(f"f{k}: {q} {{ {LIST_FIELDS} }}" for k, q in enumerate(queries.values()))
                + " }",
                path=PLUGIN_PATH,
            )
            for k, name in enumerate(queries):
                value = (body.get("data") or {}).get(f"f{k}")
                label = f"{name} for {who}"
                if value is None:
                    out.append((label, customer_id, None, body.get("errors")))
                else:
                    out.append(
                        (label, customer_id, served(value["items"]), anchors.get(name, set()))
                    )
        return out

    # 1. stock, visibility, cart and recent purchases --------------------------------------

    @staticmethod
    def breaches_of(rule: str, lists, truth) -> list[str]:
        problems = []
        for label, customer_id, entries, errors in lists:
            if entries is None:
                problems.append(f"{label} answered no list: {errors}")
                continue
            problems += rule_breaches(label, entries, customer_id, truth)[rule]
        return by_field(problems)

    def lists_hide_unpublished_products(self, lists, truth):
        return self.breaches_of("unpublished", lists, truth)

    def lists_hide_out_of_stock_products(self, lists, truth):
        return self.breaches_of("out_of_stock", lists, truth)

    def lists_hide_products_in_the_cart(self, lists, truth):
        return self.breaches_of("in_cart", lists, truth)

    def lists_hide_recent_purchases(self, lists, truth):
        return self.breaches_of("recently_bought", lists, truth)

    # 2. reasons ---------------------------------------------------------------------------

    def every_served_reason_is_true_of_the_shopper(self, lists, truth):
        problems = []
        for label, customer_id, entries, anchors in lists:
            if entries is not None:
                problems += reason_problems(label, entries, customer_id, truth, anchors=anchors)
        return by_field(problems)

    def every_written_reason_is_true_of_the_customer(self, truth):
        """A property over all precomputed personal lists, not just the served top."""
        from saleor_personalization.models import ListKind, RecommendationList

        problems, false, total = [], 0, 0
        for row in RecommendationList.objects.filter(kind=ListKind.PERSONAL):
            subject = row.subject_id
            for entry in row.ranked():
                total += 1
                why = reason_violation(entry.reason, entry.product_id, subject, truth, set())
                if why:
                    false += 1
                    if len(problems) < 4:
                        problems.append(
                            f"customer {subject}: {truth.names.get(entry.product_id)} "
                            f"— {entry.reason!r}: {why}"
                        )
        if false:
            problems.insert(0, f"{false} of {total} written reasons are false")
        return problems

    # 3. new orders reach the lists within a day ----------------------------------------------

    def new_orders_reach_the_customers_lists_within_a_day(self, now, truth):
        from saleor_personalization.models import ListKind, RecommendationList

        problems = []
        generated = dict(
            RecommendationList.objects.filter(kind=ListKind.PERSONAL).values_list(
                "subject_id", "generated_at"
            )
        )
        customers = {c.user.pk: c for c in self.shop.customers}
        for order in self.shop.live_orders:
            if order.customer_id not in customers or now - order.placed_at < timedelta(days=1):
                continue
            stamp = generated.get(order.customer_id)
            if stamp is None or stamp < order.placed_at:
                problems.append(
                    f"order of customer {order.customer_id} at {order.placed_at:%d %b %H:%M}: "
                    f"their list was last scored {stamp and f'{stamp:%d %b %H:%M}'}"
                )
                continue
            if now - order.placed_at > timedelta(days=2):
                continue
            body = post(
                customers[order.customer_id].client,
                f'{{ personalizedProducts(channel: "{self.shop.channel.slug}", first: 20) '
                f"{{ {LIST_FIELDS} }} }}",
                path=PLUGIN_PATH,
            )
            items = served(body["data"]["personalizedProducts"]["items"])
            stale = [truth.names[p] for p, _, _ in items if p in order.product_ids]
            if stale:
                problems.append(f"customer {order.customer_id} is still offered {stale}")
        return problems

    # 4. email ----------------------------------------------------------------------------------

    def email_stats(self):
        body = post(
            self.shop.staff,
            "{ personalizationEmailStats(days: 60) { step sent recoveredOrders revenue } }",
            path=PLUGIN_PATH,
        )
        return body["data"]["personalizationEmailStats"]

    def each_recovered_order_is_attributed_once(self):
        stats = self.email_stats()
        orders = sum(s["recoveredOrders"] for s in stats)
        revenue = round(sum(s["revenue"] or 0 for s in stats), 2)
        expected = len(self.shop.recovered_orders)
        expected_revenue = round(float(sum(total for _, total in self.shop.recovered_orders)), 2)
        if (orders, revenue) != (expected, expected_revenue):
            return [
                f"email stats credit {orders} orders / {revenue} "
                f"for {expected} recovered orders / {expected_revenue} ({stats})"
            ]
        return []

    def abandoned_checkout_gets_each_step_once_at_its_time(self):
        if self.abandoner is None:
            return []
        mine = self.mailbox.to(self.abandoner.user.email)
        subjects = [str(m["Subject"]) for m in mine]
        if len(mine) != self.expected_reminders:
            return [f"{len(mine)} reminders sent, {self.expected_reminders} due by now: {subjects}"]
        return []

    def emails_are_well_formed(self):
        return message_id_problems(self.mailbox.messages)

    def email_recommendations_link_to_products(self):
        problems = []
        cart = RECOVERY_URL.format(token=self.abandoned_token)
        for message in self.mailbox.messages[1:]:  # steps 2 and 3 carry recommendations
            targets = click_targets(self.client, message)
            products = [t for t in targets if t.startswith(PRODUCT_URL.split("{")[0])]
            if targets and not products:
                problems.append(
                    f"no link of {message['Subject']!r} leads to a product page "
                    f"({len(targets)} links: {sorted(set(targets))[:3]})"
                )
            elif any(t != cart and "unsubscribe" not in t and t not in products for t in targets):
                problems.append(f"a link of {message['Subject']!r} leads somewhere unexpected")
        return problems

    # 5. codes --------------------------------------------------------------------------------

    def no_customer_holds_two_open_codes_of_one_campaign(self):
        """Asked as each customer who was ever issued a code (``myOffers``: live codes)."""
        from saleor_personalization.models import SegmentOffer

        holders = set(
            SegmentOffer.objects.filter(code__isnull=False).values_list("customer_id", flat=True)
        )
        problems = []
        for customer in [c for c in self.shop.customers if c.user.pk in holders]:
            body = post(
                customer.client, "{ myOffers { code voucherName segment } }", path=PLUGIN_PATH
            )
            offers = (body.get("data") or {}).get("myOffers")
            if offers is None:
                problems.append(f"myOffers failed for {customer.user.email}: {body.get('errors')}")
                continue
            per_campaign = Counter((o["voucherName"], o["segment"]) for o in offers)
            problems += [
                f"{customer.user.email} holds {n} open codes of {campaign}"
                for campaign, n in per_campaign.items()
                if n > 1
            ]
        return problems

    def issuing_again_never_gives_anyone_a_second_code(self):
        from saleor_personalization.models import SegmentOffer

        codes = Counter(
            SegmentOffer.objects.filter(code__isnull=False).values_list("campaign", "customer_id")
        )
        return [
            f"customer {customer} got {n} codes of {campaign}"
            for (campaign, customer), n in codes.items()
            if n > 1
        ]

    def offer_report_keeps_redeemed_revenue(self):
        body = post(
            self.shop.staff,
            "{ personalizationOfferReport { campaign issued redeemed revenueWithOffer } }",
            path=PLUGIN_PATH,
        )
        problems = []
        for row in body["data"]["personalizationOfferReport"]:
            high = self.offer_report_high.get(row["campaign"])
            if high and (
                row["redeemed"] < high["redeemed"]
                or row["revenueWithOffer"] < high["revenueWithOffer"]
            ):
                problems.append(f"{row['campaign']}: report fell from {high} to {row}")
            self.offer_report_high[row["campaign"]] = {
                "redeemed": max(row["redeemed"], (high or row)["redeemed"]),
                "revenueWithOffer": max(row["revenueWithOffer"], (high or row)["revenueWithOffer"]),
            }
        return problems

    def no_code_works_for_a_non_member(self):
        """The voucher's base code and a member's code, tried by a non-member and a guest."""
        from saleor_personalization.models import SegmentOffer

        if self.shop.campaign_voucher is None:
            return []
        outsider = next(c for c in self.shop.customers if c.favourite == "outsider")
        member_code = (
            SegmentOffer.objects.filter(code__isnull=False, redeemed_at__isnull=True)
            .exclude(customer_id=outsider.user.pk)
            .values_list("code", flat=True)
            .first()
        )
        problems = []
        attempts = [("base code", self.shop.base_code)]
        if member_code:
            attempts.append(("a member's personal code", member_code))
        for label, code in attempts:
            if self.shop.try_code(outsider.client, outsider.user.email, code):
                problems.append(
                    f"{label} {code} discounted an order of non-member {outsider.user.email}"
                )
            guest = self.shop.guests[0]
            if self.shop.try_code(self.shop.anonymous, guest, code):
                problems.append(f"{label} {code} discounted an order of guest {guest}")
        return problems

    # 6. Saleor's own API ---------------------------------------------------------------------

    def saleor_answers(self):
        """Saleor's own page queries, anonymous and as a customer, on /graphql/."""
        channel = self.shop.channel.slug
        saleor_only = (
            f'{{ shop {{ name }} products(first: 5, channel: "{channel}") '
            f"{{ edges {{ node {{ name }} }} }} }}"
        )
        answers = {}
        for who, client in (
            ("anonymous", self.shop.anonymous),
            ("customer", self.shop.customers[0].client),
        ):
            body = post(client, saleor_only, path=SALEOR_PATH)
            answers[f"saleor query as {who}"] = {
                "data": body.get("data"),
                "errors": body.get("errors"),
            }
        return answers

    def page_answers(self):
        """Saleor's fields of page queries that also ask for ours (single endpoint on)."""
        channel = self.shop.channel.slug
        page = (
            f'{{ shop {{ name }} products(first: 5, channel: "{channel}") '
            f"{{ edges {{ node {{ name }} }} }} "
            f'personalizedProducts(channel: "{channel}", first: 3) '
            f"{{ items {{ product {{ name }} }} }} }}"
        )
        me = "{ shop { name } me { email } mySegments { key } }"
        answers = {}
        for who, client in (
            ("anonymous", self.shop.anonymous),
            ("customer", self.shop.customers[0].client),
        ):
            body = post(client, page, path=SALEOR_PATH)
            data = body.get("data") or {}
            answers[f"home page as {who}"] = {
                "shop": data.get("shop"),
                "products": data.get("products"),
            }
            body = post(client, me, path=SALEOR_PATH)
            data = body.get("data") or {}
            answers[f"account page as {who}"] = {"shop": data.get("shop"), "me": data.get("me")}
        return answers

    def _in_every_state(self, read) -> dict:
        from saleor.plugins.models import PluginConfiguration

        from saleor_personalization.saleor_adapter.configuration import PLUGIN_ID

        states = {"active": read()}
        config = PluginConfiguration.objects.get(identifier=PLUGIN_ID)
        config.active = False
        config.save(update_fields=["active"])
        try:
            states["inactive"] = read()
        finally:
            config.active = True
            config.save(update_fields=["active"])
        with renamed_plugin_tables():
            states["faulty"] = read()
        return states

    def saleors_queries_answer_the_same_active_inactive_and_faulty(self):
        states = self._in_every_state(self.saleor_answers)
        if self.baseline is None:
            self.baseline = states["active"]
        problems = []
        for state, answers in states.items():
            for name, answer in answers.items():
                if (
                    answer["errors"]
                    or answer != self.baseline.get(name, answer)
                    or not answer["data"]
                ):
                    problems.append(f"{name}, plugin {state}: {answer}")
        return problems

    def saleors_fields_answer_next_to_ours_active_inactive_and_faulty(self):
        states = self._in_every_state(self.page_answers)
        problems = []
        shop_name = self.baseline and self.baseline["saleor query as anonymous"]["data"]["shop"]
        products = self.baseline and self.baseline["saleor query as anonymous"]["data"]["products"]
        for state, answers in states.items():
            for name, answer in answers.items():
                if answer["shop"] != shop_name:
                    problems.append(f"{name}, plugin {state}: shop is {answer['shop']}")
                if "products" in answer and answer["products"] != products:
                    problems.append(f"{name}, plugin {state}: products are {answer['products']}")
                if "me" in answer and "customer" in name and not answer["me"]:
                    problems.append(f"{name}, plugin {state}: me is {answer['me']}")
        return problems

    # 7. erasure ---------------------------------------------------------------------------

    def a_deleted_customer_leaves_nothing_behind(self):
        from saleor_personalization.models import (
            CustomerProfile,
            Interaction,
            RecommendationList,
            SegmentMembership,
            SegmentOffer,
        )

        problems = []
        for customer_id in self.shop.deleted_customers:
            left = {
                "interactions": Interaction.objects.filter(customer_id=customer_id).count(),
                "profile": CustomerProfile.objects.filter(customer_id=customer_id).count(),
                "lists": RecommendationList.objects.filter(
                    subject_id=customer_id, kind="personal"
                ).count(),
                "memberships": SegmentMembership.objects.filter(customer_id=customer_id).count(),
                "offers": SegmentOffer.objects.filter(customer_id=customer_id).count(),
            }
            kept = {k: v for k, v in left.items() if v}
            if kept:
                problems.append(f"customer {customer_id} deleted, still stored: {kept}")
        return problems

    def restocked_product_is_served_again(self, truth):
        if self.restocked is None:
            return []
        body = post(
            self.shop.anonymous,
            f'{{ personalizedProducts(channel: "{self.shop.channel.slug}", first: 50) '
            f"{{ {LIST_FIELDS} }} }}",
            path=PLUGIN_PATH,
        )
        items = [p for p, _, _ in served(body["data"]["personalizedProducts"]["items"])]
        if self.restocked.pk not in items:
            return [f"{self.restocked.name} is back in stock but missing from the popular list"]
        return []

    # Running ------------------------------------------------------------------------------

    def check_rules(self, when: str, lists, truth) -> None:
        for rule in RULES:
            name = {
                "unpublished": "lists_hide_unpublished_products",
                "out_of_stock": "lists_hide_out_of_stock_products",
                "in_cart": "lists_hide_products_in_the_cart",
                "recently_bought": "lists_hide_recent_purchases",
            }[rule]
            self.ledger.check(name, when, lambda rule=rule: self.breaches_of(rule, lists, truth))
        if self.restocked is not None:
            self.ledger.check(
                "restocked_product_is_served_again",
                when,
                lambda: self.restocked_product_is_served_again(truth),
            )

    def check_lists(self, when: str, now, day: int) -> None:
        """The list rules alone: right after a change that must show within minutes."""
        truth = Truth(self.shop, now)
        self.check_rules(when, self.served_lists(self.sample(day, now), truth), truth)

    def check_all(self, when: str, now, day: int) -> None:
        truth = Truth(self.shop, now)
        lists = self.served_lists(self.sample(day, now), truth)
        check = self.ledger.check
        self.check_rules(when, lists, truth)
        check(
            "every_served_reason_is_true_of_the_shopper",
            when,
            lambda: self.every_served_reason_is_true_of_the_shopper(lists, truth),
        )
        check(
            "every_written_reason_is_true_of_the_customer",
            when,
            lambda: self.every_written_reason_is_true_of_the_customer(truth),
        )
        check(
            "new_orders_reach_the_customers_lists_within_a_day",
            when,
            lambda: self.new_orders_reach_the_customers_lists_within_a_day(now, truth),
        )
        check(
            "each_recovered_order_is_attributed_once",
            when,
            self.each_recovered_order_is_attributed_once,
        )
        check(
            "abandoned_checkout_gets_each_step_once_at_its_time",
            when,
            self.abandoned_checkout_gets_each_step_once_at_its_time,
        )
        check("emails_are_well_formed", when, self.emails_are_well_formed)
        check(
            "email_recommendations_link_to_products",
            when,
            self.email_recommendations_link_to_products,
        )
        check(
            "no_customer_holds_two_open_codes_of_one_campaign",
            when,
            self.no_customer_holds_two_open_codes_of_one_campaign,
        )
        check(
            "issuing_again_never_gives_anyone_a_second_code",
            when,
            self.issuing_again_never_gives_anyone_a_second_code,
        )
        check("offer_report_keeps_redeemed_revenue", when, self.offer_report_keeps_redeemed_revenue)
        check("no_code_works_for_a_non_member", when, self.no_code_works_for_a_non_member)
        check(
            "saleors_queries_answer_the_same_active_inactive_and_faulty",
            when,
            self.saleors_queries_answer_the_same_active_inactive_and_faulty,
        )
        check(
            "saleors_fields_answer_next_to_ours_active_inactive_and_faulty",
            when,
            self.saleors_fields_answer_next_to_ours_active_inactive_and_faulty,
        )
        check(
            "a_deleted_customer_leaves_nothing_behind",
            when,
            self.a_deleted_customer_leaves_nothing_behind,
        )


# The story ------------------------------------------------------------------------------------


def test_the_shop_over_time(shop, set_plugin_setting, client):
    from freezegun import freeze_time

    from saleor_personalization.saleor_adapter.schema_patch import install
    from saleor_personalization.services.backfill import backfill as run_backfill
    from saleor_personalization.tasks import (
        compute_segments_task,
        issue_offers_task,
        reconcile_task,
        scan_abandoned_task,
        training_tick_task,
    )

    rng = random.Random(1414)
    ledger = Ledger()
    clock = freeze_time(START - timedelta(days=1, hours=-20), real_asyncio=True)
    frozen = clock.start()

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        moment = START + timedelta(days=day - 1, hours=hour, minutes=minute)
        frozen.move_to(moment)
        shop.refresh_tokens()
        return moment

    try:
        with smtp_server() as (mailbox, port):
            # The merchant's set-up (the Dashboard form, then the README's install steps).
            for name, value in {
                "offersHoldoutPercent": "10",
                "offersFrequencyDays": "0",
                "emailsRecoveryUrl": RECOVERY_URL,
                "emailsProductUrl": PRODUCT_URL,
                "emailsStepHours": "1,24,72",
                "emailsSmtpHost": "127.0.0.1",
                "emailsSmtpPort": str(port),
                "emailsSmtpSecurity": "none",
                "emailsSenderName": "Tea Shop",
                "emailsSenderAddress": "shop@example.com",
                "apiOnSaleorGraphql": "true",
            }.items():
                set_plugin_setting(name, value)
            install()  # the single-endpoint option takes effect at (this test's) start
            run_backfill()
            imported = shop.bulk_import(_history(shop, rng))
            assert imported > 100
            invariants = ShopInvariants(shop, ledger, mailbox, client)

            for day in range(1, DAYS + 1):
                # Night: beat's training tick, the reconcile, segments (and offers after them).
                at(day, 3)
                run_task(training_tick_task)
                at(day, 3, 17)
                run_task(reconcile_task)
                at(day, 4, 7)
                run_task(compute_segments_task)

                if day == 1:
                    # A customer who consented leaves a cart; reminders follow at 1, 24, 72 h.
                    at(day, 9)
                    invariants.abandoner = shop.customers[1]
                    post(invariants.abandoner.client, CONSENT, path=PLUGIN_PATH)
                    owned = set(Truth(shop, START).bought.get(invariants.abandoner.user.pk, {}))
                    cart = [p for p in shop.products[:20] if p.pk not in owned][:2]
                    checkout = shop.open_checkout(
                        invariants.abandoner.client,
                        invariants.abandoner.user.email,
                        cart,
                        invariants.abandoner.address,
                    )
                    invariants.abandoned_checkout = checkout
                    invariants.abandoned_token = checkout["token"]
                    # The merchant's campaign: a voucher for a segment, issued at once.
                    at(day, 9, 30)
                    shop.create_segment_voucher(SEGMENT, 15, "SEGMENT15")
                    run_task(issue_offers_task)

                for minute in (5, 35):  # beat's 5-minute scan, twice an hour that matters
                    for hour in (10, 16):
                        at(day, hour, minute)
                        run_task(scan_abandoned_task)
                invariants.expected_reminders = {1: 1, 2: 2, 3: 2}.get(day, 3)

                # Storefront orders: three customers a day buy something new to them.
                at(day, 12)
                truth = Truth(shop, at(day, 12))
                buyers = [
                    c
                    for c in shop.customers
                    if c.favourite != "outsider" and c is not invariants.abandoner
                ]
                for customer in rng.sample(buyers, 3):
                    owned = set(truth.bought.get(customer.user.pk, {}))
                    new = [
                        p
                        for p in shop.products
                        if p.pk not in owned and p.pk in truth.visible and p.pk in truth.in_stock
                    ]
                    shop.place_order(customer, rng.sample(new, min(2, len(new))), at(day, 12, 30))

                if day == 2:
                    # The best seller sells out; lists must drop it within minutes.
                    at(day, 14)
                    counts = Counter(p for c in truth.bought.values() for p in c)
                    in_cart = truth.carts.get(invariants.abandoner.user.pk, set())
                    best = next(p for p, _ in counts.most_common() if p not in in_cart)
                    invariants.sold_out = next(p for p in shop.products if p.pk == best)
                    shop.set_stock(invariants.sold_out, 0)
                    now = at(day, 14, 10)
                    invariants.check_lists(f"day {day} 14:10, sold out", now, day)
                if day == 3:
                    at(day, 11)
                    shop.create_product(
                        "Matcha Whisk", shop.categories["Tea"], shop.product_type, Decimal(12)
                    )
                    shop.set_published(shop.products[23], False)  # the merchant hides a product
                    now = at(day, 11, 10)
                    invariants.check_lists(f"day {day} 11:10, hidden", now, day)
                if day == 4:
                    # Back in stock; and the reminded shopper returns with her code.
                    at(day, 13)
                    shop.set_stock(invariants.sold_out, 200)
                    invariants.restocked = invariants.sold_out
                    now = at(day, 13, 10)
                    invariants.check_lists(f"day {day} 13:10, restocked", now, day)
                    at(day, 17)
                    from saleor_personalization.models import SegmentOffer

                    offer = SegmentOffer.objects.filter(
                        customer_id=invariants.abandoner.user.pk, code__isnull=False
                    ).first()
                    checkout_id = invariants.abandoned_checkout["id"]
                    if offer is not None:
                        post(
                            invariants.abandoner.client,
                            CHECKOUT_ADD_PROMO,
                            {"id": checkout_id, "code": offer.code},
                        )
                    body = shop.pay_and_complete(invariants.abandoner.client, checkout_id)
                    order = body["data"]["checkoutComplete"]["order"]
                    assert order, body
                    total = Decimal(str(order["total"]["gross"]["amount"]))
                    shop.recovered_orders.append((order["id"], total))
                if day == 5:
                    # The campaign re-run: the issuing task twice (README: no second codes).
                    at(day, 9)
                    run_task(issue_offers_task)
                    run_task(issue_offers_task)
                if day == 6:
                    at(day, 15)
                    victim = next(
                        c
                        for c in shop.customers
                        if c.favourite != "outsider"
                        and c is not invariants.abandoner
                        and c is not shop.customers[0]
                    )
                    shop.delete_customer(victim)

                now = at(day, 23)
                invariants.check_all(f"day {day}", now, day)
                # Orders placed today are checked after the next night's runs.
    finally:
        clock.stop()

    print("\n" + ledger.report())
    assert not ledger.failed, "Shop invariants violated:\n" + ledger.report()

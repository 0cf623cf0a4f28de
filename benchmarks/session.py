"""Session recommendations on the Online Retail dataset (issue 13's protocol).

    make benchmark            # or: .venv/bin/python benchmarks/session.py [--fast]

Protocol: the last 4 weeks are held out as in ``benchmarks/quality.py``. Every invoice
after the cut-off (guest invoices included: they are anonymous sessions) with at least
3 distinct products known in training is a session; its first 2 distinct known
products in file order are "viewed", the rest are the truth; viewed products are not
ranked. HR@10 and NDCG@10 for:

- popularity: the bestseller list anonymous visitors get without a session;
- item co-occurrence cosine and EASE (the model's co-purchase weights) over the 2
  viewed products, scoring the whole catalogue;
- this project's serving code, :func:`session_list` (what the resolvers call), on the
  lists the project writes: as an anonymous visitor (bestsellers + context) and, for
  sessions of customers with history, as the customer (their personal list + context),
  against their list without the session and the session-only ranking, with paired
  bootstrap 95 % confidence intervals of the differences.

The customer's list is their *for you* list, which never shows what they bought. It is
judged twice: on the whole rest of the session (the issue's protocol, where reorders
count though for you may not show them), and as discovery, as benchmarks/quality.py
judges for you: only products new to the customer (bought by them before the session:
none) count, and no ranking, the session-only one included, may show what they own.
Their *buy again* list (``buyAgainProducts``, reordered by the session among their own
products) and a mix of the two (``personalizedProducts(discoveryShare)``, each list
following the session before the places are dealt) are judged on the issue's protocol.

The session parameters (the basket co-purchase regularisation and embedding weight of
the neighbours, the blend weight of personal lists and of fallbacks) are chosen on the
validation window, the 4 weeks before the holdout, with a model trained before it (the
personal-list weight on the discovery sessions, as for you is judged); the holdout is
scored once with the choice.
"""

import argparse
import itertools
import os
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saleor_personalization.standalone.settings")
os.environ.setdefault("PERSONALIZATION_HOME", str(ROOT / ".personalization" / "benchmark-session"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from quality import feature_source  # noqa: E402

from saleor_personalization.models import ListEntry  # noqa: E402
from saleor_personalization.recommender.data import EventRows  # noqa: E402
from saleor_personalization.recommender.evaluation import make_holdout  # noqa: E402
from saleor_personalization.recommender.lists import (  # noqa: E402
    ListOptions,
    build_scoring_context,
    personal_lists,
)
from saleor_personalization.recommender.mixing import mix  # noqa: E402
from saleor_personalization.recommender.model import ModelParams, RecommenderModel  # noqa: E402
from saleor_personalization.recommender.neighbours import (  # noqa: E402
    NeighbourParams,
    basket_copurchase,
    neighbour_lists,
)
from saleor_personalization.recommender.session import (  # noqa: E402
    FALLBACK_WEIGHT,
    SessionEvent,
    SessionSettings,
    context_from_events,
    session_list,
)
from saleor_personalization.recommender.training import (  # noqa: E402
    fit_model,
    tune_weights,
)
from saleor_personalization.standalone.datasets import find_online_retail  # noqa: E402
from saleor_personalization.standalone.order_export import (  # noqa: E402
    country_code,
    read_order_export,
)

K = 10
VIEWED = 2
LIMIT = 50  # entries the blend returns, as serving asks for a page and spare for its rules
POPULAR_DAYS = 90  # as the bestseller list is written (lists.write_popular_and_trending)
DISCOUNT = 1.0 / np.log2(np.arange(2, K + 2))
PERSONAL_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MIX_SHARES = (0.1, 0.2, 0.3, 0.5, 0.7)  # discoveryShare values a storefront might ask for
KINDS = ("list without session", "session only", "list + session (this project)")


@dataclass(frozen=True)
class Invoice:
    number: str
    customer: int | None
    time: datetime
    products: tuple[int, ...]  # distinct, in file order


@dataclass(frozen=True)
class Session:
    invoice: Invoice
    viewed: tuple[int, ...]
    truth: frozenset[int]
    owned: frozenset[int] = frozenset()  # what the customer bought before the session
    as_discovery: bool = False

    def discovery(self) -> "Session | None":
        """The session as *for you* is judged: only what is new to the customer counts,
        and no ranking may show what they own (the served list never does)."""
        truth = self.truth - self.owned
        return replace(self, truth=truth, as_discovery=True) if truth else None


def load(path: Path):
    """Customers' purchase events (the model's input) and every invoice, guests' too."""
    codes: dict[str, int] = {}
    names: dict[int, str] = {}
    countries: dict[int, Counter] = defaultdict(Counter)
    lines: dict[str, list] = {}
    meta: dict[str, tuple] = {}
    for line in read_order_export(path):
        if line.is_cancellation or line.quantity <= 0 or line.unit_price <= 0:
            continue
        if not line.is_product:
            continue
        product = codes.setdefault(line.stock_code, len(codes) + 1)
        names.setdefault(product, line.description)
        if line.customer_id is not None:
            countries[line.customer_id][line.country] += 1
        lines.setdefault(line.invoice, []).append(product)
        meta.setdefault(line.invoice, (line.customer_id, line.invoiced_at))
    invoices = [
        Invoice(number, meta[number][0], meta[number][1], tuple(dict.fromkeys(products)))
        for number, products in lines.items()
    ]
    rows = [
        (inv.customer, product, "purchase", inv.number, inv.time)
        for inv in invoices
        if inv.customer is not None
        for product in inv.products
    ]
    customer_country = {c: country_code(n.most_common(1)[0][0]) for c, n in countries.items()}
    return EventRows.from_tuples(rows), invoices, names, customer_country


def sessions_in(invoices, start: datetime, end: datetime, known: dict[int, int]) -> list[Session]:
    out = []
    for inv in invoices:
        if not start <= inv.time < end:
            continue
        products = [p for p in inv.products if p in known]
        if len(products) < VIEWED + 1:
            continue
        out.append(Session(inv, tuple(products[:VIEWED]), frozenset(products[VIEWED:])))
    return out


def popular_list(invoices, as_of: datetime, size: int) -> list[ListEntry]:
    """Bestsellers as the project writes them: order lines of the last 90 days, guests too."""
    since = as_of - timedelta(days=POPULAR_DAYS)
    counts = Counter(p for inv in invoices if since <= inv.time < as_of for p in inv.products)
    return [ListEntry(p, float(c), "Bestseller") for p, c in counts.most_common(size)]


def ndcg_hit(ranked: list[int], truth: frozenset[int]) -> tuple[float, float]:
    hits = np.array([p in truth for p in ranked[:K]], dtype=float)
    ideal = DISCOUNT[: min(len(truth), K)].sum()
    return float((hits * DISCOUNT[: len(hits)]).sum() / ideal), float(hits.any())


def full_scorer(matrix: sp.csr_matrix, item_ids: np.ndarray, index: dict[int, int]):
    """Rank the whole catalogue by summed rows of an item-to-item matrix."""

    def rank(session: Session) -> list[int]:
        rows = [index[p] for p in session.viewed]
        scores = np.asarray(matrix[rows].sum(axis=0)).ravel().astype(np.float64)
        scores[rows] = -np.inf
        top = np.argsort(-scores, kind="stable")[: K + VIEWED]
        return [int(item_ids[c]) for c in top if np.isfinite(scores[c])][:K]

    return rank


def cooccurrence_cosine(invoices, as_of: datetime, index: dict[int, int]) -> sp.csr_matrix:
    """Cosine of products over the baskets they were bought in (guests' included)."""
    rows, cols, r = [], [], 0
    for inv in invoices:
        if inv.time >= as_of:
            continue
        known = [index[p] for p in inv.products if p in index]
        if len(known) < 2:
            continue
        rows += [r] * len(known)
        cols += known
        r += 1
    baskets = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(r, len(index))
    )
    norms = np.sqrt(np.asarray(baskets.sum(axis=0)).ravel()) + 1e-9
    co = (baskets.T @ baskets).tocsr()
    co = (sp.diags(1 / norms) @ co @ sp.diags(1 / norms)).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    return co


def personal_entries(
    model: RecommenderModel, events: EventRows, customers: list[int], as_of: datetime, size: int
) -> tuple[dict[int, list[ListEntry]], dict[int, list[ListEntry]]]:
    """Customers' "for you" and "buy again" lists written by the project's list code."""
    ctx = build_scoring_context(model, events, customers, as_of)
    for_you: dict[int, list[ListEntry]] = {}
    buy_again: dict[int, list[ListEntry]] = {}
    options = ListOptions(size=size)
    for start in range(0, len(customers), 1000):
        rows = np.arange(start, min(start + 1000, len(customers)))
        for lists in personal_lists(ctx, rows, options, {}):
            for_you[lists.customer_id] = lists.for_you  # what personalizedProducts serves
            buy_again[lists.customer_id] = lists.buy_again
    return for_you, buy_again


def context_of(session: Session):
    # Newest first: the second product was viewed after the first.
    return context_from_events(SessionEvent(p, "view") for p in reversed(session.viewed))


def served(
    base,
    session: Session,
    neighbours,
    settings: SessionSettings,
    *,
    personal,
    fallback,
    owned_out: frozenset[int] = frozenset(),
):
    """What serving answers, top ``K``. ``owned_out``: the customer's purchases the
    answer may not show (serving's exclusion on *for you*: all they own, but the
    places a mix gives to *buy again*)."""
    entries = session_list(
        base,
        context_of(session),
        neighbours,
        settings,
        personal=personal,
        fallback_weight=fallback,
        limit=LIMIT,
    )
    out = hidden(session) | owned_out
    return [e.product_id for e in entries if e.product_id not in out][:K]


def hidden(session: Session) -> frozenset[int]:
    viewed = frozenset(session.viewed)
    return viewed | session.owned if session.as_discovery else viewed


def score(rank, sessions) -> np.ndarray:
    return np.array([ndcg_hit(rank(s), s.truth) for s in sessions])


@dataclass
class Window:
    """A model trained before ``start`` and the sessions of [start, end)."""

    model: RecommenderModel
    sessions: list[Session]
    customer_sessions: list[Session]
    discovery_sessions: list[Session]  # customer sessions with something new to them
    popular: list[ListEntry]
    personal: dict[int, list[ListEntry]]  # for you
    buy_again: dict[int, list[ListEntry]]

    def mixed(self, customer: int, share: float) -> list[ListEntry]:
        """``personalizedProducts(discoveryShare: share)`` before the session."""
        return mix(self.personal.get(customer, []), self.buy_again.get(customer, []), share)


def prepare(events, invoices, start, end, params, features, weights=None, size=50) -> Window:
    """Fit before ``start``; without ``weights``, tune the blend on [start, end) as training
    does on its validation window."""
    clock = time.monotonic()
    model, data = fit_model(events, start, params, features=features, **(weights or {}))
    if weights is None:
        weights_all, weights_new, _ = tune_weights(
            model,
            make_holdout(data, events.between(start, end)),
            events=events,
            features=features,
            max_users=params.tune_users,
            min_coverage=params.min_coverage,
            tolerance=params.tuning_tolerance,
        )
        model = replace(model, weights_all=weights_all, weights_new=weights_new)
    index = {int(p): k for k, p in enumerate(model.item_ids)}
    sessions = sessions_in(invoices, start, end, index)
    known_customers = set(map(int, model.user_ids))
    customer_sessions = with_owned(
        [s for s in sessions if s.invoice.customer in known_customers], events
    )
    discovery_sessions = [d for d in (s.discovery() for s in customer_sessions) if d]
    customers = sorted({s.invoice.customer for s in customer_sessions})
    personal, buy_again = personal_entries(model, events, customers, start, size)
    print(
        f"  model before {start:%Y-%m-%d}: {len(model.item_ids):,} products, "
        f"{len(model.user_ids):,} customers, {time.monotonic() - clock:.0f}s; "
        f"{len(sessions):,} sessions ({len(customer_sessions):,} by customers with history, "
        f"{len(discovery_sessions):,} of them with products new to the customer)"
    )
    return Window(
        model,
        sessions,
        customer_sessions,
        discovery_sessions,
        popular_list(invoices, start, size),
        personal,
        buy_again,
    )


def with_owned(sessions: list[Session], events: EventRows) -> list[Session]:
    """Each session with what its customer bought before it (as serving reads it)."""
    bought: dict[int, list[tuple[float, int]]] = defaultdict(list)
    purchases = events.purchases()
    wanted = {s.invoice.customer for s in sessions}
    for c, p, t in zip(purchases.customers, purchases.products, purchases.times, strict=True):
        if int(c) in wanted:
            bought[int(c)].append((float(t), int(p)))
    return [
        replace(
            s,
            owned=frozenset(
                p for t, p in bought[s.invoice.customer] if t < s.invoice.time.timestamp()
            ),
        )
        for s in sessions
    ]


def bootstrap_ci(diff: np.ndarray, rounds: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(rounds, len(diff)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def order_lines(invoices, until: datetime) -> EventRows:
    """Every order line before ``until``, guests' too, as the live shop's purchases are read."""
    return EventRows.from_tuples(
        (inv.customer or 0, product, "purchase", inv.number, inv.time)
        for inv in invoices
        if inv.time < until
        for product in inv.products
    )


def tune(
    window: Window, invoices, start: datetime
) -> tuple[NeighbourParams, float, float, tuple[float, float], list]:
    """Neighbour parameters, fallback weight and personal weight that rank validation best."""
    trace = []
    purchases = order_lines(invoices, start)
    best_anon = (-1.0, NeighbourParams(), FALLBACK_WEIGHT)
    neighbours_by = {}
    for regularisation in (500.0, 1500.0, 5000.0):
        copurchase = basket_copurchase(window.model, purchases, start, regularisation)
        for beta in (0.25, 0.5, 1.0):
            params = NeighbourParams(embedding_weight=beta, basket_regularisation=regularisation)
            neighbours_by[params] = neighbour_lists(window.model, params, copurchase)
            for fallback in (0.7, 0.8, 0.9):
                ndcg = score(
                    lambda s, n=neighbours_by[params], f=fallback: served(
                        window.popular, s, n, SessionSettings(), personal=False, fallback=f
                    ),
                    window.sessions,
                )[:, 0].mean()
                trace.append(("anonymous", regularisation, beta, fallback, round(float(ndcg), 4)))
                if ndcg > best_anon[0]:
                    best_anon = (ndcg, params, fallback)
    _, params, fallback = best_anon
    best_personal = (-1.0, 0.5)
    for weight in PERSONAL_WEIGHTS:
        settings = SessionSettings(weight=weight)
        ndcg = score(
            lambda s, st=settings: served(
                window.personal.get(s.invoice.customer, []),
                s,
                neighbours_by[params],
                st,
                personal=True,
                fallback=fallback,
            ),
            window.discovery_sessions,
        )[:, 0].mean()
        trace.append(("customer, discovery", "", "", weight, round(float(ndcg), 4)))
        if ndcg > best_personal[0]:
            best_personal = (ndcg, weight)
    weight = best_personal[1]
    # A mix is mostly the customer's own purchases: its session weight is chosen with
    # its share (what a merchant would set for a storefront that asks for a mix).
    best_mix = (-1.0, 0.5, weight)
    for share, mix_weight in itertools.product(MIX_SHARES, PERSONAL_WEIGHTS):
        ndcg = score(
            lambda s, sh=share, w=mix_weight: mixed_served(
                window, s, neighbours_by[params], SessionSettings(weight=w), fallback, sh
            ),
            window.customer_sessions,
        )[:, 0].mean()
        trace.append(("customer, mix", "", share, mix_weight, round(float(ndcg), 4)))
        if ndcg > best_mix[0]:
            best_mix = (ndcg, share, mix_weight)
    return params, fallback, weight, best_mix[1:], trace


def mix_owned_out(window: Window, session: Session) -> frozenset[int]:
    """A mix hides what the customer owns but the products of their buy-again list."""
    again = {e.product_id for e in window.buy_again.get(session.invoice.customer, [])}
    return session.owned - again


def buy_again_following(window: Window, session: Session, neighbours, settings) -> list:
    """``buyAgainProducts`` with the session: the customer's own products reordered by
    it, nothing else brought in (serving's ``within``)."""
    again = window.buy_again.get(session.invoice.customer, [])
    return session_list(
        again,
        context_of(session),
        neighbours,
        settings,
        personal=True,
        exclude_context=False,
        within={e.product_id for e in again},
    )


def mixed_served(window: Window, session: Session, neighbours, settings, fallback, share):
    """``personalizedProducts(discoveryShare: share)`` with the session, as served: each
    list follows the session as it does alone, then the places are dealt (``mix``)."""
    for_you = session_list(
        window.personal.get(session.invoice.customer, []),
        context_of(session),
        neighbours,
        settings,
        personal=True,
        fallback_weight=fallback,
        limit=LIMIT,
    )
    for_you = [e for e in for_you if e.product_id not in session.owned]
    entries = mix(for_you, buy_again_following(window, session, neighbours, settings), share)
    out = hidden(session) | mix_owned_out(window, session)
    return [e.product_id for e in entries if e.product_id not in out][:K]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--fast", action="store_true", help="fewer epochs, for a quick look")
    args = parser.parse_args()
    path = args.data or find_online_retail(ROOT)
    if path is None:
        sys.exit("Online Retail dataset not found; pass --data PATH")
    Path(os.environ["PERSONALIZATION_HOME"]).mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)  # the list code reads customer features

    clock = time.monotonic()
    events, invoices, names, countries = load(path)
    guests = sum(1 for inv in invoices if inv.customer is None)
    print(
        f"loaded {len(events):,} customer purchases, {len(invoices):,} invoices "
        f"({guests:,} guest) in {time.monotonic() - clock:.1f}s"
    )
    features = feature_source(names, countries)
    params = ModelParams()
    if args.fast:
        params = replace(params, factorisation=replace(params.factorisation, epochs=5))
    end = max(inv.time for inv in invoices) + timedelta(seconds=1)
    cut = end - timedelta(weeks=params.holdout_weeks)
    validation_start = cut - timedelta(weeks=params.holdout_weeks)

    print(f"validation window {validation_start:%Y-%m-%d}..{cut:%Y-%m-%d}:")
    validation = prepare(events, invoices, validation_start, cut, params, features)
    chosen, fallback, weight, (share, mix_weight), trace = tune(
        validation, invoices, validation_start
    )
    print("  validation NDCG@10 (kind, basket regularisation, embedding weight, blend weight):")
    for row in trace:
        print(f"    {row}")
    print(
        f"  chosen: basket regularisation {chosen.basket_regularisation:g}, embedding weight "
        f"{chosen.embedding_weight}, fallback (anonymous) weight {fallback}, "
        f"personal-list session weight {weight}; a mix: discovery share {share}, "
        f"session weight {mix_weight}"
    )

    print(f"holdout {cut:%Y-%m-%d}..{end:%Y-%m-%d}:")
    holdout = prepare(
        events,
        invoices,
        cut,
        end,
        params,
        features,
        weights={
            "weights_all": validation.model.weights_all,
            "weights_new": validation.model.weights_new,
        },
    )
    model = holdout.model
    index = {int(p): k for k, p in enumerate(model.item_ids)}
    copurchase = basket_copurchase(
        model, order_lines(invoices, cut), cut, chosen.basket_regularisation
    )
    neighbours = neighbour_lists(model, chosen, copurchase)
    settings = SessionSettings(weight=weight)
    popular = holdout.popular
    cosine = cooccurrence_cosine(invoices, cut, index)

    def popularity(s):
        return [e.product_id for e in popular if e.product_id not in hidden(s)][:K]

    def anonymous(s):
        return served(popular, s, neighbours, settings, personal=False, fallback=fallback)

    def customer(s):
        base = holdout.personal.get(s.invoice.customer, [])
        return served(
            base, s, neighbours, settings, personal=True, fallback=fallback, owned_out=s.owned
        )

    def customer_list(s):
        base = holdout.personal.get(s.invoice.customer, [])
        out = hidden(s) | s.owned
        return [e.product_id for e in base if e.product_id not in out][:K]

    def customer_buy_again_list(s):
        again = holdout.buy_again.get(s.invoice.customer, [])
        return [e.product_id for e in again if e.product_id not in hidden(s)][:K]

    def customer_buy_again(s):
        entries = buy_again_following(holdout, s, neighbours, settings)
        return [e.product_id for e in entries if e.product_id not in hidden(s)][:K]

    def customer_mix(s):
        return mixed_served(
            holdout, s, neighbours, SessionSettings(weight=mix_weight), fallback, share
        )

    def customer_mix_list(s):
        base = holdout.mixed(s.invoice.customer, share)
        out = hidden(s) | mix_owned_out(holdout, s)
        return [e.product_id for e in base if e.product_id not in out][:K]

    rows = [
        ("popularity (anonymous today)", holdout.sessions, popularity),
        ("item co-occurrence cosine", holdout.sessions, full_scorer(cosine, model.item_ids, index)),
        (
            "EASE (co-purchase weights)",
            holdout.sessions,
            full_scorer(model.copurchase, model.item_ids, index),
        ),
        ("this project, anonymous", holdout.sessions, anonymous),
    ]
    results = {}
    for name, sessions, rank in rows:
        results[name] = score(rank, sessions)
    # The customer's "for you" list as served, judged two ways: on everything the
    # session went on to buy (the protocol; reorders count, though for you never
    # shows what the customer owns), and as discovery (only what is new to them counts
    # and no ranking may show owned products), as benchmarks/quality.py judges for you.
    comparisons = []
    for label, sessions in (
        ("", holdout.customer_sessions),
        ("discovery: ", holdout.discovery_sessions),
    ):
        names = [f"customer, {label}{kind}" for kind in KINDS]
        results[names[0]] = score(customer_list, sessions)
        results[names[1]] = score(anonymous, sessions)
        results[names[2]] = score(customer, sessions)
        comparisons.append(names)
    # buyAgainProducts, on the protocol (the rest of the session, reorders
    # mostly), with the Dashboard's one session weight (chosen for *for you*).
    names = [f"customer, buy again: {kind}" for kind in KINDS]
    results[names[0]] = score(customer_buy_again_list, holdout.customer_sessions)
    results[names[1]] = results["customer, session only"]
    results[names[2]] = score(customer_buy_again, holdout.customer_sessions)
    comparisons.append(names)
    # A storefront that asks for a mix (personalizedProducts with discoveryShare, the
    # share chosen on validation): buy again's places may show what the customer owns.
    names = [f"customer, mix {share}: {kind}" for kind in KINDS]
    results[names[0]] = score(customer_mix_list, holdout.customer_sessions)
    results[names[1]] = results["customer, session only"]
    results[names[2]] = score(customer_mix, holdout.customer_sessions)
    comparisons.append(names)

    print()
    header = f"{'ranking':<52} {'sessions':>8} {'HR@10':>7} {'NDCG@10':>8}"
    print(header)
    print("-" * len(header))
    for name, values in results.items():
        print(f"{name:<52} {len(values):8d} {values[:, 1].mean():7.3f} {values[:, 0].mean():8.3f}")
    for without, alone, both in comparisons:
        met = True
        for other in (without, alone):
            diff = results[both][:, 0] - results[other][:, 0]
            low, high = bootstrap_ci(diff)
            met = met and low > 0
            print(
                f"{both} minus {other.split(', ')[-1]}: NDCG@10 {diff.mean():+.3f} "
                f"(paired bootstrap 95% CI {low:+.3f}..{high:+.3f})"
            )
        print(f"  target (above both, CIs above 0): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()

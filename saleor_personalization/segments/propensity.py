"""Purchase propensity: the chance a customer orders in the next 30 days.

A logistic regression over behaviour at a cut-off (recency, order count, spend,
orders in the last 90 days, mean gap between orders, tenure), all log-scaled and
standardised. It is validated on a temporal holdout: fitted on the cut-off two
horizons ago with the next horizon's orders as labels, scored at the cut-off one
horizon ago and judged (AUC) on the orders that followed. The model used for today's
scores is then refitted on the most recent complete horizon.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ..recommender.ranks import average_ranks

HORIZON = timedelta(days=30)
# A model drives the "likely buyers" segment only when it ranks the holdout's buyers
# clearly better than chance: AUC at least this, and its 95 % interval above 0.5.
MIN_AUC = 0.55


@dataclass(frozen=True)
class Purchases:
    """Orders as parallel arrays: customer id, order time (epoch seconds), order value."""

    customer: np.ndarray
    at: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class PropensityResult:
    customers: np.ndarray
    scores: np.ndarray
    auc: float | None  # None when the holdout has only one class
    holdout_customers: int
    base_rate: float
    holdout_positives: int = 0
    holdout_negatives: int = 0


def features_at(purchases: Purchases, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """(customers, features) for everyone who ordered before ``cutoff``."""
    before = purchases.at < cutoff
    customers, inverse = np.unique(purchases.customer[before], return_inverse=True)
    at, value = purchases.at[before], purchases.value[before]
    n = len(customers)
    last = np.full(n, -np.inf)
    first = np.full(n, np.inf)
    np.maximum.at(last, inverse, at)
    np.minimum.at(first, inverse, at)
    orders = np.bincount(inverse, minlength=n).astype(np.float64)
    spend = np.bincount(inverse, weights=value, minlength=n)
    recent = np.bincount(
        inverse, weights=(at >= cutoff - 90 * 86400).astype(np.float64), minlength=n
    )
    day = 86400.0
    recency = (cutoff - last) / day
    tenure = (cutoff - first) / day
    gap = np.divide(tenure, np.maximum(orders - 1, 1))
    matrix = np.column_stack(
        [np.log1p(x) for x in (recency, orders, np.maximum(spend, 0), recent, gap, tenure)]
    )
    return customers, matrix


def labels_after(purchases: Purchases, customers: np.ndarray, start: float) -> np.ndarray:
    window = (purchases.at >= start) & (purchases.at < start + HORIZON.total_seconds())
    return np.isin(customers, purchases.customer[window]).astype(np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 25) -> tuple:
    """Newton's method on the L2-penalised log-likelihood; returns (mean, std, weights)."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    design = np.column_stack([np.ones(len(x)), (x - mean) / std])
    weights = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ weights))
        gradient = design.T @ (p - y) + penalty * weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-6:
            break
    return mean, std, weights


def predict(model: tuple, x: np.ndarray) -> np.ndarray:
    mean, std, weights = model
    design = np.column_stack([np.ones(len(x)), (x - mean) / std])
    return 1 / (1 + np.exp(-design @ weights))


def auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if not n_pos or not n_neg:
        return None
    ranks = average_ranks(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_interval(value: float, positives: int, negatives: int) -> tuple[float, float]:
    """95 % confidence interval of an AUC (Hanley & McNeil's standard error)."""
    q1 = value / (2 - value)
    q2 = 2 * value**2 / (1 + value)
    variance = (
        value * (1 - value) + (positives - 1) * (q1 - value**2) + (negatives - 1) * (q2 - value**2)
    ) / max(positives * negatives, 1)
    error = 1.96 * float(np.sqrt(max(variance, 0.0)))
    return max(0.0, value - error), min(1.0, value + error)


@dataclass(frozen=True)
class Trust:
    """Whether a propensity model may drive a segment, and the merchant-readable why."""

    trusted: bool
    reason: str
    interval: tuple[float, float] | None = None


def trust(result: PropensityResult) -> Trust:
    if result.auc is None:
        return Trust(
            False,
            "no holdout to judge the propensity model on yet (it needs at least 10 "
            "customers with orders 30 and 60 days ago, and both buyers and non-buyers "
            "in the 30 days after)",
        )
    low, high = auc_interval(result.auc, result.holdout_positives, result.holdout_negatives)
    judged = (
        f"holdout AUC {result.auc:.3f} (95 % CI {low:.3f}-{high:.3f}, "
        f"{result.holdout_positives} buyers, {result.holdout_negatives} non-buyers)"
    )
    if result.auc < MIN_AUC or low <= 0.5:
        return Trust(
            False,
            f"the propensity model is no better than chance: {judged}; a segment needs "
            f"AUC of at least {MIN_AUC} with the interval above 0.5",
            (low, high),
        )
    return Trust(True, judged, (low, high))


def purchase_propensity(purchases: Purchases, as_of: datetime) -> PropensityResult:
    now = as_of.timestamp()
    horizon = HORIZON.total_seconds()
    train_cut, test_cut = now - 2 * horizon, now - horizon
    train_customers, train_x = features_at(purchases, train_cut)
    test_customers, test_x = features_at(purchases, test_cut)
    score_customers, score_x = features_at(purchases, now)
    if len(train_customers) < 10 or len(test_customers) < 10:
        return PropensityResult(score_customers, np.zeros(len(score_customers)), None, 0, 0.0)
    train_y = labels_after(purchases, train_customers, train_cut)
    test_y = labels_after(purchases, test_customers, test_cut)
    holdout_auc = None
    if 0 < train_y.sum() < len(train_y):
        holdout_auc = auc(test_y, predict(fit_logistic(train_x, train_y), test_x))
    if 0 < test_y.sum() < len(test_y):
        scores = predict(fit_logistic(test_x, test_y), score_x)
    else:
        scores = np.full(len(score_customers), float(test_y.mean()))
    return PropensityResult(
        customers=score_customers,
        scores=scores,
        auc=holdout_auc,
        holdout_customers=len(test_customers),
        base_rate=float(test_y.mean()),
        holdout_positives=int(test_y.sum()),
        holdout_negatives=int(len(test_y) - test_y.sum()),
    )

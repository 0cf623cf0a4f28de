"""Sparse feature matrices for the hybrid model.

Every product and customer is described by named features ("cat:Home/Kitchen",
"word:teapot", "country:DE"). Names, not column numbers, are what a model artifact
keeps, so a product created after training is scored from the embeddings of its own
feature names without retraining.
"""

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..models import CustomerProfile, ItemProfile

STOPWORDS = frozenset(
    [
        "and",
        "the",
        "for",
        "with",
        "set",
        "of",
        "in",
        "on",
        "to",
        "a",
        "an",
        "by",
        "from",
        "per",
        "pack",
        "assorted",
    ]
)
WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


def item_feature_names(profile: ItemProfile, *, identity: bool = True) -> list[str]:
    names = [f"item:{profile.product_id}"] if identity else []
    path = [p for p in (profile.category_path or []) if p]
    names += [f"cat:{'/'.join(path[: depth + 1])}" for depth in range(len(path))]
    if profile.product_type:
        names.append(f"type:{profile.product_type}")
    names += [f"attr:{value}" for value in profile.attributes or []]
    names += [f"coll:{value}" for value in profile.collections or []]
    if profile.price_amount is not None and profile.price_amount > 0:
        band = math.floor(math.log2(float(profile.price_amount)) * 2) / 2
        names.append(f"price:{profile.currency}:{band:g}")
    words = {w.lower() for w in WORD.findall(profile.name or "")} - STOPWORDS
    names += [f"word:{w}" for w in sorted(words)]
    return names


def customer_feature_names(profile: CustomerProfile | None, customer_id: int) -> list[str]:
    if profile is None:
        return [f"user:{customer_id}"]
    return _customer_names(customer_id, profile.country, profile.attributes)


def _customer_names(customer_id: int, country: str, attributes: list[str] | None) -> list[str]:
    names = [f"user:{customer_id}"]
    if country:
        names.append(f"country:{country}")
    return names + [f"meta:{pair}" for pair in attributes or []]


@dataclass
class FeatureSpace:
    """Feature names (columns) and a row-normalised matrix over entity ids (rows)."""

    names: list[str]
    matrix: sp.csr_matrix

    @property
    def index(self) -> dict[str, int]:
        return {name: k for k, name in enumerate(self.names)}


def build_feature_space(rows: Sequence[Iterable[str]]) -> FeatureSpace:
    index: dict[str, int] = {}
    data_rows, data_cols = [], []
    for row, names in enumerate(rows):
        for name in dict.fromkeys(names):
            data_rows.append(row)
            data_cols.append(index.setdefault(name, len(index)))
    matrix = sp.csr_matrix(
        (np.ones(len(data_rows), dtype=np.float32), (data_rows, data_cols)),
        shape=(len(rows), len(index)),
    )
    return FeatureSpace(names=list(index), matrix=normalise_rows(matrix))


def normalise_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    return (sp.diags(1.0 / totals) @ matrix).tocsr().astype(np.float32)


def item_feature_rows(item_ids: Sequence[int]) -> list[list[str]]:
    profiles = ItemProfile.objects.in_bulk([int(i) for i in item_ids])
    return [
        item_feature_names(profiles[int(i)]) if int(i) in profiles else [f"item:{int(i)}"]
        for i in item_ids
    ]


def customer_feature_rows(customer_ids: Sequence[int]) -> list[list[str]]:
    """Each customer's feature names (:func:`customer_feature_names`), reading only the
    two fields they come from: lists are written for a thousand customers at a time,
    and loading their whole profiles (dates parsed) was a fifth of that time."""
    ids = [int(i) for i in customer_ids]
    fields = {
        customer: (country, attributes)
        for customer, country, attributes in CustomerProfile.objects.filter(customer_id__in=ids)
        .order_by()
        .values_list("customer_id", "country", "attributes")
    }
    return [_customer_names(c, *fields[c]) if c in fields else [f"user:{c}"] for c in ids]


FeatureRows = Callable[[Sequence[int]], list[list[str]]]


@dataclass(frozen=True)
class FeatureSource:
    """Where feature names come from: the feature store by default (benchmarks pass
    their own, read from a dataset instead of the database)."""

    items: FeatureRows = item_feature_rows
    customers: FeatureRows = customer_feature_rows

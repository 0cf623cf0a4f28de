"""The trained recommender: a LightFM hybrid blended with co-purchase, reorder and trend
(and, for discovery, popularity and first buyers).

Every component scores all products for a batch of customers; each is standardised
per customer (so weights compare like with like) and the weighted sum ranks products.
Weights are tuned per training run on a validation window (:mod:`.training`).

History-based components read the customer's purchases *at scoring time*, so a
customer who bought something after training, or who is new, gets lists that reflect
it without retraining; products created after training are scored from the learned
embeddings of their features (:meth:`RecommenderModel.item_vectors_for`).
"""

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime

import numpy as np
import scipy.sparse as sp

from .components import recency_history, repeat_signal
from .data import InteractionData
from .factorisation import Factorisation, FactorisationParams
from .reorder import ReorderModel

COMPONENTS = ("repeat", "copurchase", "factorisation", "trend", "popularity", "first_buyers")


def shared_features(feature_rows: list[list[str]]) -> list[list[str]]:
    """Each product's features less its own id feature (``item:<id>``): what a product
    shares with others, and all a product unknown to the model has that it learned."""
    return [[name for name in row if not name.startswith("item:")] for row in feature_rows]


class InvalidParameters(ValueError):
    """Training parameters that cannot work; the message says which and why."""


@dataclass(frozen=True)
class BlendWeights:
    repeat: float = 1.0
    copurchase: float = 1.0
    factorisation: float = 0.3
    trend: float = 0.3
    # Negative values push the catalogue's bestsellers down: discovery lists show more
    # of the catalogue (coverage) at a small cost in accuracy, as tuning decides.
    popularity: float = 0.0
    # Customers buying the product for the first time lately: what a shop's customers
    # are discovering now. A discovery signal (trend counts reorders too), weighed for
    # *for you* only, as tuning decides; 0 in runs stored before it existed.
    first_buyers: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "BlendWeights":
        return cls(**{f.name: float(data.get(f.name, getattr(cls, f.name))) for f in fields(cls)})


@dataclass(frozen=True)
class ModelParams:
    factorisation: FactorisationParams = field(default_factory=FactorisationParams)
    copurchase_regularisation: float = 50.0
    copurchase_half_life_days: float = 120.0
    copurchase_max_items: int = 6000
    copurchase_neighbours: int = 200
    recency_half_life_days: float = 42.0
    trend_days: int = 14
    decay_days: float = 180.0
    holdout_weeks: int = 4
    new_item_days: int = 30
    tune_users: int = 1500
    min_coverage: float = 0.3
    tuning_tolerance: float = 0.03

    # Names earlier versions stored with a run; read and ignored. ``new_item_slots``
    # reserved list slots for new products, which now compete in the ranking itself.
    RETIRED = frozenset({"new_item_slots"})

    LIMITS = {
        "copurchase_regularisation": (0.0, 1e6),
        "copurchase_half_life_days": (0.0, 3650.0),
        "copurchase_max_items": (2, 20_000),
        "copurchase_neighbours": (1, 2000),
        "recency_half_life_days": (1.0, 3650.0),
        "trend_days": (1, 365),
        "decay_days": (0.0, 36500.0),
        "holdout_weeks": (1, 52),
        "new_item_days": (0, 365),
        "tune_users": (10, 100_000),
        "min_coverage": (0.0, 1.0),
        "tuning_tolerance": (0.0, 0.5),
        "components": (2, 512),
        "epochs": (1, 1000),
        "learning_rate": (1e-5, 1.0),
        "item_alpha": (0.0, 1.0),
        "user_alpha": (0.0, 1.0),
        "max_sampled": (1, 1000),
        "threads": (1, 64),
        "time_limit_seconds": (1.0, 86_400.0),
        "seed": (0, 2**31 - 1),
    }

    def as_dict(self) -> dict:
        data = asdict(self)
        data["factorisation"] = asdict(self.factorisation)
        return data

    @classmethod
    def from_dict(cls, data: dict | None) -> "ModelParams":
        """Parameters from JSON (a command line, a task argument); bad ones are refused."""
        if data is not None and not isinstance(data, dict):
            raise InvalidParameters('params must be a JSON object, e.g. {"epochs": 20}')
        data = {k: v for k, v in (data or {}).items() if k not in cls.RETIRED}
        nested = dict(data.pop("factorisation", {}) or {})
        for name in [f.name for f in fields(FactorisationParams)]:
            if name in data:
                nested[name] = data.pop(name)
        known = {f.name for f in fields(cls)} - {"factorisation"}
        unknown = sorted(set(data) - known) + sorted(
            set(nested) - {f.name for f in fields(FactorisationParams)}
        )
        if unknown:
            raise InvalidParameters(f"unknown parameter(s): {', '.join(unknown)}")
        values = {
            name: cls._checked(name, value, getattr(cls, name)) for name, value in data.items()
        }
        defaults = FactorisationParams()
        nested_values = {
            name: cls._checked(name, value, getattr(defaults, name))
            for name, value in nested.items()
        }
        return cls(factorisation=FactorisationParams(**nested_values), **values)

    @classmethod
    def _checked(cls, name: str, value, default):
        kind = type(default)
        try:
            if kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            converted = kind(value)
        except (TypeError, ValueError):
            raise InvalidParameters(
                f"{name}={value!r} is not {'a whole number' if kind is int else 'a number'}"
            ) from None
        low, high = cls.LIMITS[name]
        if not low <= converted <= high:
            raise InvalidParameters(f"{name}={converted} is outside {low:g}..{high:g}")
        return converted


def standardise(scores: np.ndarray) -> np.ndarray:
    """Zero mean, unit spread per row (in place when already float32); a flat row stays zero."""
    scores = scores.astype(np.float32, copy=False)
    scores -= scores.mean(axis=1, keepdims=True)
    spread = np.sqrt(np.einsum("ij,ij->i", scores, scores) / scores.shape[1])[:, np.newaxis]
    spread[spread == 0] = 1.0
    scores /= spread
    return scores


# Up to this many products the co-purchase weights are also kept dense (at most
# 8000^2 float32 = 256 MB): a sparse-by-dense product is several times faster to score.
DENSE_COPURCHASE_LIMIT = 8000


# New products whose similarities to every known product are held at once.
NEIGHBOUR_BLOCK = 512


@dataclass
class RecommenderModel:
    item_ids: np.ndarray
    user_ids: np.ndarray
    factorisation: Factorisation
    copurchase: sp.csr_matrix
    repeat_rates: np.ndarray
    trend: np.ndarray
    popularity: np.ndarray
    weights_all: BlendWeights
    weights_new: BlendWeights
    params: ModelParams
    as_of: datetime
    reorder: ReorderModel | None = None  # None: the fixed repeat signal (too few reorders)
    # Per product, customers whose first purchase of it fell in the trend window
    # (:func:`.training.first_buyer_vector`); None (runs stored before it): none.
    first_buyers: np.ndarray | None = None
    # Per known product, its vector from its shared features alone
    # (:func:`shared_features`), made as a new product's is: what new products are
    # compared with to find their neighbours. None (runs stored before it): the
    # products' full vectors are used.
    item_feature_vectors: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.first_buyers is None:
            self.first_buyers = np.zeros(len(self.item_ids), dtype=np.float32)
        self._user_index = {int(u): k for k, u in enumerate(self.user_ids)}
        self._item_index = {int(i): k for k, i in enumerate(self.item_ids)}
        self._copurchase_dense: np.ndarray | None = None
        self._copurchase_by_target: np.ndarray | None = None
        self._trend_row: np.ndarray | None = None
        self._popularity_row: np.ndarray | None = None
        self._first_buyers_row: np.ndarray | None = None

    def _copurchase_scores(self, history: sp.csr_matrix) -> np.ndarray:
        if self.copurchase.shape[0] <= DENSE_COPURCHASE_LIMIT:
            if self._copurchase_dense is None:
                self._copurchase_dense = self.copurchase.toarray().astype(np.float32)
            return np.asarray(history @ self._copurchase_dense, dtype=np.float32)
        return (history @ self.copurchase).toarray().astype(np.float32)

    def copurchase_by_target(self) -> np.ndarray:
        """The co-purchase weights as a dense float32 array, a row per target product
        (transposed): the reasons' lookups of many sources of one target read one row.
        Made once per loaded model (a worker scores chunk after chunk with it), while
        the weights are small enough to keep dense (:data:`DENSE_COPURCHASE_LIMIT`)."""
        if self._copurchase_by_target is None:
            weights = sp.csr_matrix(self.copurchase, dtype=np.float32)
            weights.sum_duplicates()
            self._copurchase_by_target = weights.T.toarray(order="C")
        return self._copurchase_by_target

    def _standard_trend(self) -> np.ndarray:
        if self._trend_row is None:
            self._trend_row = standardise(self.trend.reshape(1, -1).astype(np.float32).copy())
        return self._trend_row

    def _standard_popularity(self) -> np.ndarray:
        if self._popularity_row is None:
            row = np.log1p(self.popularity.astype(np.float32)).reshape(1, -1)
            self._popularity_row = standardise(row.copy())
        return self._popularity_row

    def _standard_first_buyers(self) -> np.ndarray:
        """Counts as they are, as trend's (on windows before the test holdouts a log scale,
        as popularity's, ranked new purchases less well under the coverage floor)."""
        if self._first_buyers_row is None:
            row = self.first_buyers.astype(np.float32).reshape(1, -1)
            self._first_buyers_row = standardise(row.copy())
        return self._first_buyers_row

    @property
    def item_index(self) -> dict[int, int]:
        return self._item_index

    @property
    def user_index(self) -> dict[int, int]:
        return self._user_index

    def user_factors(
        self, user_ids: np.ndarray, feature_rows: list[list[str]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for customers; unseen ones from their features (country, ...)."""
        dims = self.factorisation.user_vectors.shape[1]
        vectors = np.zeros((len(user_ids), dims), dtype=np.float32)
        biases = np.zeros(len(user_ids), dtype=np.float32)
        unseen = []
        for r, user_id in enumerate(user_ids):
            k = self._user_index.get(int(user_id))
            if k is None:
                unseen.append(r)
            else:
                vectors[r] = self.factorisation.user_vectors[k]
                biases[r] = self.factorisation.user_biases[k]
        if unseen and feature_rows is not None:
            v, b = self.factorisation.vectors_from_features(
                [feature_rows[r] for r in unseen], kind="user"
            )
            vectors[unseen], biases[unseen] = v, b
        return vectors, biases

    def item_vectors_for(self, feature_rows: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for products created after training, from their features alone."""
        return self.factorisation.vectors_from_features(feature_rows, kind="item")

    def components(
        self,
        data: InteractionData,
        user_feature_rows: list[list[str]] | None = None,
        rows: np.ndarray | None = None,
        new_items: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Standardised component scores for ``rows`` of ``data`` (all by default).

        ``data`` must be built over this model's ``item_ids`` (columns) and holds the
        customers' current history; ``user_feature_rows`` go with ``rows``.
        ``new_items`` (vectors, biases of products the model was not trained on, from
        their features) adds one column per product after the known ones: the hybrid
        scores them like any other, and the history-based components, which know
        nothing of them, count them as a product nobody bought. Standardising after
        the columns are joined puts new and known products on one scale, so they compete
        in one ranking.
        """
        rows = np.arange(data.shape[0]) if rows is None else np.asarray(rows)
        half_life = self.params.recency_half_life_days
        history = recency_history(data, rows, half_life)
        copurchase = self._copurchase_scores(history)
        if self.reorder is not None:  # reads what goes with the customer's basket too
            repeat = self.reorder.probabilities(data, rows, copurchase).toarray()
        else:
            repeat = repeat_signal(data, rows, self.repeat_rates, half_life).toarray()
        vectors, biases = self.user_factors(data.user_ids[rows], user_feature_rows)
        factors = vectors @ self.factorisation.item_vectors.T + self.factorisation.item_biases
        factors += biases[:, np.newaxis]
        if new_items is None or not len(new_items[0]):
            return {
                "repeat": standardise(repeat),
                "copurchase": standardise(copurchase),
                "factorisation": standardise(factors),
                "trend": self._standard_trend(),  # one row, the same for every customer
                "popularity": self._standard_popularity(),  # likewise
                "first_buyers": self._standard_first_buyers(),  # likewise
            }
        new_vectors, new_biases = new_items
        fresh = vectors @ new_vectors.T + new_biases + biases[:, np.newaxis]
        nobody = np.zeros((len(rows), len(new_vectors)), dtype=np.float32)
        # Nobody bought a new product yet, so nobody can buy it *again*; but its
        # co-purchase links and sales are unknown, not absent. Its co-purchase score is
        # borrowed from its nearest known products by feature embedding (what is bought
        # with similar products), and trend and popularity take the catalogue's average
        # (0 once standardised): a popularity penalty then neither lifts every new
        # product above the customer's taste nor buries it. So do its first buyers.
        neighbours, strengths = self.feature_neighbours(new_vectors)
        borrowed = np.einsum("rnk,nk->rn", copurchase[:, neighbours], strengths)
        unknown = np.zeros((1, len(new_vectors)), dtype=np.float32)
        return {
            "repeat": standardise(np.hstack([repeat, nobody])),
            "copurchase": standardise(np.hstack([copurchase, borrowed.astype(np.float32)])),
            "factorisation": standardise(np.hstack([factors, fresh])),
            "trend": np.hstack([self._standard_trend(), unknown]),
            "popularity": np.hstack([self._standard_popularity(), unknown]),
            "first_buyers": np.hstack([self._standard_first_buyers(), unknown]),
        }

    @property
    def comparable_item_vectors(self) -> np.ndarray:
        """Known products' vectors made as a new product's is, from shared features
        (:func:`shared_features`): what a new product is compared with. A known
        product's full vector also holds its own id's embedding, which a new product has
        none of. Runs stored before these were kept: the full vectors."""
        if self.item_feature_vectors is not None:
            return self.item_feature_vectors
        return self.factorisation.item_vectors

    def feature_neighbours(self, vectors: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Each vector's ``k`` nearest known products (cosine of item embeddings) and
        weights that sum to 1 over the positively similar ones (0 where none is).

        ``vectors`` are made from shared features (:meth:`item_vectors_for`), so they are
        compared with the known products' vectors made the same way: a known product's
        full vector also holds its own id's embedding, which a new product has none of,
        and a variant of a known product with the same features would not find it first.
        """
        known = self.comparable_item_vectors
        take = min(k, len(known))
        if not take or not len(vectors):
            return (
                np.zeros((len(vectors), 0), dtype=np.int64),
                np.zeros((len(vectors), 0), dtype=np.float32),
            )
        memo = getattr(self, "_neighbours_memo", None)
        if memo is not None and memo[0] is vectors and memo[1] == k:
            return memo[2]  # the same new products, batch after batch of customers
        unit = known / np.maximum(np.linalg.norm(known, axis=1, keepdims=True), 1e-9)
        query = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        nearest = np.zeros((len(vectors), take), dtype=np.int64)
        weights = np.zeros((len(vectors), take), dtype=np.float32)
        # A block of new products at a time: all of them by a large catalogue at once
        # was gigabytes (11,714 by 49,060 on the 20x benchmark's tuning model).
        for start in range(0, len(vectors), NEIGHBOUR_BLOCK):
            similarity = query[start : start + NEIGHBOUR_BLOCK] @ unit.T
            block = np.argpartition(-similarity, take - 1, axis=1)[:, :take]
            nearest[start : start + NEIGHBOUR_BLOCK] = block
            found = np.take_along_axis(similarity, block, axis=1)
            weights[start : start + NEIGHBOUR_BLOCK] = np.clip(found, 0.0, None)
        totals = weights.sum(axis=1, keepdims=True)
        totals[totals == 0] = 1.0
        result = nearest, (weights / totals).astype(np.float32)
        self._neighbours_memo = (vectors, k, result)
        return result

    @staticmethod
    def blend(components: dict[str, np.ndarray], weights: BlendWeights) -> np.ndarray:
        shape = components["repeat"].shape
        total = np.zeros(shape, dtype=np.float32)
        for name in COMPONENTS:
            weight = getattr(weights, name)
            if weight:
                total += components[name] * np.float32(weight)
        return total

    def score(
        self,
        data: InteractionData,
        *,
        discovery: bool = False,
        user_feature_rows: list[list[str]] | None = None,
        rows: np.ndarray | None = None,
    ) -> np.ndarray:
        rows = np.arange(data.shape[0]) if rows is None else np.asarray(rows)
        weights = self.weights_new if discovery else self.weights_all
        scores = self.blend(self.components(data, user_feature_rows, rows), weights)
        if discovery:
            owned = data.baskets[rows].tocoo()
            scores[owned.row, owned.col] = -np.inf
        return scores

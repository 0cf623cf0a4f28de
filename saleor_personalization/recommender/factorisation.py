"""LightFM hybrid matrix factorisation with a time budget.

Training goes epoch by epoch and stops when the budget is spent, so a task always
finishes inside its Celery time limit; what was learned so far is kept.
"""

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..features.matrices import FeatureSpace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FactorisationParams:
    components: int = 64
    epochs: int = 30
    learning_rate: float = 0.05
    item_alpha: float = 1e-6
    user_alpha: float = 1e-6
    max_sampled: int = 10
    threads: int = 2
    time_limit_seconds: float = 300.0
    seed: int = 7


@dataclass
class Factorisation:
    """What serving needs from LightFM: vectors for known ids, embeddings for names."""

    user_vectors: np.ndarray
    user_biases: np.ndarray
    item_vectors: np.ndarray
    item_biases: np.ndarray
    item_feature_names: list[str]
    item_feature_embeddings: np.ndarray
    item_feature_biases: np.ndarray
    user_feature_names: list[str]
    user_feature_embeddings: np.ndarray
    user_feature_biases: np.ndarray
    epochs_run: int

    def vectors_from_features(
        self, rows: list[list[str]], *, kind: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for entities the model never saw, from the features it did learn."""
        if kind == "item":
            names, emb, bias = (
                self.item_feature_names,
                self.item_feature_embeddings,
                self.item_feature_biases,
            )
        else:
            names, emb, bias = (
                self.user_feature_names,
                self.user_feature_embeddings,
                self.user_feature_biases,
            )
        index = {name: k for k, name in enumerate(names)}
        vectors = np.zeros((len(rows), emb.shape[1]), dtype=np.float32)
        biases = np.zeros(len(rows), dtype=np.float32)
        for r, features in enumerate(rows):
            known = [index[f] for f in features if f in index]
            if known:
                vectors[r] = emb[known].mean(axis=0)
                biases[r] = bias[known].mean()
        return vectors, biases


def train_factorisation(
    weights: sp.csr_matrix,
    user_features: FeatureSpace,
    item_features: FeatureSpace,
    params: FactorisationParams,
) -> Factorisation:
    from lightfm import LightFM

    model = LightFM(
        no_components=params.components,
        loss="warp",
        learning_rate=params.learning_rate,
        item_alpha=params.item_alpha,
        user_alpha=params.user_alpha,
        max_sampled=params.max_sampled,
        random_state=np.random.RandomState(params.seed),
    )
    sample_weight = weights.tocoo()
    interactions = sp.coo_matrix(
        (np.ones_like(sample_weight.data), (sample_weight.row, sample_weight.col)),
        shape=weights.shape,
    )
    deadline = time.monotonic() + params.time_limit_seconds
    epochs = 0
    for _ in range(params.epochs):
        model.fit_partial(
            interactions,
            user_features=user_features.matrix,
            item_features=item_features.matrix,
            sample_weight=sample_weight,
            epochs=1,
            num_threads=params.threads,
        )
        epochs += 1
        if time.monotonic() > deadline:
            logger.warning("LightFM stopped after %s epochs: time limit reached", epochs)
            break
    item_biases, item_vectors = model.get_item_representations(item_features.matrix)
    user_biases, user_vectors = model.get_user_representations(user_features.matrix)
    return Factorisation(
        user_vectors=user_vectors.astype(np.float32),
        user_biases=user_biases.astype(np.float32),
        item_vectors=item_vectors.astype(np.float32),
        item_biases=item_biases.astype(np.float32),
        item_feature_names=item_features.names,
        item_feature_embeddings=model.item_embeddings.astype(np.float32),
        item_feature_biases=model.item_biases.astype(np.float32),
        user_feature_names=user_features.names,
        user_feature_embeddings=model.user_embeddings.astype(np.float32),
        user_feature_biases=model.user_biases.astype(np.float32),
        epochs_run=epochs,
    )

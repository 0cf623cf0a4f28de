"""Model artifacts: arrays in ``.npz`` plus a JSON manifest, in Django's default storage.

Never pickle: loading an artifact must not be able to execute code, so arrays are
read with ``allow_pickle=False`` and everything else is plain JSON. Storage is
Django's (S3, GCS or a shared disk in production), so every Celery worker and web
process reads the same file; a SHA-256 recorded on the model run detects a corrupted
or swapped file.
"""

import hashlib
import io
import json
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from ..conf import get_settings
from .factorisation import Factorisation
from .model import BlendWeights, ModelParams, RecommenderModel
from .reorder import ReorderModel

FORMAT_VERSION = 1


class ArtifactError(Exception):
    """The artifact is missing, corrupt or of an unknown format."""


_FACTORISATION_ARRAYS = (
    "user_vectors",
    "user_biases",
    "item_vectors",
    "item_biases",
    "item_feature_embeddings",
    "item_feature_biases",
    "user_feature_embeddings",
    "user_feature_biases",
)


def serialise(model: RecommenderModel) -> tuple[bytes, dict]:
    f = model.factorisation
    arrays = {name: getattr(f, name) for name in _FACTORISATION_ARRAYS}
    copurchase = model.copurchase.tocsr()
    arrays.update(
        item_ids=model.item_ids,
        user_ids=model.user_ids,
        repeat_rates=model.repeat_rates,
        trend=model.trend,
        popularity=model.popularity,
        first_buyers=model.first_buyers,
        **(
            {"item_feature_vectors": model.item_feature_vectors}
            if model.item_feature_vectors is not None
            else {}
        ),
        copurchase_data=copurchase.data,
        copurchase_indices=copurchase.indices,
        copurchase_indptr=copurchase.indptr,
        **(model.reorder.as_arrays() if model.reorder is not None else {}),
    )
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    manifest = {
        "format": FORMAT_VERSION,
        "as_of": model.as_of.isoformat(),
        "params": model.params.as_dict(),
        "weights_all": model.weights_all.as_dict(),
        "weights_new": model.weights_new.as_dict(),
        "item_feature_names": f.item_feature_names,
        "user_feature_names": f.user_feature_names,
        "epochs_run": f.epochs_run,
        "copurchase_shape": list(copurchase.shape),
    }
    return buffer.getvalue(), manifest


def deserialise(blob: bytes, manifest: dict) -> RecommenderModel:
    if manifest.get("format") != FORMAT_VERSION:
        raise ArtifactError(f"unknown artifact format {manifest.get('format')!r}")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            data = {name: arrays[name] for name in arrays.files}
        factorisation = Factorisation(
            **{name: data[name] for name in _FACTORISATION_ARRAYS},
            item_feature_names=list(manifest["item_feature_names"]),
            user_feature_names=list(manifest["user_feature_names"]),
            epochs_run=int(manifest["epochs_run"]),
        )
        copurchase = sp.csr_matrix(
            (data["copurchase_data"], data["copurchase_indices"], data["copurchase_indptr"]),
            shape=tuple(manifest["copurchase_shape"]),
        )
        return RecommenderModel(
            item_ids=data["item_ids"],
            user_ids=data["user_ids"],
            factorisation=factorisation,
            copurchase=copurchase,
            repeat_rates=data["repeat_rates"],
            trend=data["trend"],
            popularity=data["popularity"],
            weights_all=BlendWeights.from_dict(manifest["weights_all"]),
            weights_new=BlendWeights.from_dict(manifest["weights_new"]),
            params=ModelParams.from_dict(manifest["params"]),
            as_of=datetime.fromisoformat(manifest["as_of"]),
            reorder=ReorderModel.from_arrays(data),
            first_buyers=data.get("first_buyers"),  # absent from runs stored before it
            item_feature_vectors=data.get("item_feature_vectors"),  # likewise
        )
    except ArtifactError:
        raise
    except Exception as exc:  # a truncated zip, a missing array, a wrong shape
        raise ArtifactError(f"artifact cannot be read: {exc}") from exc


def save_artifact(model: RecommenderModel, run_id: int) -> tuple[str, str]:
    """Store the model for run ``run_id``; returns (storage name, sha256)."""
    blob, manifest = serialise(model)
    digest = hashlib.sha256(blob).hexdigest()
    manifest["sha256"] = digest
    prefix = get_settings().artifact_prefix.rstrip("/")
    name = default_storage.save(f"{prefix}/run-{run_id}-{digest[:12]}.npz", ContentFile(blob))
    default_storage.save(
        f"{name}.json", ContentFile(json.dumps(manifest, indent=1, sort_keys=True).encode())
    )
    return name, digest


def load_artifact(name: str, sha256: str = "") -> RecommenderModel:
    try:
        with default_storage.open(name, "rb") as handle:
            blob = handle.read()
        with default_storage.open(f"{name}.json", "rb") as handle:
            manifest = json.loads(handle.read().decode())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"artifact {name!r} cannot be opened: {exc}") from exc
    if sha256 and hashlib.sha256(blob).hexdigest() != sha256:
        raise ArtifactError(f"artifact {name!r} does not match its recorded checksum")
    return deserialise(blob, manifest)


def delete_artifact(name: str) -> None:
    for path in (name, f"{name}.json"):
        if default_storage.exists(path):
            default_storage.delete(path)

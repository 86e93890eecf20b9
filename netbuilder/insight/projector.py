"""How the network organises the data: one layer's activations on the test set, in 2-D
(PCA, or t-SNE from scikit-learn), with a class-separation score (no Qt).

    layers = layer_choices(model, graph, x[:1])          # [(place, name), ...]
    p = project(model, graph, x, y, place, "pca")         # Projection: points, silhouette

The default layer is the penultimate one (what the last weighted layer sees) or an
Embedding (averaged over the sequence, one vector per sample).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .capture import capture
from .names import PROJECTION_METHODS, InsightError

BATCH = 256
METHODS = PROJECTION_METHODS


@dataclass
class Projection:
    place: str
    name: str
    method: str
    points: np.ndarray  # N×2
    labels: np.ndarray  # N (class ids; empty colouring for regression)
    silhouette: float | None  # class separation of the 2-D points (−1 … 1)


def _records(model, graph, x):
    with torch.no_grad():
        _, records = capture(model, graph, x)
    return [r for r in records if isinstance(r.value, torch.Tensor) and r.value.dim() >= 2
            and r.type not in ("Input", "Output")]


def layer_choices(model, graph, x) -> list[tuple[str, str]]:
    """(place, name) of every node whose output can be projected, in execution order."""
    return [(r.place, r.name) for r in _records(model, graph, x[:1])]


def default_layer(model, graph, x) -> str:
    """An Embedding's place if there is one; else the node before the last weighted layer."""
    records = _records(model, graph, x[:1])
    if not records:
        raise InsightError("the network has no layer to project")
    for r in records:
        if r.type == "Embedding":
            return r.place
    weighted = [i for i, r in enumerate(records) if r.module and r.type != "Block" and any(
        True for _ in model.get_submodule(r.module).parameters())]
    last = weighted[-1] if weighted else len(records)
    return records[max(0, last - 1)].place


def activations(model, graph, x: torch.Tensor, place: str) -> tuple[np.ndarray, str]:
    """(N×D activations of the node at `place`, its name); sequences (an Embedding's
    N×L×E) are averaged over positions, maps are flattened."""
    was_training = model.training
    model.eval()
    chunks, name = [], None
    try:
        with torch.no_grad():
            for i in range(0, len(x), BATCH):
                _, records = capture(model, graph, x[i:i + BATCH])
                rec = next((r for r in records if r.place == place), None)
                if rec is None:
                    raise InsightError(f"no layer at {place!r} in this network")
                v = rec.value.float()
                if rec.type == "Embedding" and v.dim() == 3:
                    v = v.mean(1)
                chunks.append(v.reshape(len(v), -1).cpu().numpy())
                name = rec.name
    finally:
        model.train(was_training)
    return np.concatenate(chunks), name


def to_2d(acts: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    if method not in METHODS:
        raise InsightError(f"projection {method!r}: choose one of {', '.join(METHODS)}")
    n, d = acts.shape
    if n < 3:
        raise InsightError(f"projecting needs at least 3 samples, not {n}")
    if d == 1:
        return np.column_stack([acts[:, 0], np.zeros(n)])
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(acts)
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca",
                random_state=seed).fit_transform(acts)


def separation(points: np.ndarray, labels: np.ndarray) -> float | None:
    """Silhouette score of the classes in the 2-D points, None when it is undefined."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels).reshape(-1)
    k = len(np.unique(labels))
    if labels.dtype.kind not in "iub" or not 2 <= k < len(labels):
        return None
    return float(silhouette_score(points, labels))


def project(model, graph, x: torch.Tensor, y, place: str | None = None,
            method: str = "pca", seed: int = 0) -> Projection:
    place = place or default_layer(model, graph, x)
    acts, name = activations(model, graph, x, place)
    points = to_2d(acts, method, seed)
    labels = np.asarray(y).reshape(len(acts), -1)[:, 0] if y is not None else np.zeros(0)
    return Projection(place, name, method, points.astype(np.float32), labels,
                      separation(points, labels) if len(labels) else None)

"""Class probabilities from a network's outputs, the one rule for every view (the live
decision boundary, the Results panel, the try-it box).

The loss says what the outputs are: raw scores for cross-entropy (softmax) and
BCEWithLogits (sigmoid); log-probabilities for NLL (exp); probabilities already for BCE
(used as they are, clamped to [0, 1]). One output for two classes is P(class 1); with a
threshold of 0 it is a score (sigmoid), otherwise a probability.
"""
from __future__ import annotations


def probabilities(out, loss: str, threshold: float | None = None):
    """N×K outputs (N×1 for a binary threshold) -> N×classes probabilities (a tensor)."""
    import torch

    out = out.float()
    if out.shape[-1] == 1 or threshold is not None:  # one output for two classes
        logits = loss == "bce_with_logits" or threshold == 0
        p1 = torch.sigmoid(out[:, :1]) if logits else out[:, :1].clamp(0, 1)
        return torch.cat([1 - p1, p1], 1)
    if loss == "nll":
        return out.exp()
    if loss == "bce_with_logits":
        return torch.sigmoid(out)
    if loss == "bce":
        return out.clamp(0, 1)
    return torch.softmax(out, 1)


def plan_probabilities(out, plan):
    """`probabilities` for a training plan (its loss and binary threshold)."""
    return probabilities(out, plan.loss, plan.threshold)


__all__ = ["probabilities", "plan_probabilities"]

"""Loss and task metrics on a data split: accuracy, confusion matrix and per-class
precision/recall for classification; MSE, MAE and R² for real-valued targets."""
from __future__ import annotations

import numpy as np
import torch

from .config import Plan, adapt_target


def predict_classes(out: torch.Tensor, plan: Plan) -> torch.Tensor:
    if plan.threshold is not None:
        return (out[:, 0] > plan.threshold).long()
    return out.argmax(1)


@torch.no_grad()
def evaluate(model, data, split, plan: Plan, loss_fn, device: str, batch_size: int = 1024
             ) -> dict:
    """Metrics of `model` (put in eval mode here) on `split` of PreparedData `data`.
    Empty dict for an empty split. Plain Python numbers and lists only."""
    n = len(split)
    if n == 0:
        return {}
    was_training = model.training
    model.eval()
    loss_sum, outs, ys = 0.0, [], []
    try:
        # the targets come with their batches: a streamed split leaves out unreadable files
        for x, y in data.batches(split, None, batch_size):
            if not len(y):
                continue
            x, y = x.to(device), y.to(device)
            out = model(x).float()
            loss_sum += float(loss_fn(out, adapt_target(y, plan))) * len(y)
            outs.append(out.cpu())
            ys.append(y.cpu())
    finally:
        model.train(was_training)
    if not outs:
        return {}
    out, true = torch.cat(outs), torch.cat(ys).numpy()
    result = {"loss": loss_sum / len(true)}
    if data.info.is_classification:
        result.update(classification(predict_classes(out, plan).numpy(), true,
                                     data.info.num_classes))
    else:
        result.update(regression(out.numpy(), true))
    return result


def classification(pred: np.ndarray, true: np.ndarray, k: int) -> dict:
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (true, pred), 1)  # rows: true class, columns: predicted
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
    return {"accuracy": float(tp.sum() / max(1, cm.sum())), "confusion": cm.tolist(),
            "precision": precision.tolist(), "recall": recall.tolist()}


def regression(pred: np.ndarray, true: np.ndarray) -> dict:
    err = pred.astype(np.float64) - true
    ss_res = float((err ** 2).sum())
    ss_tot = float(((true - true.mean(0)) ** 2).sum())
    return {"mse": float((err ** 2).mean()), "mae": float(np.abs(err).mean()),
            "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0}


SCALARS = ("loss", "accuracy", "mse", "mae", "r2")


def scalars(metrics: dict) -> dict:
    """The single-number metrics (for the CSV, TensorBoard and progress lines)."""
    return {k: metrics[k] for k in SCALARS if k in metrics}

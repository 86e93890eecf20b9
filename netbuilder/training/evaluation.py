"""Evaluate a finished run from its folder (no Qt; the Results panel runs it in a thread).

`evaluate_run(dir)` rebuilds the trained model from the folder's last checkpoint
(project.json + model.safetensors), loads the project's dataset with the training seed (so
the test split is the Trainer's) and predicts the test split. The Trainer's Finished event
carries the test metrics and the confusion matrix but not the per-sample predictions the
mistakes gallery and the try-it box need, so the checkpoint is the one source for all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .probabilities import plan_probabilities


@dataclass
class Evaluation:
    run_dir: Path
    checkpoint: Path
    project: object
    model: object  # the compiled GraphModule with the trained weights, eval mode
    plan: object
    info: object  # DataInfo
    metrics: dict  # training.metrics.evaluate on the test split
    shown_x: np.ndarray  # test inputs as a person sees them (images in [0, 1], raw values)
    y: np.ndarray  # test targets
    pred: np.ndarray  # predicted class ids (classification) or values
    probs: np.ndarray | None  # N×classes (classification)
    mean: np.ndarray | None
    std: np.ndarray | None
    image: bool
    words: dict | None  # token id -> word, for text

    def to_model_input(self, shown: np.ndarray):
        """A batch in the person's units (as `shown_x`) -> the tensor the model takes."""
        import torch

        x = np.asarray(shown, dtype=np.int64 if self.info.input_dtype == "int64"
                       else np.float32)
        if self.mean is not None and x.dtype == np.float32:
            x = (x - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x))

    def predict(self, shown: np.ndarray) -> np.ndarray:
        """Class probabilities (classification) or predicted values, for one batch."""
        import torch

        with torch.no_grad():
            out = self.model(self.to_model_input(shown)).float()
        return (plan_probabilities(out, self.plan).numpy() if self.info.is_classification
                else out.numpy())


def evaluate_run(run_dir: str | Path) -> Evaluation:
    """Rebuild the run's model from its checkpoint and predict the test split."""
    import torch

    from ..core.compiler import compile_graph
    from ..core.project import parse_project
    from ..data import load as load_data
    from .checkpoint import find_checkpoint, load_weights
    from .config import check, make_loss
    from .metrics import evaluate, predict_classes

    run = Path(run_dir)
    ck = find_checkpoint(run)
    project = parse_project((ck / "project.json").read_text(encoding="utf-8"),
                            str(ck / "project.json"))
    ds = project.dataset
    if ds is None:
        raise ValueError(f"{ck}: the trained project names no dataset")
    data = load_data(ds.name, ds.options, seed=project.training.seed)
    plan = check(project.graph, project.training, data.info, ds.name, device="cpu")
    model = compile_graph(project.graph, seed=project.training.seed)
    model.load_state_dict(load_weights(ck))
    model.eval()
    metrics = evaluate(model, data, data.test, plan, make_loss(project.training, plan), "cpu")
    split = data.test
    outs, shown, ys = [], [], []
    with torch.no_grad():
        for x, y in data.batches(split, None, 1024):  # the same dataset object as training
            outs.append(model(x).float())
            ys.append(y.numpy())
            if x.dtype == torch.float32 and data.mean is not None:
                x = x * torch.as_tensor(data.std) + torch.as_tensor(data.mean)
            shown.append(x.numpy())
        if len(split):
            # the try-it box predicts one sample at a time on the UI thread, and the first
            # call at a new batch size is slow (~40 ms: kernels are chosen per shape); pay
            # that here, on the worker thread
            model(data.batch(split, slice(0, 1))[0])
    data.close()
    out = torch.cat(outs) if outs else torch.zeros(0, plan.output_width)
    info = data.info
    if info.is_classification:
        pred, probs = predict_classes(out, plan).numpy(), plan_probabilities(out, plan).numpy()
    else:
        pred, probs = out.numpy(), None
    words = None
    if ds.name == "tiny_reviews":
        from ..data import get
        from ..data.preview import decoder
        words = decoder(ds.name, get(ds.name).fill(ds.options))
    image = len(info.input_shape) == 3 and info.input_dtype == "float32"
    return Evaluation(run, ck, project, model, plan, info, metrics,
                      np.concatenate(shown) if shown else np.zeros((0, *info.input_shape)),
                      np.concatenate(ys) if ys else split.y.numpy(), pred, probs, data.mean,
                      data.std, image, words)


__all__ = ["Evaluation", "evaluate_run"]

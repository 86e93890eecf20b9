"""What the network looks at for one sample, with captum (no Qt).

    a = attribute(model, graph, x, "gradcam")    # Attribution: values shaped like the input

Methods: input-gradient saliency (|d class score / d input|), Integrated Gradients (from a
baseline, black for images), Grad-CAM (on the last convolution, upsampled to the input's
size) and occlusion (a sliding patch set to the baseline; images and tabular features).
The class explained is the predicted one unless `target` says otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .capture import capture
from .names import ATTRIBUTION_METHODS, InsightError

METHODS = ATTRIBUTION_METHODS
CONV_TYPES = ("Conv2d", "ConvTranspose2d")


@dataclass
class Attribution:
    method: str
    values: np.ndarray  # one sample, shaped like the input (Grad-CAM: H×W)
    target: int  # the output index explained
    layer: str | None = None  # Grad-CAM: the convolution's name


class _Scores(torch.nn.Module):
    """The model with one output tensor (captum wants N×outputs)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x)
        out = out[0] if isinstance(out, tuple) else out
        return out.reshape(len(out), -1)


def conv_layers(model, graph, x) -> list[tuple[str, str, str]]:
    """(place, name, module) of every 2-D convolution's features in execution order: the
    convolution taken after the layers that follow it at the same resolution (its
    BatchNorm and activation, as Grad-CAM uses them). Grad-CAM's default is the last."""
    with torch.no_grad():
        _, records = capture(model, graph, x)
    out = []
    for i, r in enumerate(records):
        if r.type not in CONV_TYPES or not r.module:
            continue
        shape = tuple(r.value.shape)
        while (i + 1 < len(records) and records[i + 1].module
               and records[i + 1].type not in ("Block", *CONV_TYPES)
               and tuple(records[i + 1].value.shape) == shape):
            i += 1
        out.append((records[i].place, records[i].name, records[i].module))
    return out


def attribute(model, graph, x: torch.Tensor, method: str, target: int | None = None,
              baseline: torch.Tensor | None = None, layer: str | None = None) -> Attribution:
    """Attribution of `method` for the batch of one `x` (model units, as the Input gets
    it). `baseline` (broadcast to x) is what "nothing" is: zeros unless given. Grad-CAM
    looks at `layer` (a place from conv_layers; the last convolution by default)."""
    values, targets, name = attribute_batch(model, graph, x[:1], method,
                                            None if target is None else [target], baseline,
                                            layer)
    return Attribution(method, values[0], int(targets[0]), name)


def attribute_batch(model, graph, x: torch.Tensor, method: str, targets=None,
                    baseline: torch.Tensor | None = None, layer: str | None = None):
    """(N×… attributions, the N output indices explained, Grad-CAM's layer name or None)
    for a batch: `attribute` for many samples at once (the predicted classes unless
    `targets` are given)."""
    from captum.attr import (IntegratedGradients, LayerAttribution, LayerGradCam,
                             Occlusion, Saliency)

    if method not in METHODS:
        raise InsightError(f"attribution {method!r}: choose one of {', '.join(METHODS)}")
    if not x.is_floating_point():
        raise InsightError("attributions need float inputs; this network takes token ids")
    was_training = model.training
    model.eval()
    scores = _Scores(model)
    x = x.detach().clone()
    base = torch.zeros_like(x) if baseline is None else \
        torch.broadcast_to(baseline.to(x.dtype), x.shape).clone()
    with torch.no_grad():
        out = scores(x)
    width = out.shape[1]
    if targets is None:
        t = out.argmax(1) if width > 1 else torch.zeros(len(x), dtype=torch.int64)
    else:
        t = torch.as_tensor(targets, dtype=torch.int64).reshape(-1)
    if len(t) != len(x) or ((t < 0) | (t >= width)).any():
        raise InsightError(f"target {t.tolist()}: the output has {width} values")
    layer_name = None
    try:
        if method == "saliency":
            a = Saliency(scores).attribute(x.requires_grad_(True), target=t, abs=True)
        elif method == "integrated_gradients":
            a = IntegratedGradients(scores).attribute(x, baselines=base, target=t,
                                                      n_steps=32)
        elif method == "occlusion":
            window, strides = _occlusion_window(x.shape[1:])
            a = Occlusion(scores).attribute(x, sliding_window_shapes=window, strides=strides,
                                            target=t, baselines=base,
                                            perturbations_per_eval=64)  # one forward, not 49
        else:
            convs = conv_layers(model, graph, x[:1]) if x.dim() == 4 else []
            if not convs:
                raise InsightError("Grad-CAM needs a 2-D convolution on image inputs; this "
                                   "network has none (try saliency or Integrated Gradients)")
            chosen = next((c for c in convs if c[0] == layer), None) if layer else convs[-1]
            if chosen is None:
                raise InsightError(f"Grad-CAM layer {layer!r}: choose one of "
                                   f"{', '.join(c[0] for c in convs)}")
            conv, layer_name = model.get_submodule(chosen[2]), chosen[1]
            a = LayerGradCam(scores, conv).attribute(x, target=t, relu_attributions=True)
            if tuple(a.shape[-2:]) != tuple(x.shape[-2:]):
                a = LayerAttribution.interpolate(a, tuple(x.shape[-2:]), "bilinear")
            a = a.clamp_min(0)[:, 0]
    finally:
        model.train(was_training)
    return a.detach().cpu().numpy(), t.numpy(), layer_name


def _occlusion_window(shape) -> tuple[tuple, tuple]:
    """A patch of about a sixth of an image's side (one feature for vectors), half-patch
    strides: coarse enough to change the answer, fine enough to localise."""
    if len(shape) == 3:
        c, h, w = shape
        k = max(2, round(min(h, w) / 6))
        s = max(1, k // 2)
        return (c, k, k), (c, s, s)
    return tuple(1 for _ in shape), tuple(1 for _ in shape)


def mass_inside(values: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(attribution mass inside `mask`, outside it): sums of |values| (channels summed)."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    if v.ndim == 3:
        v = v.sum(0)
    m = np.asarray(mask, dtype=bool).reshape(v.shape)
    return float(v[m].sum()), float(v[~m].sum())

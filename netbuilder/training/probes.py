"""Probes: what the live views draw, measured on the layers of the compiled graph.

Every `every` optimizer steps the trainer asks for a snapshot: gradient norms (read after
backward), update-to-weight ratios (across the optimizer step), weight norms, and per-layer
activation statistics, histograms, dead-ReLU fractions and conv feature maps from a forward
pass over a fixed probe sample. That pass runs in eval mode under no_grad, so it changes
no BatchNorm statistics and draws no random numbers: training with and without probes gives
identical weights.

Layers inside block instances are probed too, each at its place ("instance id/copy/inner
id", named "layer2 › 0 › conv1"), so an editor that opens a block shows its layers' numbers
and health; a block instance is also a layer of its own (its output, all its weights).
"""
from __future__ import annotations

import numpy as np
import torch

from ..core.blocks import BLOCK
from ..core.compiler import layer_places, place_label
from .events import LayerProbe, ProbeSnapshot

HIST_BINS = 30
MAX_MAPS = 32  # feature-map channels sent per conv layer
STAT_VALUES = 8192  # activation values per layer that statistics are computed from
DEFAULT_EVERY = 50  # steps between snapshots
RELU_LIKE = {"ReLU"}
CONV = {"Conv1d", "Conv2d", "ConvTranspose2d"}


def layers(model, graph) -> list[tuple[str, str, object, torch.nn.Module]]:
    """(place, label, node, module) for every graph node that owns a module, inside block
    instances too (each instance after its contents, as forward hooks fire), in the
    compiled module's order."""
    return [(place, place_label(graph, place), node, model.get_submodule(q))
            for place, (node, q) in layer_places(model, graph, blocks=True).items()]


def _first_tensor(out):
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out if isinstance(out, torch.Tensor) else None


def _norm(tensors) -> float | None:
    tensors = [t for t in tensors if t is not None]
    if not tensors:
        return None
    return float(torch.sqrt(sum((t.detach().float() ** 2).sum() for t in tensors)))


class Prober:
    def __init__(self, model, graph, probe_x: torch.Tensor, every: int = DEFAULT_EVERY):
        self.model, self.graph, self.x, self.every = model, graph, probe_x, every
        self.layers = layers(model, graph)
        self._before: dict[str, list[torch.Tensor]] = {}
        self._grads: dict[str, float | None] = {}
        self._subsets: dict[tuple, torch.Tensor] = {}  # (node id, size) -> sampled indices

    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0

    def before_step(self) -> None:
        """Call between backward() and optimizer.step(): gradients and weights as they are."""
        self._grads, self._before = {}, {}
        for place, _, _, m in self.layers:
            ps = list(m.parameters(recurse=True))
            if ps:
                self._grads[place] = _norm([p.grad for p in ps])
                # one copy per parameter: a block instance shares its layers' parameters
                for p in ps:
                    if id(p) not in self._before:
                        self._before[id(p)] = p.detach().clone()

    @torch.no_grad()
    def snapshot(self, epoch: int, batch: int, step: int) -> ProbeSnapshot:
        """Call after optimizer.step()."""
        acts: dict[str, torch.Tensor] = {}
        hooks = [m.register_forward_hook(
            lambda mod, a, out, place=place: acts.__setitem__(place, _first_tensor(out)))
            for place, _, _, m in self.layers]
        was_training = self.model.training
        self.model.eval()
        try:
            self.model(self.x)
        finally:
            self.model.train(was_training)
            for h in hooks:
                h.remove()
        out = []
        for place, label, node, m in self.layers:
            a = acts.get(place)
            if a is None or not a.is_floating_point():
                continue
            out.append(self._layer(place, label, node, m, a.detach().float()))
        return ProbeSnapshot(epoch, batch, step, tuple(out))

    def _subset(self, nid: str, n: int, device) -> torch.Tensor:
        idx = self._subsets.get((nid, n))
        if idx is None:
            g = torch.Generator().manual_seed(n)  # randint, not randperm: n may be ~10^8
            idx = torch.randint(n, (STAT_VALUES,), generator=g).sort().values.to(device)
            self._subsets[(nid, n)] = idx
        return idx

    def _layer(self, nid: str, label: str, node, module, a: torch.Tensor) -> LayerProbe:
        # Statistics and the histogram come from at most STAT_VALUES of the values: a conv
        # layer's output over the probe batch has ~10^5, and a snapshot that reduced all of
        # them cost ~35 ms on the training thread (digits CNN), 10x a step. The sample is a
        # fixed random subset per layer (a stride would alias with the channel count), drawn
        # from its own generator so training's random numbers are untouched.
        flat = a.reshape(-1)
        if flat.numel() > STAT_VALUES:
            flat = flat[self._subset(nid, flat.numel(), flat.device)]
        if not bool(torch.isfinite(flat).all()):
            flat = flat[torch.isfinite(flat)]
        if flat.numel():
            lo_t, hi_t = torch.aminmax(flat)
            lo, hi = float(lo_t), float(hi_t)
        else:
            lo, hi = 0.0, 0.0
        top = hi if hi > lo else lo + 1e-6  # a constant output still gets one full bin
        counts = torch.histc(flat, HIST_BINS, lo, top).to(torch.int64).cpu().numpy()
        edges = np.linspace(lo, top, HIST_BINS + 1, dtype=np.float32)
        if flat.numel() > 1:
            std_t, mean_t = torch.std_mean(flat)
            mean, std = float(mean_t), float(std_t)
        else:
            mean, std = (float(flat[0]) if flat.numel() else 0.0), 0.0
        dead = None
        if node.type in RELU_LIKE and a.dim() >= 2:
            dead = float((a <= 0).all(0).float().mean())
        maps = None
        if node.type in CONV:
            maps = a[0, :MAX_MAPS].cpu().numpy().copy()
        ps = list(module.parameters(recurse=True))
        weight = _norm(ps)
        ratio = None
        if weight is not None and all(id(p) in self._before for p in ps):
            before = [self._before[id(p)] for p in ps]
            w0 = _norm(before)
            delta = _norm([p.detach() - b for p, b in zip(ps, before)])
            ratio = delta / w0 if w0 else None
        return LayerProbe(nid, label, node.type, mean, std, lo, hi, counts, edges, dead,
                          weight, self._grads.get(nid), ratio, maps)


@torch.no_grad()
def first_nonfinite(model, graph, x: torch.Tensor) -> tuple[str | None, str, str]:
    """(place, where, reason) for the first layer, in execution order, whose weights or
    output are not finite on input `x` (inside a block: the layer in it, not the block);
    (None, "", "") if every layer stays finite."""
    places = {m: (place, label, node) for place, label, node, m in layers(model, graph)}
    found: list[tuple[str, str, str]] = []

    def hook(mod, args, out):
        place, label, node = places[mod]
        if found or node.type == BLOCK:  # a block's own hook fires after its layers'
            return
        where = f"{label!r} ({node.type}, node {place})"
        if any(not torch.isfinite(p).all() for p in mod.parameters()):
            found.append((place, where, "its weights are not finite (an earlier step blew "
                                        "them up)"))
            return
        t = _first_tensor(out)
        if t is not None and t.is_floating_point() and not torch.isfinite(t).all():
            bad = "NaN" if torch.isnan(t).any() else "infinite"
            found.append((place, where, f"its output has {bad} values"))
    hooks = [m.register_forward_hook(hook) for m in places]
    try:
        model(x)
    except Exception:  # noqa: BLE001 (we are already diagnosing a failure)
        pass
    finally:
        for h in hooks:
            h.remove()
    return found[0] if found else (None, "", "")

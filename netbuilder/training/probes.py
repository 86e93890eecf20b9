"""Probes: what the live views draw, measured on the layers of the compiled graph.

Every `every` optimizer steps the trainer asks for a snapshot: gradient norms (read after
backward), update-to-weight ratios (across the optimizer step), weight norms, and per-layer
activation statistics, histograms, dead-ReLU fractions and conv feature maps from a forward
pass over a fixed probe sample. That pass runs in eval mode under no_grad, so it changes
no BatchNorm statistics and draws no random numbers: training with and without probes gives
identical weights.
"""
from __future__ import annotations

import numpy as np
import torch

from .events import LayerProbe, ProbeSnapshot

HIST_BINS = 30
MAX_MAPS = 32  # feature-map channels sent per conv layer
STAT_VALUES = 8192  # activation values per layer that statistics are computed from
DEFAULT_EVERY = 50  # steps between snapshots
RELU_LIKE = {"ReLU"}
CONV = {"Conv1d", "Conv2d", "ConvTranspose2d"}


def layers(model, graph) -> list[tuple[str, str, torch.nn.Module]]:
    """(node id, module name, module) for every graph node that owns a module, in the
    compiled module's order."""
    names = getattr(model, "node_modules", {})
    return [(nid, q, model.get_submodule(q)) for nid, q in names.items()]


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
        for nid, _, m in self.layers:
            ps = list(m.parameters(recurse=True))
            if ps:
                self._grads[nid] = _norm([p.grad for p in ps])
                self._before[nid] = [p.detach().clone() for p in ps]

    @torch.no_grad()
    def snapshot(self, epoch: int, batch: int, step: int) -> ProbeSnapshot:
        """Call after optimizer.step()."""
        acts: dict[str, torch.Tensor] = {}
        hooks = [m.register_forward_hook(
            lambda mod, a, out, nid=nid: acts.__setitem__(nid, _first_tensor(out)))
            for nid, _, m in self.layers]
        was_training = self.model.training
        self.model.eval()
        try:
            self.model(self.x)
        finally:
            self.model.train(was_training)
            for h in hooks:
                h.remove()
        out = []
        for nid, _, m in self.layers:
            node = self.graph.nodes[nid]
            a = acts.get(nid)
            if a is None or not a.is_floating_point():
                continue
            out.append(self._layer(node, m, a.detach().float()))
        return ProbeSnapshot(epoch, batch, step, tuple(out))

    def _subset(self, nid: str, n: int, device) -> torch.Tensor:
        idx = self._subsets.get((nid, n))
        if idx is None:
            g = torch.Generator().manual_seed(n)  # randint, not randperm: n may be ~10^8
            idx = torch.randint(n, (STAT_VALUES,), generator=g).sort().values.to(device)
            self._subsets[(nid, n)] = idx
        return idx

    def _layer(self, node, module, a: torch.Tensor) -> LayerProbe:
        nid = node.id
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
        if nid in self._before and weight is not None:
            before = self._before[nid]
            w0 = _norm(before)
            delta = _norm([p.detach() - b for p, b in zip(ps, before)])
            ratio = delta / w0 if w0 else None
        return LayerProbe(nid, node.name, node.type, mean, std, lo, hi, counts, edges, dead,
                          weight, self._grads.get(nid), ratio, maps)


@torch.no_grad()
def first_nonfinite(model, graph, x: torch.Tensor):
    """(node, reason) for the first layer, in execution order, whose weights or output are
    not finite on input `x`; (None, "") if every layer stays finite."""
    by_module = {m: nid for nid, _, m in layers(model, graph)}
    found: list[tuple[str, str]] = []

    def hook(mod, args, out):
        if found:
            return
        nid = by_module[mod]
        if any(not torch.isfinite(p).all() for p in mod.parameters()):
            found.append((nid, "its weights are not finite (an earlier step blew them up)"))
            return
        t = _first_tensor(out)
        if t is not None and t.is_floating_point() and not torch.isfinite(t).all():
            bad = "NaN" if torch.isnan(t).any() else "infinite"
            found.append((nid, f"its output has {bad} values"))
    hooks = [m.register_forward_hook(hook) for m in by_module]
    try:
        model(x)
    except Exception:  # noqa: BLE001 (we are already diagnosing a failure)
        pass
    finally:
        for h in hooks:
            h.remove()
    if not found:
        return None, ""
    nid, reason = found[0]
    return graph.nodes[nid], reason

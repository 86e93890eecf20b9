"""Pause, edit the graph, resume: carry the weights and optimizer state of unchanged layers
into the recompiled model; changed and new layers start from their fresh initialisation.

A layer is *unchanged* when the new graph has a node at the same place (the same id; inside
a block instance, the same instance id, copy and id in the definition) with the same type
and parameters, and its compiled module has the same state_dict keys and shapes (an
inferred size such as in_features that changed because an upstream layer changed makes it
"changed"). Its whole
state (weights and buffers such as BatchNorm running statistics) is copied, and so is the
optimizer's per-parameter state (Adam moments, momentum buffers, step counts). The
optimizer's hyperparameters (its current learning rate) and the LR schedule's position are
kept as they were.

    report = swap_graph(trainer, new_project)   # only while the trainer is paused

No Qt; a GUI calls this through `Trainer.replace_project` from the UI thread while the
training thread is parked at a batch boundary.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from ..core.compiler import compile_graph, layer_places
from ..core.graph import Graph


@dataclass(frozen=True)
class CarryReport:
    # Places are node ids; a layer inside a block instance is "instance id/copy/inner id"
    # (nested blocks add levels), so an edit inside one block keeps every other's weights.
    kept: tuple[str, ...] = ()  # places whose weights and optimizer state were carried over
    reinitialised: tuple[str, ...] = ()  # node ids with parameters that start fresh
    removed: tuple[str, ...] = ()  # node ids with modules that are gone
    reasons: dict = field(default_factory=dict)  # node id -> why it was re-initialised

    def summary(self) -> str:
        parts = [f"kept {len(self.kept)} layer(s)"]
        if self.reinitialised:
            parts.append(f"re-initialised {len(self.reinitialised)}")
        if self.removed:
            parts.append(f"removed {len(self.removed)}")
        return ", ".join(parts)


def _shapes(module: torch.nn.Module) -> dict:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _why_changed(a, b, old_m, new_m) -> str | None:
    if a is None:
        return "new layer"
    if a.type != b.type:
        return f"type changed ({a.type} → {b.type})"
    if a.params != b.params:
        return "parameters changed"
    if old_m is None:
        return "new layer"
    if _shapes(old_m) != _shapes(new_m):
        return "weight shapes changed (an upstream layer changed its output)"
    return None


def carry_over(old_model, old_graph: Graph, new_model, new_graph: Graph,
               old_opt=None, new_opt=None) -> CarryReport:
    """Copy unchanged layers' state from old_model into new_model (in place) and, given both
    optimizers, their per-parameter optimizer state and the param-group hyperparameters."""
    old_layers = layer_places(old_model, old_graph)
    new_layers = layer_places(new_model, new_graph)
    kept, fresh, reasons = [], [], {}
    pairs: list[tuple[torch.nn.Parameter, torch.nn.Parameter]] = []
    for nid, (node, qname) in new_layers.items():
        new_m = new_model.get_submodule(qname)
        old = old_layers.get(nid)
        old_m = old_model.get_submodule(old[1]) if old else None
        has_state = bool(new_m.state_dict())
        why = _why_changed(old[0] if old else None, node, old_m, new_m)
        if why is None:
            if has_state:
                with torch.no_grad():
                    new_m.load_state_dict(old_m.state_dict())
                pairs.extend(zip(old_m.parameters(), new_m.parameters()))
                kept.append(nid)
        elif has_state:
            fresh.append(nid)
            reasons[nid] = why
    removed = tuple(nid for nid, (_, q) in old_layers.items() if nid not in new_layers
                    and old_model.get_submodule(q).state_dict())
    if old_opt is not None and new_opt is not None:
        _carry_groups(old_opt, new_opt)
        training = {id(p) for g in new_opt.param_groups for p in g["params"]}
        for p_old, p_new in pairs:
            st = old_opt.state.get(p_old)
            if st and id(p_new) in training:  # a layer frozen while paused keeps no state
                new_opt.state[p_new] = {k: (v.detach().clone() if isinstance(v, torch.Tensor)
                                            else copy.deepcopy(v)) for k, v in st.items()}
    return CarryReport(tuple(kept), tuple(fresh), removed, reasons)


_SCALED = ("lr", "initial_lr", "max_lr", "min_lr")  # group keys that follow lr_mult


def _carry_groups(old_opt, new_opt) -> None:
    """Each new group takes the hyperparameters (the current lr ...) of the old group with
    its multiplier; a new multiplier scales those of the old base group."""
    old = {g.get("lr_mult", 1.0): g for g in old_opt.param_groups}
    base_mult = 1.0 if 1.0 in old else next(iter(old))
    for ng in new_opt.param_groups:
        mult = ng.get("lr_mult", 1.0)
        og = old.get(mult, old[base_mult])
        ratio = 1.0 if mult in old else mult / og.get("lr_mult", 1.0)
        for k, v in og.items():
            if k in ("params", "lr_mult"):
                continue
            ng[k] = v * ratio if k in _SCALED and isinstance(v, float) else copy.deepcopy(v)


def _carry_schedule(old_sched, new_sched, old_opt, new_opt) -> None:
    """The schedule's position; its per-group lists follow the groups by multiplier."""
    state = old_sched.state_dict()
    old_mults = [g.get("lr_mult", 1.0) for g in old_opt.param_groups]
    new_mults = [g.get("lr_mult", 1.0) for g in new_opt.param_groups]
    if old_mults != new_mults:
        for key in ("base_lrs", "_last_lr", "min_lrs", "max_lrs"):
            values = state.get(key)
            if isinstance(values, list) and len(values) == len(old_mults):
                by = dict(zip(old_mults, values))
                base = by.get(1.0, values[0]) / (1.0 if 1.0 in by else old_mults[0])
                state[key] = [by.get(m, base * m) for m in new_mults]
    new_sched.load_state_dict(state)


def swap_graph(trainer, project) -> CarryReport:
    """Recompile `project`'s graph inside a paused Trainer, carrying over what is unchanged.
    Raises TrainingConfigError (the trainer is left as it was) when the new graph cannot
    train with the run's settings and data."""
    from .config import check, make_loss, make_optimizer, make_scheduler
    from .probes import Prober
    from .tuning import apply_tuning

    s, data = trainer.settings, trainer.data
    plan = check(project.graph, s, data.info, project.dataset.name if project.dataset
                 else "", trainer.device_wanted)
    if plan.device != trainer.plan.device:
        plan = trainer.plan  # the run keeps its device
    # A fresh init for changed layers that does not disturb the run's global RNG stream.
    rng = torch.get_rng_state()
    try:
        model = compile_graph(project.graph, seed=s.seed).to(trainer.plan.device)
    finally:
        torch.set_rng_state(rng)
    model.train(trainer.model.training)
    optimizer = make_optimizer(s, apply_tuning(model, project.graph, s.lr))
    scheduler = make_scheduler(s, optimizer, s.epochs, trainer.nb)
    report = carry_over(trainer.model, trainer.project.graph, model, project.graph,
                        trainer.optimizer, optimizer)
    if scheduler is not None and trainer.scheduler is not None:
        _carry_schedule(trainer.scheduler, scheduler, trainer.optimizer, optimizer)
        _carry_groups(trainer.optimizer, optimizer)  # the current lr, not the schedule's
    trainer.project, trainer.plan = project, plan
    trainer.model, trainer.optimizer, trainer.scheduler = model, optimizer, scheduler
    trainer.loss_fn = make_loss(s, plan)
    old = trainer.prober
    trainer.prober = Prober(model, project.graph, old.x, old.every)
    return report

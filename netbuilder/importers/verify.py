"""The import check: does the imported graph compute what the original model computes?

Both run on the same fixed inputs; a difference beyond a tolerance scaled to the size of
the outputs refuses the import. A comparison only proves something when the original
gives the same output for the same input, so that is checked first: a model that keeps
state in Python attributes (a call counter), or draws random numbers, is refused with the
cause and the place, because a graph cannot reproduce it and no check could tell a right
import from a wrong one. When the model is deterministic but the graph differs, the first
node whose outputs differ is named.
"""
from __future__ import annotations

import torch
import torch.fx as fx
import torch.nn as nn

RTOL = 1e-4  # of the largest output magnitude (float32 noise grows with it)

_RANDOM_FUNCTIONS = {"rand", "randn", "rand_like", "randn_like", "randint", "randint_like",
                     "randperm", "bernoulli", "multinomial", "normal", "poisson",
                     "dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d",
                     "dropout2d", "dropout3d", "rrelu"}
_RANDOM_METHODS = {"uniform_", "normal_", "bernoulli", "bernoulli_", "random_",
                   "exponential_", "geometric_", "cauchy_", "log_normal_", "multinomial"}


class VerificationError(ValueError):
    """The import cannot be verified or does not match; the message says why and where."""


def _flat(y) -> list[torch.Tensor]:
    if isinstance(y, torch.Tensor):
        return [y]
    if isinstance(y, (tuple, list)):
        return [t for v in y for t in _flat(v)]
    if isinstance(y, dict):
        return [t for v in y.values() for t in _flat(v)]
    return []


def tolerance(ref) -> float:
    big = max((float(t.detach().float().abs().max()) for t in _flat(ref) if t.numel()),
              default=1.0)
    return RTOL * max(1.0, big)


def max_diff(a, b) -> float:
    xs, ys = _flat(a), _flat(b)
    if len(xs) != len(ys) or any(x.shape != y.shape for x, y in zip(xs, ys)):
        return float("inf")
    diffs = [float((x.float() - y.float()).abs().max()) for x, y in zip(xs, ys) if x.numel()]
    return max(diffs, default=0.0)


def _python_state(model: nn.Module) -> dict:
    """Plain Python values held by the model's modules (what a call could change)."""
    state = {}
    for path, m in model.named_modules():
        for k, v in vars(m).items():
            if k.startswith("_") or k == "training":
                continue
            if isinstance(v, (bool, int, float, str, tuple, list, dict)) or v is None:
                try:
                    state[(path, type(m).__name__, k)] = repr(v)[:80]
                except Exception:  # noqa: BLE001 - an odd repr: skip that attribute
                    pass
    return state


def _random_node(gm: fx.GraphModule) -> fx.Node | None:
    for n in gm.graph.nodes:
        name = getattr(n.target, "__name__", str(n.target))
        if n.op == "call_function" and name in _RANDOM_FUNCTIONS:
            if "dropout" not in name or n.kwargs.get("training", True) is not False:
                return n
        if n.op == "call_method" and name in _RANDOM_METHODS:
            return n
    return None


def _label(n: fx.Node, names: dict) -> str:
    nb = names.get(n)
    target = getattr(n.target, "__name__", n.target)
    where = f" (node {nb!r})" if nb else ""
    return f"{n.op} {target!r}{where}"


def _seeded_call(model: nn.Module, xs):
    """model(*xs) from seed 0, without gradients; its Python state before and after."""
    before = _python_state(model)
    with torch.no_grad():
        torch.manual_seed(0)
        out = model(*xs)
    return out, before, _python_state(model)


def check_deterministic(model: nn.Module, gm: fx.GraphModule, xs, node_names: dict):
    """The output of `model` on `xs`; raises VerificationError when `model` gives
    different outputs for the same input. Two calls when it is deterministic (the usual
    case: a large model's forward costs seconds), a third to tell state from randomness."""
    rng = torch.get_rng_state()
    try:
        a, s0, s1 = _seeded_call(model, xs)
        with torch.no_grad():
            c = model(*xs)  # not reseeded: random numbers differ now
            s2 = _python_state(model)
            tol = tolerance(a)
            if max_diff(a, c) <= tol:
                return a
            torch.manual_seed(0)
            b = model(*xs)
    finally:
        torch.set_rng_state(rng)
    name = type(model).__name__
    changed = [(k, s0.get(k), s1.get(k), s2.get(k)) for k in s1
               if not (s0.get(k) == s1.get(k) == s2.get(k))]
    if changed and max_diff(a, b) > tol:
        (path, cls, attr), v0, v1, v2 = changed[0]
        owner = f"submodule {path!r} ({cls})" if path else f"the model ({cls})"
        raise VerificationError(
            f"{name} cannot be verified: its output changes between two calls with the same "
            f"input (largest difference {max_diff(a, b):.3g}) because {owner} keeps state in "
            f"the Python attribute {attr!r} ({v0} -> {v1} -> {v2}). A graph cannot "
            f"reproduce state kept in Python attributes; keep it in a buffer "
            f"(register_buffer) or remove it, then import again")
    node = _random_node(gm)
    at = (f" at {_label(node, node_names)}" if node is not None else "")
    raise VerificationError(
        f"{name} cannot be verified: its output changes between two calls with the same "
        f"input (largest difference {max(max_diff(a, c), max_diff(a, b)):.3g}) because "
        f"it uses random operations{at}. netbuilder checks an import by comparing "
        f"outputs, which random numbers make meaningless; run the random part only in "
        f"training (`if self.training:`), so that the model in eval mode is "
        f"deterministic, then import again")


def _record(gm: fx.GraphModule, xs) -> dict[fx.Node, object]:
    seen = {}

    class Rec(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            seen[n] = out
            return out

    with torch.no_grad():
        Rec(gm).run(*xs)
    return seen


def first_difference(traced: fx.GraphModule, compiled: fx.GraphModule, xs,
                     node_of: dict[fx.Node, str], tol: float) -> str | None:
    """The first imported node (in the original's order) whose output differs."""
    try:
        want = _record(traced, xs)
        got_by_target = {}
        for n, v in _record(compiled, xs).items():
            if n.op == "call_module":
                got_by_target.setdefault(n.target, v)
    except Exception:  # noqa: BLE001 - locating is a bonus; the refusal stands without it
        return None
    modules = getattr(compiled, "node_modules", {})
    for n in traced.graph.nodes:
        nid = node_of.get(n)
        if nid is None or nid not in modules or modules[nid] not in got_by_target:
            continue
        w, g = want.get(n), got_by_target[modules[nid]]
        if isinstance(w, torch.Tensor) and isinstance(g, torch.Tensor) and \
                w.shape == g.shape and max_diff(w, g) > tol:
            return f"{nid} (from {_label(n, {})}; largest difference {max_diff(w, g):.3g})"
    return None


def verify(model: nn.Module, traced: fx.GraphModule, compiled: fx.GraphModule, xs,
           node_of: dict[fx.Node, str], names: dict[str, str]) -> float:
    """The largest difference between `model` and `compiled` on `xs`; raises
    VerificationError (why and where) when it is beyond the tolerance, or when the model
    itself is not deterministic. `node_of` maps the original's fx nodes to graph node ids,
    `names` graph node ids to their names."""
    # The usual case in two forward passes (resnet50: ~0.3 s each): the original, then the
    # import with the random-number stream moved on. Equal outputs then mean both are
    # deterministic and the same, unless the call changed the model's Python state; any
    # other outcome takes the full check below, which says why.
    rng = torch.get_rng_state()
    try:
        ref, s0, s1 = _seeded_call(model, xs)
        with torch.no_grad():
            got = compiled(*xs)
    finally:
        torch.set_rng_state(rng)
    diff, tol = max_diff(ref, got), tolerance(ref)
    if diff <= tol and s0 == s1:
        return diff
    labels = {n: names.get(nid, nid) for n, nid in node_of.items()}
    ref = check_deterministic(model, traced, xs, labels)
    with torch.no_grad():
        got = compiled(*xs)
    diff, tol = max_diff(ref, got), tolerance(ref)
    if diff <= tol:
        return diff
    where = first_difference(traced, compiled, xs, node_of, tol)
    if where:
        nid = where.split(" ", 1)[0]
        where = f"; the first node whose outputs differ is {names.get(nid, nid)!r} " + \
                where.split(" ", 1)[1]
    raise VerificationError(
        f"the imported graph does not compute what {type(model).__name__} computes: the "
        f"outputs differ by {diff:.3g} (allowed {tol:.2g}){where or ''}. Nothing was "
        f"written; please report this with the model, it is a netbuilder import bug")

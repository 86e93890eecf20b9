"""Training-health badges: from probe snapshots (and a failure), decide per node whether its
gradients vanish or explode, whether its ReLUs died, and which node first produced NaN.

    monitor = HealthMonitor()
    monitor.update(snapshot)        # a ProbeSnapshot
    monitor.failed(failed_event)    # a Failed event that names a node
    monitor.badges                  # {node_id: [(kind, message), ...]}

Kinds: "nan", "exploding", "vanishing", "dead_relu". Pure Python (no Qt), so it is tested
directly; the training UI draws the badges on the canvas nodes.

Rules (deliberately simple and explained in the message):
- vanishing: a layer's gradient norm is below VANISH_ABS, or more than VANISH_REL times
  smaller than the largest gradient norm among the layers, on two snapshots in a row;
- exploding: a gradient norm above EXPLODE_ABS or not finite, or an update larger than
  EXPLODE_UPDATE times the weights in one step;
- dead ReLU: at least DEAD_FRACTION of a ReLU's units are zero on every probe sample;
- nan: the first layer (in execution order) whose activations are not finite, or the layer
  a Failed event names.

Inside block instances the badges are at the layers' places ("instance/copy/inner", see
probes.py), judged against every layer of the network; a block instance (at any level)
carries one badge per kind found inside it, so a closed block still shows that something in
it is wrong. `badges_at(badges, levels)` is what an editor showing an opened block draws.
"""
from __future__ import annotations

import math

from ..core.blocks import BLOCK

VANISH_ABS = 1e-7
VANISH_REL = 1e4
EXPLODE_ABS = 1e3
EXPLODE_UPDATE = 1.0
DEAD_FRACTION = 0.5
KINDS = ("nan", "exploding", "vanishing", "dead_relu")


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def assess(snapshot, previous_low: set[str] = frozenset()) -> tuple[dict, set[str]]:
    """(badges, low) for one ProbeSnapshot; `low` are the nodes whose gradients looked
    vanishing on this snapshot (a badge needs two in a row: pass the last `low` back)."""
    badges: dict[str, list[tuple[str, str]]] = {}

    def add(nid, kind, msg):
        badges.setdefault(nid, []).append((kind, msg))

    # a block instance's numbers are its layers' together: its layers are judged, not it
    layers = [lp for lp in snapshot.layers if lp.type != BLOCK]
    for lp in layers:  # execution order: the first non-finite layer is the culprit
        if not all(math.isfinite(v) for v in (lp.mean, lp.std, lp.min, lp.max)):
            add(lp.node_id, "nan", f"{lp.name} produced non-finite values (NaN/inf) first "
                f"at step {snapshot.step}")
            break
    grads = [lp.grad_norm for lp in layers if _finite(lp.grad_norm)]
    top = max(grads, default=0.0)
    low: set[str] = set()
    for lp in layers:
        g = lp.grad_norm
        if g is not None and (not math.isfinite(g) or g > EXPLODE_ABS):
            add(lp.node_id, "exploding", f"exploding gradients: the gradient norm of "
                f"{lp.name} is {g:.3g} at step {snapshot.step}; lower the learning rate, "
                f"clip gradients or add normalization")
        elif lp.update_ratio is not None and _finite(lp.update_ratio) and \
                lp.update_ratio > EXPLODE_UPDATE:
            add(lp.node_id, "exploding", f"one step changed the weights of {lp.name} by "
                f"{lp.update_ratio:.0%} of their size; the learning rate is too high")
        elif g is not None and (g < VANISH_ABS or (top > 0 and g * VANISH_REL < top)):
            low.add(lp.node_id)
            if lp.node_id in previous_low:
                ratio = f", {top / g:.2g}× smaller than the largest" if g > 0 else ""
                add(lp.node_id, "vanishing", f"vanishing gradients: the gradient norm of "
                    f"{lp.name} is {g:.2g}{ratio}; it barely learns. Try ReLU-like "
                    f"activations, normalization or residual connections")
        if lp.dead_fraction is not None and lp.dead_fraction >= DEAD_FRACTION:
            add(lp.node_id, "dead_relu", f"dead ReLUs: {lp.dead_fraction:.0%} of the units "
                f"of {lp.name} output 0 for every probe sample; lower the learning rate "
                f"or try LeakyReLU")
    return roll_up(badges), low


def roll_up(badges: dict) -> dict:
    """`badges` plus, on every block instance holding a badged place, one badge per kind
    that names the first layer inside and how many more there are."""
    inside: dict[str, dict[str, list[str]]] = {}
    for place, found in badges.items():
        parts = place.split("/")
        for end in range(1, len(parts), 2):  # "a/0/b/1/c" is inside "a" and "a/0/b"
            holder = inside.setdefault("/".join(parts[:end]), {})
            for kind, msg in found:
                holder.setdefault(kind, []).append(msg)
    out = {k: list(v) for k, v in badges.items()}
    for holder, kinds in inside.items():
        mine = out.setdefault(holder, [])
        for kind in KINDS:
            msgs = kinds.get(kind)
            if msgs and not any(k == kind for k, _ in mine):
                more = f" (and {len(msgs) - 1} more layer(s) in this block)" \
                    if len(msgs) > 1 else ""
                mine.append((kind, f"inside this block: {msgs[0]}{more}"))
    return out


def badges_at(badges: dict, levels) -> dict:
    """The badges of the graph shown after opening `levels`, [(instance id, copy), ...]
    from the top ([] = the top graph), keyed by that graph's node ids."""
    prefix = "".join(f"{instance}/{copy}/" for instance, copy in levels)
    return {place[len(prefix):]: found for place, found in badges.items()
            if place.startswith(prefix) and "/" not in place[len(prefix):]}


class HealthMonitor:
    """The current badges of a run: the latest snapshot's findings plus a failure's node."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.badges: dict[str, list[tuple[str, str]]] = {}
        self._low: set[str] = set()
        self._nan: dict[str, list[tuple[str, str]]] = {}

    def update(self, snapshot) -> dict:
        found, self._low = assess(snapshot, self._low)
        if any(k == "nan" for v in found.values() for k, _ in v) and not self._nan:
            self._nan = {nid: [b for b in v if b[0] == "nan"] for nid, v in found.items()
                         if any(k == "nan" for k, _ in v)}
        for nid, v in self._nan.items():  # the first NaN stays marked for the run
            found.setdefault(nid, [])
            for b in v:
                if b not in found[nid]:
                    found[nid].insert(0, b)
        self.badges = found
        return self.badges

    def failed(self, event) -> dict:
        """A Failed event that names the first non-finite layer marks it (and the blocks
        holding it)."""
        if event.node_id:
            msg = event.message.split(". ")[0]
            badges = {k: [b for b in v if b[0] != "nan"] for k, v in self.badges.items()}
            badges.setdefault(event.node_id, []).insert(0, ("nan", msg))
            self.badges = {k: v for k, v in roll_up(badges).items() if v}
            self._nan = {k: [b for b in v if b[0] == "nan"] for k, v in self.badges.items()
                         if any(b[0] == "nan" for b in v)}
        return self.badges

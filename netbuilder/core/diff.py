"""What changed between two versions of a project: nodes, wires, parameters, training
settings and the dataset (no Qt, no torch).

    d = diff_projects(old, new)
    d.empty                  # True when nothing a model or a run depends on differs
    d.lines()                # one sentence per change, for `netbuilder diff`
    d.node_status(node_id)   # "added" | "changed" | None, for the canvas overlay

Nodes are matched by id: a project's ids are stable through edits, saves and sweeps (a
trial's snapshot is a copy), so the same id is the same layer. A node whose type changed
under the same id is reported as removed and added, since none of its parameters carry
over. Positions are left out: moving a box changes no model. Parameters are compared with
the layer's defaults filled in, so a value written out and the same value left at its
default are equal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import registry
from .graph import Edge, Graph, Node
from .project import Project

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass(frozen=True)
class ValueChange:
    name: str  # a parameter, "name", or a training setting
    old: object
    new: object

    def text(self) -> str:
        return f"{self.name}: {_show(self.old)} → {_show(self.new)}"


@dataclass
class ProjectDiff:
    added: list[Node] = field(default_factory=list)  # nodes of the new version only
    removed: list[Node] = field(default_factory=list)  # nodes of the old version only
    changed: dict[str, list[ValueChange]] = field(default_factory=dict)  # id -> changes
    wires_added: list[str] = field(default_factory=list)  # "a.out → b.in", new names
    wires_removed: list[str] = field(default_factory=list)  # old names
    settings: list[ValueChange] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)  # block definitions, as sentences
    dataset: ValueChange | None = None
    names: dict[str, str] = field(default_factory=dict)  # id -> name in the new version

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.wires_added
                    or self.wires_removed or self.settings or self.blocks or self.dataset)

    def node_status(self, node_id: str) -> str | None:
        if any(n.id == node_id for n in self.added):
            return ADDED
        return CHANGED if node_id in self.changed else None

    def lines(self) -> list[str]:
        out = [f"+ node {_label(n)}" for n in self.added]
        out += [f"- node {_label(n)}" for n in self.removed]
        for nid, changes in self.changed.items():
            out += [f"~ node {self.names.get(nid, nid)!r} ({nid}): {c.text()}" for c in changes]
        out += [f"+ wire {w}" for w in self.wires_added]
        out += [f"- wire {w}" for w in self.wires_removed]
        out += [f"~ {b}" for b in self.blocks]
        out += [f"~ training {c.text()}" for c in self.settings]
        if self.dataset is not None:
            out.append(f"~ {self.dataset.text()}")
        return out

    def summary(self) -> str:
        if self.empty:
            return "no differences"
        parts = [(len(self.added), "node(s) added"), (len(self.removed), "removed"),
                 (len(self.changed), "changed"),
                 (len(self.wires_added) + len(self.wires_removed), "wire change(s)"),
                 (len(self.settings), "training setting(s)")]
        text = ", ".join(f"{n} {what}" for n, what in parts if n)
        if self.blocks:
            text += (", " if text else "") + f"{len(self.blocks)} block definition change(s)"
        if self.dataset is not None:
            text += (", " if text else "") + "another dataset"
        return text


def diff_projects(old: Project, new: Project) -> ProjectDiff:
    d = ProjectDiff(names={n.id: n.name for n in new.graph.nodes.values()})
    _diff_graphs(old.graph, new.graph, d)
    for name, definition in sorted(new.graph.blocks.to_dict().items()):
        before = old.graph.blocks.to_dict().get(name)
        if before is None:
            d.blocks.append(f"block definition {name!r} added")
        elif _definition_key(before) != _definition_key(definition):
            d.blocks.append(f"block definition {name!r} changed")
    for name in sorted(set(old.graph.blocks.to_dict()) - set(new.graph.blocks.to_dict())):
        d.blocks.append(f"block definition {name!r} removed")
    a, b = old.training.model_dump(), new.training.model_dump()
    d.settings = [ValueChange(k, a.get(k), b[k]) for k in b if a.get(k) != b[k]]
    da = old.dataset.model_dump() if old.dataset else None
    db = new.dataset.model_dump() if new.dataset else None
    if da != db:
        d.dataset = ValueChange("dataset", _dataset_text(da), _dataset_text(db))
    return d


def _diff_graphs(old: Graph, new: Graph, d: ProjectDiff) -> None:
    for nid, node in new.nodes.items():
        before = old.nodes.get(nid)
        if before is None or before.type != node.type:
            d.added.append(node)
            if before is not None:
                d.removed.append(before)
            continue
        changes = [ValueChange("name", before.name, node.name)] if before.name != node.name \
            else []
        pa, pb = _params(before), _params(node)
        changes += [ValueChange(k, pa.get(k), pb.get(k)) for k in dict.fromkeys([*pa, *pb])
                    if pa.get(k) != pb.get(k)]
        if changes:
            d.changed[nid] = changes
    d.removed += [n for nid, n in old.nodes.items() if nid not in new.nodes]
    same_type = {nid for nid in new.nodes if nid in old.nodes
                 and old.nodes[nid].type == new.nodes[nid].type}
    # a wire of a replaced node is a different wire even when the ids read the same
    ea = {e for e in old.edges if e.src in same_type and e.dst in same_type}
    eb = {e for e in new.edges if e.src in same_type and e.dst in same_type}
    d.wires_added = [_wire(new, e) for e in new.edges if e not in ea]
    d.wires_removed = [_wire(old, e) for e in old.edges if e not in eb]


def _params(node: Node) -> dict:
    try:
        defaults = {p.name: p.default for p in registry.get(node.type).params}
    except registry.RegistryError:
        defaults = {}
    return {**defaults, **node.params}


def _definition_key(definition: dict):
    """A block definition without its layout."""
    nodes = sorted((n["id"], n["type"], n["name"], repr(sorted(n["params"].items())))
                   for n in definition.get("nodes", []))
    edges = sorted(tuple(sorted(e.items())) for e in definition.get("edges", []))
    return nodes, edges


def _wire(graph: Graph, e: Edge) -> str:
    def end(nid: str, port: str) -> str:
        node = graph.nodes.get(nid)
        return f"{node.name if node else nid}.{port}"

    return f"{end(e.src, e.src_port)} → {end(e.dst, e.dst_port)}"


def _label(node: Node) -> str:
    return f"{node.name!r} ({node.type}, {node.id})"


def _dataset_text(d: dict | None) -> str:
    if d is None:
        return "none"
    opts = ", ".join(f"{k}={v}" for k, v in sorted(d.get("options", {}).items()))
    return d["name"] + (f" ({opts})" if opts else "")


def _show(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, str):
        return v
    if v is None:
        return "(none)"
    return str(v)


__all__ = ["diff_projects", "ProjectDiff", "ValueChange", "ADDED", "REMOVED", "CHANGED"]

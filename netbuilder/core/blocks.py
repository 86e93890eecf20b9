"""Blocks: named subgraphs defined once per project and used as nodes.

A *definition* is an ordinary `Graph` kept in the project's `BlockLibrary` under a name.
Its ports are `BlockInput` nodes (one per input port, named after the port, in node order)
and one `BlockOutput` node. A `Block` node instantiates a definition (`block` = its name);
`repeat: N` chains N copies with separate weights, so the definition must then have one
input, which the output feeds. Definitions may use other definitions, never themselves.

Editing a definition is editing its Graph with the usual Graph API; every instance follows,
because instances refer to it by name. The library re-emits every edit inside a definition
as `events.changed(name)`, which shape inference and the editor listen to.
This module does not import graph.py (graph.py imports it).
"""
from __future__ import annotations

import itertools
import re
from typing import Iterator

from psygnal import Signal

from .registry import CHOICE, INT, STR, LayerSpec, Param, register

BLOCK, PORT_IN, PORT_OUT = "Block", "BlockInput", "BlockOutput"
SEP = " › "  # between the levels of a place: "layer2 › 1 › conv2"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ \-]{0,63}$")
MAX_REPEAT = 1000
# One counter for every library, so (name, version) never means two contents (cache keys).
_REVISIONS = itertools.count(1)

register(LayerSpec(
    PORT_IN, "Blocks", "An input port of a block definition (the port is named after the "
    "node). dtype and rank say what the port accepts.",
    params=(Param("dtype", CHOICE, "float32", "float32 values or int64 token ids",
                  choices=("float32", "int64")),
            Param("rank", INT, 0, "dimensions including the batch (0 = any)", min=0, max=6)),
    inputs=(), dtypes=("float32", "int64"), tags=frozenset({"port_in"}),
))
register(LayerSpec(
    PORT_OUT, "Blocks", "The output port of a block definition.",
    inputs=("in",), outputs=(), dtypes=("float32", "int64"), tags=frozenset({"port_out"}),
    apply=lambda call, xs, p: xs[0],
))
register(LayerSpec(
    BLOCK, "Blocks", "An instance of a block definition of this project; repeat N chains N "
    "copies, each with its own weights.",
    params=(Param("block", STR, "", "name of the block definition"),
            Param("repeat", INT, 1, "copies chained one after another", min=1,
                  max=MAX_REPEAT)),
    apply=lambda call, xs, p: call(*xs), dtypes=("float32", "int64"),
    key_params=("block", "repeat"), tags=frozenset({"block"}),
))


def output_port_names(names: list[str]) -> tuple[str, ...]:
    """A block's output ports from its BlockOutput nodes' names (in node order): one output
    is "out", as every layer's; with several (features and a skip) each port is named
    after its node."""
    return ("out",) if len(names) <= 1 else tuple(names)


def repeat_refusal(name: str, repeat: int, ins: list, outs: list) -> str:
    """Why an instance of definition `name` cannot repeat (the analysis puts the instance's
    place in front): each copy's one output feeds the next copy's one input."""
    def ports(nodes, what):
        names = ", ".join(n.name for n in nodes)
        return f"{len(nodes)} {what}{'s' if len(nodes) != 1 else ''}" + \
            (f" ({names})" if nodes else "")

    return (f"repeat {repeat} feeds each copy's output into the next copy's input, so block "
            f"{name!r} needs exactly one BlockInput and one BlockOutput, but it has "
            f"{ports(ins, 'input')} and {ports(outs, 'output')}; set repeat to 1 and chain "
            f"separate instances instead")


class BlockError(ValueError):
    """A block operation that cannot be done; the message is meant for a person."""


class BlockEvents:
    defined = Signal(str)  # a definition was added (or put back)
    removed = Signal(str)  # a definition was taken out
    renamed = Signal(str, str)  # old name, new name
    changed = Signal(str)  # something inside definition `name` changed


class BlockLibrary:
    """The definitions of one project, by name. Owned by the root Graph; every definition
    graph has `blocks` pointing here too."""

    def __init__(self, owner) -> None:
        self.owner = owner  # the root Graph
        self.events = BlockEvents()
        self._defs: dict[str, object] = {}
        self.versions: dict[str, int] = {}  # a new revision on every edit inside a definition
        self._hooks: dict[str, object] = {}

    # ---- queries ---------------------------------------------------------------------------

    def __contains__(self, name) -> bool:
        return name in self._defs

    def __getitem__(self, name: str):
        try:
            return self._defs[name]
        except (KeyError, TypeError):
            raise BlockError(f"no block definition named {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._defs)

    def __len__(self) -> int:
        return len(self._defs)

    def names(self) -> list[str]:
        return list(self._defs)

    def port_nodes(self, name: str) -> tuple[list, list]:
        g = self._defs.get(name)
        if g is None:
            return [], []
        return ([n for n in g.nodes.values() if n.type == PORT_IN],
                [n for n in g.nodes.values() if n.type == PORT_OUT])

    def input_ports(self, name) -> tuple[str, ...]:
        ins, _ = self.port_nodes(name)
        return tuple(n.name for n in ins) if name in self._defs else ("in",)

    def output_ports(self, name) -> tuple[str, ...]:
        _, outs = self.port_nodes(name)
        return output_port_names([n.name for n in outs])

    def uses(self, name: str) -> list[str]:
        """Definitions used directly inside `name`, in node order, each once."""
        g = self._defs.get(name)
        if g is None:
            return []
        return list(dict.fromkeys(n.params["block"] for n in g.nodes.values()
                                  if n.type == BLOCK))

    def cycle(self, name: str) -> list[str] | None:
        """The definitions of a cycle reachable from `name` ([A, B, A]), or None."""
        path: list[str] = []
        state: dict[str, int] = {}  # 1 = on the path, 2 = done

        def visit(n):
            state[n] = 1
            path.append(n)
            for m in self.uses(n):
                if state.get(m) == 1:
                    return path[path.index(m):] + [m]
                if m not in state and m in self._defs:
                    found = visit(m)
                    if found:
                        return found
            path.pop()
            state[n] = 2
            return None

        return visit(name) if name in self._defs else None

    def closure(self, name: str) -> list[str]:
        """`name` and every definition it uses, directly or not (each once)."""
        seen: dict[str, None] = {}
        stack = [name]
        while stack:
            n = stack.pop()
            if n in seen or n not in self._defs:
                continue
            seen[n] = None
            stack.extend(self.uses(n))
        return list(seen)

    def deep_key(self, name: str) -> tuple:
        """Changes whenever `name` or anything it uses is edited (cache keys)."""
        return tuple((n, self.versions.get(n, 0)) for n in sorted(self.closure(name)))

    def name_of(self, graph) -> str | None:
        for name, g in self._defs.items():
            if g is graph:
                return name
        return None

    def check_use(self, graph, used: str) -> None:
        """Refuse a Block of `used` inside `graph` when that would nest recursively."""
        holder = self.name_of(graph)
        if holder is None or used not in self._defs:
            return
        if holder == used or holder in self.closure(used):
            path = self._path(used, holder) or [used]
            loop = SEP.join([holder, *path]) if path[-1] == holder else SEP.join([holder, used])
            raise BlockError(f"block {holder!r} cannot contain {used!r}: that would nest "
                             f"recursively ({loop})")

    def _path(self, start: str, goal: str) -> list[str] | None:
        """Definitions from start to goal through uses (start first), or None."""
        stack, seen = [[start]], set()
        while stack:
            path = stack.pop()
            if path[-1] == goal:
                return path
            for m in self.uses(path[-1]):
                if m not in seen:
                    seen.add(m)
                    stack.append(path + [m])
        return None

    def instances(self, name: str) -> list[tuple[str | None, object]]:
        """(definition holding it or None for the root graph, Block node) of every use."""
        out = [(None, n) for n in self.owner.nodes.values()
               if n.type == BLOCK and n.params["block"] == name]
        for d, g in self._defs.items():
            out.extend((d, n) for n in g.nodes.values()
                       if n.type == BLOCK and n.params["block"] == name)
        return out

    def used(self) -> list[str]:
        """Definitions the root graph needs, directly or not, in first-use order."""
        out: dict[str, None] = {}
        for n in self.owner.nodes.values():
            if n.type == BLOCK:
                for d in self.closure(n.params["block"]):
                    out.setdefault(d, None)
        return list(out)

    # ---- edits (each undone by its inverse: define <-> remove, rename <-> rename) -------

    def check_name(self, name: str) -> None:
        if not isinstance(name, str) or not NAME_RE.match(name) or name != name.strip():
            raise BlockError(f"block name {name!r} must start with a letter and use letters, "
                             f"digits, spaces, '-' or '_' (at most 64)")

    def define(self, name: str, graph=None):
        """Add a definition (a new empty one when `graph` is None) and return its Graph."""
        self.check_name(name)
        if name in self._defs:
            raise BlockError(f"a block named {name!r} already exists")
        if graph is None:
            graph = type(self.owner)(blocks=self)
        elif graph.blocks is not self:
            if len(graph.blocks) and graph.blocks.owner is graph:
                raise BlockError("a definition cannot have block definitions of its own")
            graph.blocks = self
            for n in graph.nodes.values():
                n.library = self
        self._defs[name] = graph
        self.versions[name] = next(_REVISIONS)
        self._listen(name, graph)
        self.events.defined.emit(name)
        return graph

    def remove(self, name: str):
        """Take a definition out (instances then report it missing); returns its Graph."""
        graph = self[name]
        self._unlisten(name, graph)
        del self._defs[name]
        self.versions[name] = next(_REVISIONS)
        self.events.removed.emit(name)
        return graph

    def rename(self, old: str, new: str) -> None:
        """Rename a definition and every instance's `block` parameter."""
        graph = self[old]
        if new == old:
            return
        self.check_name(new)
        if new in self._defs:
            raise BlockError(f"a block named {new!r} already exists")
        users = self.instances(old)
        self._unlisten(old, graph)
        self._defs = {(new if k == old else k): v for k, v in self._defs.items()}
        self.versions.pop(old, None)
        self.versions[new] = next(_REVISIONS)
        self._listen(new, graph)
        for holder, node in users:
            g = self.owner if holder is None else self._defs[new if holder == old else holder]
            g.set_params(node.id, {"block": new})
        self.events.renamed.emit(old, new)

    def _listen(self, name: str, graph) -> None:
        ports = {n.id: n.name for n in graph.nodes.values() if n.type == PORT_IN}

        def bump(*_):
            self.versions[name] = next(_REVISIONS)
            now = {n.id: n.name for n in graph.nodes.values() if n.type == PORT_IN}
            renamed = {ports[i]: now[i] for i in now if i in ports and ports[i] != now[i]}
            ports.clear()
            ports.update(now)
            if renamed:
                self._rewire(self.name_of(graph) or name, renamed)
            self.events.changed.emit(name)

        ev = graph.events
        for sig in (ev.node_added, ev.node_removed, ev.node_changed, ev.edge_added,
                    ev.edge_removed, ev.reset):
            sig.connect(bump)
        self._hooks[name] = bump

    def _rewire(self, name: str, renamed: dict[str, str]) -> None:
        """A renamed input port: the wires of every instance follow it (renaming it back,
        as an undo does, moves them back)."""
        for holder, node in self.instances(name):
            g = self.owner if holder is None else self._defs[holder]
            moves = [e for e in g.in_edges(node.id) if e.dst_port in renamed]
            taken = {e.dst_port for e in g.in_edges(node.id)} - set(renamed)
            # a wire whose new port is taken stays where it is (reported as stale)
            moves = [e for e in moves if renamed[e.dst_port] not in taken]
            for e in moves:
                g.disconnect(e)
            for e in moves:
                g.connect(e.src, e.dst, e.src_port, renamed[e.dst_port])

    def _unlisten(self, name: str, graph) -> None:
        bump = self._hooks.pop(name)
        ev = graph.events
        for sig in (ev.node_added, ev.node_removed, ev.node_changed, ev.edge_added,
                    ev.edge_removed, ev.reset):
            sig.disconnect(bump)

    # ---- whole library -------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {name: g.to_dict() for name, g in self._defs.items()}

    def signature(self) -> tuple:
        return tuple(sorted((name, g.signature()) for name, g in self._defs.items()))

    def load_dict(self, data: dict) -> None:
        """Replace every definition with already-validated dicts (see project.py)."""
        for name in list(self._defs):
            self._unlisten(name, self._defs.pop(name))
        for name, gd in data.items():
            g = type(self.owner)(blocks=self)
            g.load_dict(gd)
            self._defs[name] = g
            self.versions[name] = next(_REVISIONS)
            self._listen(name, g)

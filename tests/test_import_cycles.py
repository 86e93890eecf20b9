"""The package's structure: no import cycle anywhere in netbuilder/ (imports inside
functions count too), and no module longer than 600 lines."""
from pathlib import Path

import grimp

import netbuilder

MAX_LINES = 600


def cycles(graph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if not w.startswith("netbuilder"):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:  # (worker.py imports itself under `python -m`: not a cycle)
                found.append(sorted(group))

    for m in sorted(graph.modules):
        if m not in index:
            visit(m)
    return found


def test_the_cycle_finder_finds_a_cycle():
    g = grimp.ImportGraph()
    for m in ("netbuilder.a", "netbuilder.b", "netbuilder.c"):
        g.add_module(m)
    g.add_import(importer="netbuilder.a", imported="netbuilder.b")
    g.add_import(importer="netbuilder.b", imported="netbuilder.a")
    g.add_import(importer="netbuilder.b", imported="netbuilder.c")
    assert cycles(g) == [["netbuilder.a", "netbuilder.b"]]


def test_no_import_cycle_in_netbuilder():
    graph = grimp.build_graph("netbuilder", cache_dir=None)
    assert len(graph.modules) > 50  # the whole package was read
    assert cycles(graph) == []


def test_no_module_over_600_lines():
    root = Path(netbuilder.__file__).parent
    long = {str(p.relative_to(root)): n for p in sorted(root.rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}

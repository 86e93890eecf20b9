"""Random edit sequences through the undo commands the canvas uses."""
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtGui import QUndoStack

from netbuilder import examples
from netbuilder.core import registry
from netbuilder.core.analysis import analyze
from netbuilder.core.project import Project, parse_project
from netbuilder.ui.document import commands

TYPES = ["Linear", "ReLU", "Conv2d", "Add", "Concat", "Flatten", "Dropout", "Output",
         "Input", "BatchNorm2d", "LSTM", "Reshape"]


def random_value(param, rnd):
    if param.kind == "bool":
        return rnd.random() < 0.5
    if param.kind == "choice":
        return rnd.choice(param.choices)
    if param.kind == "int":
        lo = int(param.min if param.min is not None else -4)
        hi = int(min(param.max if param.max is not None else 64, lo + 64))
        return rnd.randint(lo - 1, hi)  # sometimes just out of range, like a typo
    if param.kind == "float":
        return round(rnd.uniform(0.0, 1.2), 3)
    if param.kind == "shape":
        return [rnd.randint(1, 8) for _ in range(rnd.randint(1, 3))]
    return "x"


def make_command(graph, op, rnd):
    ids = list(graph.nodes)
    if op == "add" or not ids:
        return commands.AddNode(graph, rnd.choice(TYPES), (rnd.uniform(-500, 500), 0.0))
    nid = rnd.choice(ids)
    node = graph.node(nid)
    if op == "delete":
        return commands.delete_nodes(graph, rnd.sample(ids, min(len(ids), rnd.randint(1, 3))))
    if op == "connect":
        dst = graph.node(rnd.choice(ids))
        srcs = [n for n in graph.nodes.values() if n.output_ports()]
        if not dst.input_ports() or not srcs:
            return None
        src = rnd.choice(srcs)
        return commands.connect_replacing(graph, src.id, dst.id, "out",
                                          rnd.choice(dst.input_ports()))
    if op == "disconnect":
        return commands.Disconnect(graph, rnd.choice(graph.edges)) if graph.edges else None
    if op == "param":
        spec = registry.get(node.type)
        if not spec.params:
            return None
        p = rnd.choice(spec.params)
        return commands.SetParams(graph, nid, {p.name: random_value(p, rnd)})
    if op == "rename":
        return commands.Rename(graph, nid, f"layer {rnd.randint(0, 99)}")
    if op == "move":
        return commands.Move(graph, {nid: (node.pos, (node.pos[0] + 20, node.pos[1] - 40))})
    if op == "duplicate":
        return commands.paste(graph, commands.clipboard_data(graph, [nid]))[0]
    if op == "insert":
        if not graph.edges:
            return None
        return commands.insert_on_wire(graph, rnd.choice(graph.edges),
                                       rnd.choice(["ReLU", "Dropout", "Identity"]), (0, 0))
    raise AssertionError(op)


OPS = ["add", "delete", "connect", "disconnect", "param", "rename", "move", "duplicate",
       "insert"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=25),
       seed=st.integers(0, 2**16), start=st.sampled_from(["digits_cnn", "residual_cnn", ""]))
def test_random_edits_undo_redo_and_save(ops, seed, start, qapp):
    rnd = random.Random(seed)
    project = examples.load(start) if start else Project()
    graph = project.graph
    stack = QUndoStack()
    initial = graph.signature()
    for op in ops:
        cmd = make_command(graph, op, rnd)
        if cmd is not None:
            stack.push(cmd)
    analyze(graph)  # whatever the edits did, analysis explains rather than crashes
    final = graph.signature()
    while stack.canUndo():
        stack.undo()
    assert graph.signature() == initial
    while stack.canRedo():
        stack.redo()
    assert graph.signature() == final
    reloaded = parse_project(project.to_json())
    assert reloaded.graph.signature() == final

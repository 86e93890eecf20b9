import pytest

from netbuilder.core.graph import Graph, GraphError


def recorder(graph):
    seen = []
    ev = graph.events
    ev.node_added.connect(lambda n: seen.append(("node_added", n.id)))
    ev.node_removed.connect(lambda n: seen.append(("node_removed", n.id)))
    ev.node_changed.connect(lambda n, what: seen.append(("node_changed", n.id, what)))
    ev.edge_added.connect(lambda e: seen.append(("edge_added", e.src, e.dst)))
    ev.edge_removed.connect(lambda e: seen.append(("edge_removed", e.src, e.dst)))
    return seen


def test_every_change_emits_an_event():
    g = Graph()
    seen = recorder(g)
    a = g.add_node("Input", params={"shape": [4]})
    b = g.add_node("Linear")
    g.connect(a.id, b.id)
    g.set_param(b.id, "out_features", 8)
    g.rename(b.id, "hidden")
    g.move(b.id, (10, 20))
    g.remove_node(a.id)
    assert seen == [("node_added", a.id), ("node_added", b.id), ("edge_added", a.id, b.id),
                    ("node_changed", b.id, "params"), ("node_changed", b.id, "name"),
                    ("node_changed", b.id, "pos"), ("edge_removed", a.id, b.id),
                    ("node_removed", a.id)]
    assert g.edges == []


def test_ids_are_stable_and_names_unique():
    g = Graph()
    a, b = g.add_node("ReLU"), g.add_node("ReLU")
    assert a.id != b.id and a.name == "ReLU" and b.name == "ReLU 1"
    g.remove_node(a.id)
    c = g.add_node("ReLU")
    assert c.id not in (a.id, b.id)


def test_connect_refuses_what_cannot_be_represented():
    g = Graph()
    a, b, c = g.add_node("Input"), g.add_node("Linear"), g.add_node("Input")
    g.connect(a.id, b.id)
    with pytest.raises(GraphError, match="already connected"):
        g.connect(c.id, b.id, dst_port="in")
    with pytest.raises(GraphError, match="no input port"):
        g.connect(c.id, b.id, dst_port="other")
    with pytest.raises(GraphError, match="no node"):
        g.connect("missing", b.id)
    with pytest.raises(GraphError, match="no parameter"):
        g.set_param(b.id, "units", 3)


def test_merge_ports_follow_num_inputs():
    g = Graph()
    add = g.add_node("Add", params={"num_inputs": 3})
    srcs = [g.add_node("Input") for _ in range(3)]
    for s in srcs:
        g.connect(s.id, add.id)
    assert sorted(e.dst_port for e in g.in_edges(add.id)) == ["in1", "in2", "in3"]
    g.set_param(add.id, "num_inputs", 2)  # the wire into in3 goes away with the port
    assert sorted(e.dst_port for e in g.in_edges(add.id)) == ["in1", "in2"]


def test_dict_round_trip_is_identical():
    g = Graph()
    g.chain(g.add_node("Input", params={"shape": [3]}), ("Linear", {"out_features": 2}),
            "Output")
    assert Graph.from_dict(g.to_dict()).signature() == g.signature()

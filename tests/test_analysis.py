from netbuilder.core.analysis import ERROR, WARNING, analyze
from netbuilder.core.graph import Graph


def codes(problems, severity=None):
    return sorted(p.code for p in problems if severity in (None, p.severity))


def mlp(*middle):
    g = Graph()
    nodes = g.chain(g.add_node("Input", params={"shape": [4]}), *middle, "Output")
    return g, nodes


def test_a_valid_graph_has_no_problems():
    g, _ = mlp(("Linear", {"out_features": 8}), "ReLU", ("Linear", {"out_features": 3}))
    assert analyze(g) == []


def test_missing_input_and_output():
    g = Graph()
    g.add_node("ReLU")
    assert {"no-input", "no-output", "unconnected"} <= set(codes(analyze(g), ERROR))


def test_unconnected_port_names_the_node():
    g, n = mlp("Linear")
    add = g.add_node("Add", name="merge")
    g.connect(n[1].id, add.id)
    probs = [p for p in analyze(g) if p.code == "unconnected"]
    assert len(probs) == 1 and probs[0].node_id == add.id
    assert "merge (Add): input in2 is not connected" in probs[0].message


def test_cycle_is_reported_on_each_member():
    g = Graph()
    a = g.add_node("Input", params={"shape": [4]})
    add = g.add_node("Add")
    lin = g.add_node("Linear", params={"out_features": 4})
    g.connect(a.id, add.id)
    g.connect(add.id, lin.id)
    g.connect(lin.id, add.id)  # back edge
    g.connect(lin.id, g.add_node("Output").id, )
    cyc = [p for p in analyze(g) if p.code == "cycle"]
    assert {p.node_id for p in cyc} == {add.id, lin.id}
    assert "Add → Linear → Add" in cyc[0].message or "Linear → Add → Linear" in cyc[0].message


def test_invalid_parameter_names_value_and_bound():
    g, n = mlp(("Linear", {"out_features": -3}))
    (p,) = [p for p in analyze(g) if p.code == "invalid-param"]
    assert p.node_id == n[1].id and p.param == "out_features"
    assert "must be at least 1, got -3" in p.message


def test_shape_mismatch_is_an_error_with_a_fix():
    g = Graph()
    g.chain(g.add_node("Input", params={"shape": [32, 7, 7]}), "Linear", "Output")
    (p,) = [p for p in analyze(g) if p.code == "shape"]
    assert "N×32×7×7" in p.message and "insert Flatten before it" in p.message


def test_lint_two_linears_without_activation():
    g, n = mlp("Linear", "Dropout", ("Linear", {"out_features": 2}))
    (p,) = [p for p in analyze(g) if p.code == "linear-linear"]
    assert p.severity == WARNING and p.node_id == n[3].id and "ReLU" in p.message


def test_lint_bias_before_batchnorm():
    g = Graph()
    n = g.chain(g.add_node("Input", params={"shape": [1, 8, 8]}), "Conv2d", "BatchNorm2d",
                "ReLU", "Flatten", "Linear", "Output")
    (p,) = [p for p in analyze(g) if p.code == "bias-before-batchnorm"]
    assert p.node_id == n[1].id and p.param == "bias"
    g.set_param(n[1].id, "bias", False)
    assert not [p for p in analyze(g) if p.code == "bias-before-batchnorm"]


def test_lint_dropout_after_output_layer():
    g, n = mlp("Linear", "Dropout")
    (p,) = [p for p in analyze(g) if p.code == "dropout-at-output"]
    assert p.node_id == n[2].id


def test_lint_softmax_before_logit_loss_depends_on_the_loss():
    g, n = mlp(("Linear", {"out_features": 3}), "Softmax")
    assert not [p for p in analyze(g, loss="mse") if p.code == "squash-before-logit-loss"]
    (p,) = [p for p in analyze(g, loss="cross_entropy")
            if p.code == "squash-before-logit-loss"]
    assert p.node_id == n[2].id and "CrossEntropyLoss expects raw scores" in p.message
    (q,) = [p for p in analyze(g, loss="nll") if p.code == "nll-without-logsoftmax"]
    assert "LogSoftmax" in q.message


def test_errors_come_before_warnings():
    g, _ = mlp("Linear", ("Linear", {"out_features": -1}))
    sev = [p.severity for p in analyze(g)]
    assert sev == sorted(sev, key=lambda s: s != ERROR) and ERROR in sev and WARNING in sev
